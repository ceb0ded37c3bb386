"""Hybrid retrieval: dense (e5 via Chroma) + keyword (BM25), fused by a weighted sum of normalised scores.

Why a weighted sum and not reciprocal-rank fusion: for English questions over Indonesian news, BM25 ranks
are mostly noise, and RRF gives noise the same say as the dense ranking. A per-language BM25 weight (tuned on
the dev sets, see docs/benchmarks.md) lets keyword evidence help Indonesian questions without hurting
cross-lingual ones. Each candidate gets an exact dense score (vectors fetched from Chroma for BM25-only
hits), so the fused score is comparable across candidates.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from qa.dates import day_number
from qa.keyword import KeywordIndex
from qa.types import Language, Passage
from vectorstore.dates import UNKNOWN_DAY
from vectorstore.store import NewsStore


@dataclass(frozen=True)
class ArticleFilter:
    """Which articles a search may return: published ``since``..``until`` (inclusive, either open) and, when
    ``outlets`` is not empty, from one of those outlets (names as the store holds them).

    Applied inside both retrievers before fusion: as Chroma's ``where`` for dense search and on each BM25 hit
    (``admits``), both through ``day_number``, so the two agree on every chunk. An undated article is in no
    date range.
    """

    since: date | None = None
    until: date | None = None
    outlets: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.outlets)

    def where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.since or self.until:  # an undated article (day 0) is in no range, open-ended ones included
            clauses.append({"published_day": {"$gte": day_number(self.since) if self.since else 1}})
        if self.until:
            clauses.append({"published_day": {"$lte": day_number(self.until)}})
        if self.outlets:
            clauses.append({"outlet": {"$in": list(self.outlets)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def admits(self, day: int, outlet: str) -> bool:
        if (self.since or self.until) and day == UNKNOWN_DAY:
            return False
        if self.since and day < day_number(self.since):
            return False
        if self.until and day > day_number(self.until):
            return False
        return not (self.outlets and outlet not in self.outlets)


@dataclass
class ChunkFacets:
    """Each chunk's publication day and outlet: keyword hits are filtered as Chroma filters dense ones."""

    days: dict[str, int]
    outlets: dict[str, str]

    def admits(self, cid: str, where: ArticleFilter) -> bool:
        return where.admits(self.days.get(cid, UNKNOWN_DAY), self.outlets.get(cid, ""))


