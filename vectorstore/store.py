"""Chroma storage: one collection of chunks and one of article records, embedded or over HTTP.

Why two collections: the article record (raw text, content hash, MinHash signature, chunk count) is written
*after* its chunks, so its presence marks the article as complete. A crash half-way leaves at worst chunks
without a record, which the next ingest overwrites (chunk ids are deterministic) — the store always opens, and
nothing is duplicated. The raw text lives in the store so citations can be shown in the original even when
Chroma runs as a separate server.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.config import Settings as ChromaSettings

from vectorstore.dates import day_number, mention_field
from vectorstore.types import Article, Chunk

PAGE = 2000
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

# Chunks one process may write between two revision bumps and still hand to the change hooks; beyond this the
# change is dropped (``overflow``) and derived indexes are rebuilt from the store, as they always could be.
MAX_CHANGE_CHUNKS = 200_000


@dataclass
class StoreChange:
    """The chunks this handle wrote and removed since the last revision bump, for derived indexes (BM25).

    ``base`` is the revision seen before the first of these writes, ``revision`` the one after the bump: a
    derived index of ``base`` plus this change is the index of ``revision``, unless another process wrote
    in between (the hook checks the chunk count for that). ``base`` is None when the bump follows writes
    made around this class (``store.chunks`` directly): then nothing is known about what changed.
    """

    base: tuple[int, int] | None
    revision: tuple[int, int] = (0, 0)
    added: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # id -> (text, metadata)
    deleted: set[str] = field(default_factory=set)
    overflow: bool = False


ChangeHook = Callable[["NewsStore", StoreChange], None]
_CHANGE_HOOKS: list[ChangeHook] = []
# Imported at a bump so that their hooks are registered even in a process that only ingests (the CLI):
# the keyword index lives in the qa layer, which this module must not import at load time.
CHANGE_HOOK_MODULES = ("qa.retrieval",)


def register_change_hook(hook: ChangeHook) -> None:
    """Call ``hook(store, change)`` after every revision bump of any store in this process."""
    if hook not in _CHANGE_HOOKS:
        _CHANGE_HOOKS.append(hook)


def _run_change_hooks(store: NewsStore, change: StoreChange) -> None:
    """Hooks are best effort: a failing derived index must not fail the ingest that already landed."""
    for module in CHANGE_HOOK_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    for hook in list(_CHANGE_HOOKS):
        try:
            hook(store, change)
        except Exception:
            log.exception("store change hook %r failed; derived indexes will be rebuilt", hook)


class StoreError(RuntimeError):
    """Base for store problems; messages say how to fix them."""


class StoreNotFoundError(StoreError):
    pass


class EmbeddingMismatchError(StoreError):
    pass


class StoreUnavailableError(StoreError):
    pass


def guarded(method: F) -> F:
    """Turn any Chroma/transport failure into a ``StoreUnavailableError`` that says where the store is, so
    callers (CLI, web UI) can show one clear line and retry later; the next call simply tries again, which
    is how a restarted Chroma server is picked up without restarting the service."""

    @functools.wraps(method)
    def wrapper(self: NewsStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreUnavailableError(
                f"the article store ({self.location}) is unavailable: {type(exc).__name__}: {exc}"
            ) from exc

    return wrapper  # type: ignore[return-value]


def make_client(path: Path | None, host: str | None = None, port: int = 8000) -> ClientAPI:
    """A PersistentClient for a folder, or an HttpClient when a Chroma server host is configured."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if host:
        try:
            return chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
        except Exception as exc:  # chromadb raises plain ValueError/ConnectionError here
            raise StoreUnavailableError(
                f"cannot reach the Chroma server at {host}:{port} ({exc}); is `chroma run` up?"
            ) from exc
    assert path is not None
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


@dataclass(frozen=True)
class ArticleRecord:
    doc_id: str
    content_hash: str
    n_chunks: int
    story_id: str
    signature: str
    title: str
    outlet: str
    published: str
    url: str
    source: str


