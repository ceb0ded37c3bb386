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
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
from qa.keyword import KeywordIndex, read_manifest
from qa.types import Language, Passage
from vectorstore.dates import UNKNOWN_DAY
from vectorstore.store import NewsStore, StoreChange, register_change_hook


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


class ChunkFacets:
    """Each chunk's publication day and outlet, read from the keyword index's columns: keyword hits are
    filtered as Chroma filters dense ones."""

    def __init__(self, index: KeywordIndex) -> None:
        self._index = index

    def admits(self, cid: str, where: ArticleFilter) -> bool:
        day = int(self._index.value(cid, "day", UNKNOWN_DAY) or UNKNOWN_DAY)
        return where.admits(day, str(self._index.value(cid, "outlet", "")))

    @property
    def days(self) -> dict[str, int]:
        return {cid: int(self._index.value(cid, "day", UNKNOWN_DAY)) for cid in self._index.ids}

    @property
    def outlets(self) -> dict[str, str]:
        return {cid: str(self._index.value(cid, "outlet", "")) for cid in self._index.ids}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChunkFacets):
            return NotImplemented
        return self.days == other.days and self.outlets == other.outlets

    __hash__ = None  # type: ignore[assignment]


def _store_key(store: NewsStore) -> tuple[str, str]:
    """Stores that are the same data share one cached index, whichever handle (upload, service) asks."""
    if store.local_path is not None:
        return str(Path(store.local_path).resolve()), store.name
    try:
        conf = store.client.get_settings()
        where = f"{conf.chroma_server_host}:{conf.chroma_server_http_port}"
    except Exception:  # an unusual client: one cache entry per handle
        where = f"client-{id(store.client)}"
    return where, store.name


def _index_folder(store: NewsStore) -> Path | None:
    folder = getattr(store, "keyword_dir", store.local_path)
    return Path(folder) / f"bm25-{store.name}" if folder is not None else None


class KeywordIndexCache:
    """One BM25 index per store, kept in step with the store's revision without rebuilding it.

    * A process that changes the store (ingest, delete) hands the change to ``apply`` (a NewsStore change
      hook): the index gets a small new segment and tombstones, is saved beside the store stamped with the
      new revision, and the next query uses it. A 100-article ingest into a 1M-chunk store then costs
      seconds instead of a 10-minute rebuild (docs/benchmarks.md).
    * Any other process (a replica, the CLI, a restarted server) that sees a revision loads the saved index
      stamped with it, reusing the segments it already holds; only with no saved copy of that revision
      (first use, a writer without the hook, a store written by an older version) is the index rebuilt
      from the store's chunks.

    The saved copy lives in ``store.keyword_dir`` (beside a local store; for a Chroma server, a folder the
    replicas share, when one is configured).
    """

    def __init__(self, max_segments: int = 8) -> None:
        self.max_segments = max_segments
        self._lock = threading.RLock()
        self._cache: dict[tuple[str, str], tuple[tuple[int, int], KeywordIndex, ChunkFacets]] = {}

    def get(self, store: NewsStore) -> tuple[KeywordIndex, ChunkFacets]:
        revision = store.revision()
        key = _store_key(store)
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] == revision:
                return hit[1], hit[2]
            folder = _index_folder(store)
            index = self._load(folder, revision, hit[1] if hit else None) if folder is not None else None
            if index is None:
                index = self._build(store)
                if folder is not None:
                    self._save(folder, revision, index)
            facets = ChunkFacets(index)
            self._cache[key] = (revision, index, facets)
            return index, facets

    def apply(self, store: NewsStore, change: StoreChange) -> None:
        """Bring the index of ``change.base`` up to ``change.revision`` with the chunks this process wrote.

        Does nothing (the next ``get`` rebuilds, as before) when no index of the base revision is at hand or
        when the result does not hold as many chunks as the store: another writer got in between.
        """
        if change.base is None or change.overflow:
            return
        key, folder = _store_key(store), _index_folder(store)
        with self._lock:
            hit = self._cache.get(key)
            base = hit[1] if hit and hit[0] == change.base else None
            if base is None and folder is not None:
                base = self._load(folder, change.base, hit[1] if hit else None)
            if base is None:
                return
            ids = list(change.added)
            texts = [f"{meta.get('title', '')}\n{text}" for text, meta in change.added.values()]
            index = base.delete(sorted(change.deleted - change.added.keys())).add(
                ids, texts, _columns(meta for _, meta in change.added.values())
            )
            index = index.merged(self.max_segments)
            if len(index) != change.revision[1]:
                return
            if folder is not None:
                self._save(folder, change.revision, index)
            self._cache[key] = (change.revision, index, ChunkFacets(index))

    @staticmethod
    def _build(store: NewsStore) -> KeywordIndex:
        ids, texts, metas = [], [], []
        for cid, text, meta in store.iter_chunks():
            ids.append(cid)
            texts.append(f"{meta.get('title', '')}\n{text}")
            metas.append(meta)
        return KeywordIndex.build(ids, texts, _columns(metas))

    @staticmethod
    def _load(folder: Path, revision: tuple[int, int], reuse: KeywordIndex | None) -> KeywordIndex | None:
        """The saved index if written for this very revision; None when missing, stale or unreadable."""
        manifest = read_manifest(folder)
        if manifest is None or manifest.get("revision") != list(revision):
            return None
        try:
            return KeywordIndex.load(folder, reuse=reuse)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    @staticmethod
    def _save(folder: Path, revision: tuple[int, int], index: KeywordIndex) -> None:
        """New segments first, the manifest (with the revision) last: a crash leaves the old index whole."""
        try:
            if (folder / "REVISION").exists():  # a whole-index copy from before segments: replaced
                shutil.rmtree(folder, ignore_errors=True)
            index.save(folder, extra={"revision": list(revision)})
        except OSError:
            pass


