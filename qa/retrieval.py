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
from vectorstore.store import NewsStore


class KeywordIndexCache:
    """One BM25 index per store (with each chunk's publication day, for date filters on keyword hits),
    rebuilt only when the store's revision changes.

    A local store keeps the index on disk beside Chroma's files, stamped with the store revision, so a new
    process (the CLI, a restarted server) loads it without reading a single chunk from Chroma: at 250k chunks
    reading them all took a minute per process start.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[tuple[int, int], KeywordIndex, dict[str, int]]] = {}

    def get(self, store: NewsStore) -> tuple[KeywordIndex, dict[str, int]]:
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
    def _build(store: NewsStore) -> tuple[KeywordIndex, dict[str, int]]:
        ids, texts, days = [], [], {}
        for cid, text, meta in store.iter_chunks():
            ids.append(cid)
            texts.append(f"{meta.get('title', '')}\n{text}")
            days[cid] = int(meta.get("published_day", 0) or 0)
        return KeywordIndex.build(ids, texts), days

    @staticmethod
    def _load(folder: Path, stamp: str) -> tuple[KeywordIndex, dict[str, int]] | None:
        """The saved index if written for this very revision; None when missing, stale or unreadable."""
        try:
            if (folder / "REVISION").read_text().strip() != stamp:
                return None
            index = KeywordIndex.load(folder)
            days = json.loads((folder / "days.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if set(days) != set(index.ids):
            return None
        return index, {cid: int(day) for cid, day in days.items()}

    @staticmethod
    def _save(folder: Path, stamp: str, index: KeywordIndex, days: dict[str, int]) -> None:
        """Written beside, then swapped in, with the revision stamp last: a crash leaves no stamped half."""
        try:
            tmp = folder.with_name(folder.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            index.save(tmp)
            (tmp / "days.json").write_text(json.dumps(days), encoding="utf-8")
            (tmp / "REVISION").write_text(stamp)
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
        except OSError:
            pass


KEYWORD_CACHE = KeywordIndexCache()


def _date_where(since: date | None, until: date | None) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if since:
        clauses.append({"published_day": {"$gte": day_number(since)}})
    if until:
        clauses.append({"published_day": {"$lte": day_number(until)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _in_range(day: int, since: date | None, until: date | None) -> bool:
    if since and day < day_number(since):
        return False
    return not (until and day > day_number(until))


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
        since: date | None = None,
        until: date | None = None,
        mode: str = "hybrid",
        query_vector: np.ndarray | None = None,
    ) -> list[Passage]:
        """``mode`` is 'hybrid', 'dense' or 'bm25' (the latter two are the eval baselines)."""
        qvec = query_vector if query_vector is not None else self.embedder.encode_queries([query])[0]
        dense: dict[str, float] = {}
        metas: dict[str, dict[str, Any]] = {}
        texts: dict[str, str] = {}
        if mode in ("hybrid", "dense"):
            for cid, text, meta, sim in self.store.query(qvec, self.fetch_k, _date_where(since, until)):
                dense[cid], metas[cid], texts[cid] = sim, meta, text
        bm25: dict[str, float] = {}
        if mode in ("hybrid", "bm25"):
            index, days = KEYWORD_CACHE.get(self.store)
            for cid, score in index.search(query, self.fetch_k * 2, language=language):
                if _in_range(days.get(cid, 0), since, until):
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
        return self._diversify(ranked, k, fused, dense, bm25, texts, metas)

    def _diversify(
        self,
        ranked: Sequence[str],
        k: int,
        fused: dict[str, float],
        dense: dict[str, float],
        bm25: dict[str, float],
        texts: dict[str, str],
        metas: dict[str, dict[str, Any]],
    ) -> list[Passage]:
        """At most ``max_per_article`` chunks per article, and one article per near-duplicate story."""
        per_article: dict[str, int] = {}
        story_owner: dict[str, str] = {}
        out: list[Passage] = []
        for cid in ranked:
            meta = metas[cid]
            doc_id = str(meta.get("doc_id", ""))
            story = str(meta.get("story_id", doc_id)) or doc_id
            if story_owner.setdefault(story, doc_id) != doc_id:
                continue
            if per_article.get(doc_id, 0) >= self.max_per_article:
                continue
            per_article[doc_id] = per_article.get(doc_id, 0) + 1
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