class NewsStore:
    def __init__(
        self,
        client: ClientAPI,
        name: str,
        embedding_model: str,
        dimension: int,
        create: bool,
        local_path: Path | None = None,
        keyword_dir: Path | None = None,
    ) -> None:
        self.client = client
        self.local_path = local_path  # where derived indexes may be cached; None for a Chroma server
        # Where the saved keyword index lives: beside a local store; for a Chroma server a folder the
        # replicas share may be set here (None: each process builds its own).
        self.keyword_dir: Path | None = keyword_dir if keyword_dir is not None else local_path
        self._change: StoreChange | None = None
        self._counted: tuple[int, int] | None = None  # (revision counter, chunk count read at it)
        self.location = str(local_path) if local_path else "Chroma server"
        self.name = name
        self.embedding_model = embedding_model
        self.dimension = dimension
        expected = {"embedding_model": embedding_model, "dimension": dimension}
        try:
            existing = {c.name if hasattr(c, "name") else str(c) for c in client.list_collections()}
        except Exception as exc:
            raise StoreUnavailableError(f"the Chroma store cannot be read: {exc}") from exc
        if name not in existing and not create:
            raise StoreNotFoundError(
                "no articles have been ingested into this store yet; run `newsqa ingest data/articles` first"
            )
        self.chunks = client.get_or_create_collection(
            name, metadata={**expected, "revision": 0}, configuration={"hnsw": {"space": "cosine"}}
        )
        self.articles = client.get_or_create_collection(
            f"{name}-articles", metadata=expected, configuration={"hnsw": {"space": "cosine"}}
        )
        found = self.chunks.metadata or {}
        if found.get("embedding_model") != embedding_model or int(found.get("dimension", -1)) != dimension:
            raise EmbeddingMismatchError(
                f"this store was built with embedding model {found.get('embedding_model')!r} "
                f"({found.get('dimension')} dims), but {embedding_model!r} ({dimension} dims) is configured; "
                "use the same model (NEWSQA_EMBEDDING_MODEL) or ingest into a new store (--store)"
            )

    # --- reading ---------------------------------------------------------------------------------
    @guarded
    def revision(self) -> tuple[int, int]:
        """(revision counter, chunk count): changes whenever a writer bumps the counter (in this or another
        process); used to know when a derived index (BM25) is stale. Re-reads the collection because the
        handle's metadata is a snapshot.

        The chunk count is read once per counter value, not per call: at 1M chunks Chroma's ``count()`` took
        65 ms, and every BM25 query checks the revision (docs/benchmarks.md, "Scale: hybrid search and a
        100-article ingest at 1M chunks"). Every writer bumps the counter after writing (ingest, delete,
        ``benchmarks/scale.py``); chunks written without a bump (an interrupted ingest's, which have no
        article record and are removed, with a bump, by the next ingest) are seen at the next bump.
        """
        meta = self.client.get_collection(self.name).metadata or {}
        counter = int(meta.get("revision", 0))
        counted = self._counted
        if counted is None or counted[0] != counter:
            counted = self._counted = (counter, self.chunks.count())
        return counted

    @guarded
    def count(self) -> int:
        return self.chunks.count()

    @guarded
    def article_records(self) -> dict[str, ArticleRecord]:
        records: dict[str, ArticleRecord] = {}
        for offset in range(0, self.articles.count(), PAGE):
            got = self.articles.get(include=["metadatas"], limit=PAGE, offset=offset)
            for doc_id, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                records[doc_id] = ArticleRecord(
                    doc_id=doc_id,
                    content_hash=str(meta.get("content_hash", "")),
                    n_chunks=int(meta.get("n_chunks", 0)),
                    story_id=str(meta.get("story_id", doc_id)),
                    signature=str(meta.get("minhash", "")),
                    title=str(meta.get("title", "")),
                    outlet=str(meta.get("outlet", "")),
                    published=str(meta.get("published", "")),
                    url=str(meta.get("url", "")),
                    source=str(meta.get("source", "")),
                )
        return records

    @guarded
    def get_article(self, doc_id: str) -> tuple[str, dict[str, Any]] | None:
        got = self.articles.get(ids=[doc_id], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        return (got["documents"] or [""])[0], dict((got["metadatas"] or [{}])[0])

    def iter_chunks(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for offset in range(0, self.count(), PAGE):
            yield from self._chunk_page(offset)

    @guarded
    def _chunk_page(self, offset: int) -> list[tuple[str, str, dict[str, Any]]]:
        got = self.chunks.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
        return list(zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True))

    @guarded
    def get_with_embeddings(self, ids: Sequence[str]) -> list[tuple[str, str, dict[str, Any], np.ndarray]]:
        got = self.chunks.get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        rows = zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)
        return [(i, d, dict(m), np.asarray(v, dtype=np.float32)) for i, d, m, v in rows]

    @guarded
    def get_texts(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Chunk id -> (text, metadata) for those of ``ids`` that exist (no vectors)."""
        got = self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        rows = zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)
        return {i: (d, dict(m)) for i, d, m in rows}

    @guarded
    def get_embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Chunk id -> vector for those of ``ids`` that exist (no texts)."""
        got = self.chunks.get(ids=list(ids), include=["embeddings"])
        return {
            i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"], strict=True)
        }

    @guarded
    def query_ids(
        self, embedding: np.ndarray, k: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) best first, without texts or metadata.

        Why apart from ``query``: at 1M chunks, fetching the documents and metadata of all ``fetch_k``
        candidates from SQLite cost more than the HNSW search itself, and a search shows only ``k`` of them
        (docs/benchmarks.md). Chroma returns fewer than ``k`` from a smaller collection, so no count first.
        """
        got = self._nearest(embedding, k, where, ["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    @guarded
    def query(
        self, embedding: np.ndarray, k: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, str, dict[str, Any], float]]:
        """(chunk id, text, metadata, cosine similarity) best first."""
        got = self._nearest(embedding, k, where, ["documents", "metadatas", "distances"])
        return [
            (i, d, dict(m), 1.0 - float(dist))
            for i, d, m, dist in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
            )
        ]

    def _nearest(
        self, embedding: np.ndarray, k: int, where: dict[str, Any] | None, include: list[str]
    ) -> dict[str, Any]:
        if k <= 0:
            return {key: [[]] for key in ("ids", *include)}
        return dict(
            self.chunks.query(
                query_embeddings=[np.asarray(embedding, dtype=np.float32).tolist()],
                n_results=k,
                where=where or None,
                include=include,  # type: ignore[arg-type]
            )
        )

    # --- writing ---------------------------------------------------------------------------------
    @guarded
    def write_articles(self, items: Sequence[ArticleWrite]) -> None:
        """Write a batch: old chunks of replaced articles out, all new chunks in, then all article records.

        Records land last, so they remain the commit markers (a crash leaves chunks without records, which
        the next ingest removes). One upsert per collection per batch: Chroma's per-call cost (a SQLite
        transaction and an index flush) dominated per-article writes.
        """
        change = self._begin_change() if items else None
        for item in items:
            if item.replace:
                old = self.chunks.get(where={"doc_id": item.article.id}, include=[])["ids"]
                if old:
                    self.chunks.delete(ids=old)
                    self._record(change, deleted=old)
        with_chunks = [item for item in items if item.chunks]
        if with_chunks:
            ids = [c.id for item in with_chunks for c in item.chunks]
            documents = [c.text for item in with_chunks for c in item.chunks]
            metadatas = [_chunk_metadata(i.article, c, i.story_id) for i in with_chunks for c in i.chunks]
            self.chunks.upsert(
                ids=ids,
                documents=documents,
                embeddings=np.concatenate([np.asarray(i.embeddings, dtype=np.float32) for i in with_chunks]),
                metadatas=metadatas,
            )
            self._record(change, added=zip(ids, documents, metadatas, strict=True))
        if items:
            self.articles.upsert(
                ids=[item.article.id for item in items],
                documents=[item.article.raw_text for item in items],
                embeddings=np.stack([self._centroid(item) for item in items]),
                metadatas=[_article_metadata(item) for item in items],
            )

    def _centroid(self, item: ArticleWrite) -> np.ndarray:
        """The article record's vector: the mean of its chunk vectors (a unit vector if it has none)."""
        if len(item.chunks):
            return np.asarray(item.embeddings, dtype=np.float32).mean(axis=0)
        unit = np.zeros(self.dimension, dtype=np.float32)
        unit[0] = 1.0
        return unit

    @guarded
    def existing_articles(self, doc_ids: Sequence[str]) -> set[str]:
        """Which of ``doc_ids`` have an article record (reads ids only, not texts or metadata)."""
        found: set[str] = set()
        ids = list(dict.fromkeys(doc_ids))
        for i in range(0, len(ids), PAGE):
            found.update(self.articles.get(ids=ids[i : i + PAGE], include=[])["ids"])
        return found

    @guarded
    def delete_article(self, doc_id: str) -> int:
        """Remove an article; returns how many of its chunks were removed.

        The record goes first, the reverse of the write order: a crash in between leaves chunks without a
        record, which the next ingest removes (``remove_orphan_chunks``) and a repeated delete still finds.
        The other order would leave a record without chunks, which ingest takes for an unchanged article.
        """
        change = self._begin_change()
        self.articles.delete(ids=[doc_id])
        ids = self.chunks.get(where={"doc_id": doc_id}, include=[])["ids"]
        if ids:
            self.chunks.delete(ids=ids)
            self._record(change, deleted=ids)
        return len(ids)

    @guarded
    def remove_orphan_chunks(self, complete: set[str]) -> int:
        """Chunks left by an article whose write was interrupted before its record landed.

        Only looked for when a write was left open (``dirty``: set before a change's first write, cleared by
        ``bump_revision``), or in a store from before the flag: the sweep reads every chunk's metadata, which
        took 5 minutes at 1M chunks and would otherwise be paid by every ingest (docs/benchmarks.md).
        """
        if (self.client.get_collection(self.name).metadata or {}).get("dirty", True) is False:
            return 0
        orphans = [cid for cid, _, meta in self.iter_chunks() if meta.get("doc_id") not in complete]
        change = self._begin_change() if orphans else None
        self._record(change, deleted=orphans)
        for i in range(0, len(orphans), PAGE):
            self.chunks.delete(ids=orphans[i : i + PAGE])
        return len(orphans)

    @guarded
    def bump_revision(self) -> None:
        """Re-reads the metadata first: this handle's copy is a snapshot that another process (or handle)
        may have bumped since, and writing ``snapshot + 1`` could then leave the revision unchanged."""
        self._set_metadata(revision=lambda meta: int(meta.get("revision", 0)) + 1, dirty=lambda _: False)
        change, self._change = self._change or StoreChange(base=None), None
        change.revision = self.revision()
        _run_change_hooks(self, change)

    # --- change journal (for derived indexes) -------------------------------------------------------
    def _begin_change(self) -> StoreChange:
        """The pending change, opened with the revision seen before its first write; the store is marked
        ``dirty`` until ``bump_revision`` closes it, so a crash in between is seen by the next ingest."""
        if self._change is None:
            self._change = StoreChange(base=self.revision())
            self._set_metadata(dirty=lambda _: True)
        return self._change

    def _set_metadata(self, **updates: Callable[[dict[str, Any]], Any]) -> None:
        """Rewrite the chunk collection's metadata with each key set from the current value (re-read
        first: the handle's copy is a snapshot another process may have changed)."""
        meta = dict(self.client.get_collection(self.name).metadata or {})
        for key, update in updates.items():
            meta[key] = update(meta)
        meta.pop("hnsw:space", None)  # fixed at creation; Chroma refuses to modify it
        self.chunks.modify(metadata=meta)

    def _record(
        self,
        change: StoreChange | None,
        added: Iterable[tuple[str, str, dict[str, Any]]] = (),
        deleted: Iterable[str] = (),
    ) -> None:
        if change is None or change.overflow:
            return
        for cid in deleted:
            change.added.pop(cid, None)
            change.deleted.add(cid)
        for cid, text, meta in added:
            change.added[cid] = (text, meta)
        if len(change.added) + len(change.deleted) > MAX_CHANGE_CHUNKS:
            change.overflow = True
            change.added.clear()
            change.deleted.clear()