def _columns(metas: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    """The facets stored with each chunk in the keyword index: publication day and outlet."""
    days: list[int] = []
    outlets: list[str] = []
    for meta in metas:
        days.append(int(meta.get("published_day", 0) or 0))
        outlets.append(str(meta.get("outlet", "")))
    return {"day": days, "outlet": outlets}


KEYWORD_CACHE = KeywordIndexCache()
register_change_hook(KEYWORD_CACHE.apply)


def _minmax(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    span = hi - lo
    return {k: (v - lo) / span if span > 1e-9 else 1.0 for k, v in values.items()}


class HybridSearcher:
    """Retrieves passages for a query; pure Python so that the pipeline, eval and benchmarks share it.

    The dense query (Chroma) and the BM25 query run at the same time (``parallel``, the default): both spend
    their time in code that releases the GIL (Chroma's Rust core and SQLite; numpy), so on 2 cores a hybrid
    search costs about the slower of the two instead of their sum (docs/benchmarks.md, "Scale: up to 1M
    chunks"). One small pool is shared by every searcher in the process.
    """

    _pool: ThreadPoolExecutor | None = None
    _pool_lock = threading.Lock()

    def __init__(
        self,
        store: NewsStore,
        embedder: Any,
        *,
        fetch_k: int = 40,
        bm25_weights: dict[str, float],
        max_per_article: int = 2,
        parallel: bool = True,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.fetch_k = fetch_k
        self.bm25_weights = bm25_weights  # per question language, from Settings (no defaults of its own)
        self.max_per_article = max_per_article
        self.parallel = parallel

    @classmethod
    def _executor(cls) -> ThreadPoolExecutor:
        """Created on first use; 4 workers: BM25 jobs of concurrent chat users queue rather than pile up."""
        with cls._pool_lock:
            if cls._pool is None:
                cls._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bm25")
            return cls._pool

    def _bm25(self, query: str, language: Language, where: ArticleFilter) -> dict[str, float]:
        """Keyword candidates (id -> raw BM25), at most fetch_k, all admitted by ``where``."""
        index, facets = KEYWORD_CACHE.get(self.store)
        # A filter leaves fewer hits per fetched one: fetch more so that BM25 still offers fetch_k.
        hits = index.search(query, self.fetch_k * (8 if where else 2), language=language)
        bm25: dict[str, float] = {}
        for cid, score in hits:
            if not where or facets.admits(cid, where):
                bm25[cid] = score
            if len(bm25) >= self.fetch_k:
                break
        return bm25

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
        # BM25 starts first, in the pool; if the dense side raises, its result is simply never read.
        pending = None
        if mode == "hybrid" and self.parallel:
            pending = self._executor().submit(self._bm25, query, language, where)
        qvec = query_vector if query_vector is not None else self.embedder.encode_queries([query])[0]
        dense: dict[str, float] = {}
        if mode in ("hybrid", "dense"):
            dense = dict(self.store.query_ids(qvec, self.fetch_k, where.where()))
        bm25: dict[str, float] = {}
        if pending is not None:
            bm25 = pending.result()
        elif mode in ("hybrid", "bm25"):
            bm25 = self._bm25(query, language, where)
        # Keyword-only hits get an exact dense score (their vectors, not their texts: see _diversify).
        missing = [cid for cid in bm25 if cid not in dense]
        if missing:
            for cid, vec in self.store.get_embeddings(missing).items():
                dense[cid] = float(np.dot(vec, qvec))
        if mode == "dense":
            fused = dict(dense)
        elif mode == "bm25":
            fused = {cid: score for cid, score in bm25.items() if cid in dense}
        else:
            w = self.bm25_weights[language] if bm25 else 0.0
            dn = _minmax(dense)
            top_bm25 = max(bm25.values()) if bm25 else 1.0
            fused = {cid: (1 - w) * dn.get(cid, 0.0) + w * bm25.get(cid, 0.0) / top_bm25 for cid in dense}
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)
        return self._diversify(ranked, k, fused, dense, bm25, per_article or self.max_per_article)

    def _diversify(
        self,
        ranked: Sequence[str],
        k: int,
        fused: dict[str, float],
        dense: dict[str, float],
        bm25: dict[str, float],
        per_article: int,
    ) -> list[Passage]:
        """At most ``per_article`` chunks per article, and one article per near-duplicate story.

        Texts and metadata are fetched here, in rank order and in small batches, for the candidates this
        walk reaches (usually k to 2k of the up to 2 x fetch_k fused ones): at 1M chunks reading them for
        every candidate was most of a dense query's time.
        """
        fetched: dict[str, tuple[str, dict[str, Any]]] = {}
        batch = max(2 * k, 10)
        taken: dict[str, int] = {}
        story_owner: dict[str, str] = {}
        out: list[Passage] = []
        for n, cid in enumerate(ranked):
            if cid not in fetched:
                fetched.update(self.store.get_texts([c for c in ranked[n : n + batch] if c not in fetched]))
                if cid not in fetched:  # removed since it was found
                    continue
            text, meta = fetched[cid]
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
                    text=text,
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