class KeywordIndexCache:
    """One BM25 index per store (with each chunk's facets, for filters on keyword hits), rebuilt only when
    the store's revision changes.

    A local store keeps the index on disk beside Chroma's files, stamped with the store revision, so a new
    process (the CLI, a restarted server) loads it without reading a single chunk from Chroma: at 250k chunks
    reading them all took a minute per process start.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[tuple[int, int], KeywordIndex, ChunkFacets]] = {}

    def get(self, store: NewsStore) -> tuple[KeywordIndex, ChunkFacets]:
        revision = store.revision()
        with self._lock:
            hit = self._cache.get(id(store))
            if hit and hit[0] == revision:
                return hit[1], hit[2]
            folder = store.local_path / f"bm25-{store.name}" if store.local_path else None
            stamp = f"{revision[0]}-{revision[1]}"
            loaded = self._load(folder, stamp) if folder is not None else None
            if loaded is None:
                loaded = self._build(store)
                if folder is not None:
                    self._save(folder, stamp, *loaded)
            self._cache[id(store)] = (revision, *loaded)
            return loaded

    @staticmethod
    def _build(store: NewsStore) -> tuple[KeywordIndex, ChunkFacets]:
        ids, texts, facets = [], [], ChunkFacets({}, {})
        for cid, text, meta in store.iter_chunks():
            ids.append(cid)
            texts.append(f"{meta.get('title', '')}\n{text}")
            facets.days[cid] = int(meta.get("published_day", 0) or 0)
            facets.outlets[cid] = str(meta.get("outlet", ""))
        return KeywordIndex.build(ids, texts), facets

    @staticmethod
    def _load(folder: Path, stamp: str) -> tuple[KeywordIndex, ChunkFacets] | None:
        """The saved index if written for this very revision; None when missing, stale or unreadable."""
        try:
            if (folder / "REVISION").read_text().strip() != stamp:
                return None
            index = KeywordIndex.load(folder)
            raw = json.loads((folder / "facets.json").read_text(encoding="utf-8"))
            facets = ChunkFacets({k: int(v) for k, v in raw["days"].items()}, dict(raw["outlets"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        if set(facets.days) != set(index.ids):
            return None
        return index, facets

    @staticmethod
    def _save(folder: Path, stamp: str, index: KeywordIndex, facets: ChunkFacets) -> None:
        """Written beside, then swapped in, with the revision stamp last: a crash leaves no stamped half."""
        try:
            tmp = folder.with_name(folder.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            index.save(tmp)
            payload = {"days": facets.days, "outlets": facets.outlets}
            (tmp / "facets.json").write_text(json.dumps(payload), encoding="utf-8")
            (tmp / "REVISION").write_text(stamp)
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
        except OSError:
            pass


KEYWORD_CACHE = KeywordIndexCache()


def _minmax(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    span = hi - lo
    return {k: (v - lo) / span if span > 1e-9 else 1.0 for k, v in values.items()}


class HybridSearcher:
    """Retrieves passages for a query; pure Python so that the pipeline, eval and benchmarks share it."""

    def __init__(
        self,
        store: NewsStore,
        embedder: Any,
        *,
        fetch_k: int = 40,
        bm25_weights: dict[str, float],
        max_per_article: int = 2,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.fetch_k = fetch_k
        self.bm25_weights = bm25_weights  # per question language, from Settings (no defaults of its own)
        self.max_per_article = max_per_article

    def search(
        self,
        query: str,
        language: Language,
        k: int,
        where: ArticleFilter | None = None,
        mode: str = "hybrid",
        query_vector: np.ndarray | None = None,
        per_article: int | None = None,
    ) -> list[Passage]:
        """``mode`` is 'hybrid', 'dense' or 'bm25' (the latter two are the eval baselines). ``where`` limits
        both retrievers to the articles it admits; ``per_article`` overrides ``max_per_article`` (a filter
        that admits few articles leaves their other chunks as the only candidates)."""
        where = where or ArticleFilter()
        qvec = query_vector if query_vector is not None else self.embedder.encode_queries([query])[0]
        dense: dict[str, float] = {}
        metas: dict[str, dict[str, Any]] = {}
        texts: dict[str, str] = {}
        if mode in ("hybrid", "dense"):
            for cid, text, meta, sim in self.store.query(qvec, self.fetch_k, where.where()):
                dense[cid], metas[cid], texts[cid] = sim, meta, text
        bm25: dict[str, float] = {}
        if mode in ("hybrid", "bm25"):
            index, facets = KEYWORD_CACHE.get(self.store)
            # A filter leaves fewer hits per fetched one: fetch more so that BM25 still offers fetch_k.
            for cid, score in index.search(query, self.fetch_k * (8 if where else 2), language=language):
                if facets.admits(cid, where):
                    bm25[cid] = score
                if len(bm25) >= self.fetch_k:
                    break
        missing = [cid for cid in bm25 if cid not in texts]
        if missing:
            for cid, text, meta, vec in self.store.get_with_embeddings(missing):
                texts[cid], metas[cid] = text, meta
                dense[cid] = float(np.dot(vec, qvec))
        if mode == "dense":
            fused = dict(dense)
        elif mode == "bm25":
            fused = dict(bm25)
        else:
            w = self.bm25_weights[language] if bm25 else 0.0
            dn = _minmax(dense)
            top_bm25 = max(bm25.values()) if bm25 else 1.0
            fused = {cid: (1 - w) * dn.get(cid, 0.0) + w * bm25.get(cid, 0.0) / top_bm25 for cid in texts}
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)
        return self._diversify(
            ranked, k, fused, dense, bm25, texts, metas, per_article or self.max_per_article
        )

    def _diversify(
        self,
        ranked: Sequence[str],
        k: int,
        fused: dict[str, float],
        dense: dict[str, float],
        bm25: dict[str, float],
        texts: dict[str, str],
        metas: dict[str, dict[str, Any]],
        per_article: int,
    ) -> list[Passage]:
        """At most ``per_article`` chunks per article, and one article per near-duplicate story."""
        taken: dict[str, int] = {}
        story_owner: dict[str, str] = {}
        out: list[Passage] = []
        for cid in ranked:
            meta = metas[cid]
            doc_id = str(meta.get("doc_id", ""))
            story = str(meta.get("story_id", doc_id)) or doc_id
            if story_owner.setdefault(story, doc_id) != doc_id:
                continue
            if taken.get(doc_id, 0) >= per_article:
                continue
            taken[doc_id] = taken.get(doc_id, 0) + 1
            out.append(
                Passage(
                    chunk_id=cid,
                    doc_id=doc_id,
                    text=texts[cid],
                    start=int(meta.get("start", 0)),
                    end=int(meta.get("end", 0)),
                    score=float(fused[cid]),
                    title=str(meta.get("title", "")),
                    outlet=str(meta.get("outlet", "")),
                    published=str(meta.get("published", "")),
                    url=str(meta.get("url", "")),
                    story_id=story,
                    sentence_spans=tuple(tuple(s) for s in json.loads(meta.get("sentences", "[]"))),
                    dense_score=float(dense.get(cid, 0.0)),
                    bm25_score=float(bm25.get(cid, 0.0)),
                )
            )
            if len(out) >= k:
                break
        return out


class NewsRetriever(BaseRetriever):
    """The hybrid searcher as a LangChain retriever, for use in LangChain chains and agents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: HybridSearcher
    language: Language | None = None
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        from qa.language import detect_language

        language = self.language or detect_language(query)
        return [
            Document(
                page_content=p.text,
                id=p.chunk_id,
                metadata={
                    "doc_id": p.doc_id,
                    "title": p.title,
                    "outlet": p.outlet,
                    "published": p.published,
                    "url": p.url,
                    "start": p.start,
                    "end": p.end,
                    "score": p.score,
                },
            )
            for p in self.searcher.search(query, language, self.k)
        ]