@dataclass(frozen=True)
class ArticleWrite:
    """One article's share of a batched write."""

    article: Article
    chunks: Sequence[Chunk]
    embeddings: np.ndarray
    story_id: str
    signature: str
    replace: bool


def _article_metadata(item: ArticleWrite) -> dict[str, Any]:
    a = item.article
    return {
        "content_hash": a.content_hash,
        "n_chunks": len(item.chunks),
        "story_id": item.story_id,
        "minhash": item.signature,
        "title": a.title,
        "outlet": a.outlet,
        "published": a.published,
        "published_day": day_number(a.published),
        "url": a.url,
        "source": a.source,
        "language": a.language,
        "length": a.length,
    }


def _chunk_metadata(article: Article, chunk: Chunk, story_id: str) -> dict[str, Any]:
    return {
        "doc_id": article.id,
        "title": article.title,
        "outlet": article.outlet,
        "published": article.published,
        "published_day": day_number(article.published),
        # The days the chunk mentions (ISO days/months), read against the article's date (never guessed).
        "dates": mention_field(chunk.text, article.published),
        "url": article.url,
        "story_id": story_id,
        "start": chunk.start,
        "end": chunk.end,
        "paragraph": chunk.paragraph,
        "sentences": json.dumps(chunk.sentence_spans),
        "language": article.language,
    }
