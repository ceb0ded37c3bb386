"""Chroma storage: one collection of chunks and one of article records, embedded or over HTTP.

Why two collections: the article record (raw text, content hash, MinHash signature, chunk count) is written
*after* its chunks, so its presence marks the article as complete. A crash half-way leaves at worst chunks
without a record, which the next ingest overwrites (chunk ids are deterministic) — the store always opens, and
nothing is duplicated. The raw text lives in the store so citations can be shown in the original even when
Chroma runs as a separate server.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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
    ) -> None:
        self.client = client
        self.local_path = local_path  # where derived indexes may be cached; None for a Chroma server
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
        """Changes whenever chunks change (in this or another process); used to know when a derived index
        (BM25) is stale. Re-reads the collection because the handle's metadata is a snapshot."""
        meta = self.client.get_collection(self.name).metadata or {}
        return int(meta.get("revision", 0)), self.chunks.count()

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
    def query(
        self, embedding: np.ndarray, k: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, str, dict[str, Any], float]]:
        """(chunk id, text, metadata, cosine similarity) best first."""
        n = min(k, self.count())
        if n == 0:
            return []
        got = self.chunks.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32).tolist()],
            n_results=n,
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (i, d, dict(m), 1.0 - float(dist))
            for i, d, m, dist in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
            )
        ]

    # --- writing ---------------------------------------------------------------------------------
    @guarded
    def write_articles(self, items: Sequence[ArticleWrite]) -> None:
        """Write a batch: old chunks of replaced articles out, all new chunks in, then all article records.

        Records land last, so they remain the commit markers (a crash leaves chunks without records, which
        the next ingest removes). One upsert per collection per batch: Chroma's per-call cost (a SQLite
        transaction and an index flush) dominated per-article writes.
        """
        for item in items:
            if item.replace:
                self.chunks.delete(where={"doc_id": item.article.id})
        with_chunks = [item for item in items if item.chunks]
        if with_chunks:
            self.chunks.upsert(
                ids=[c.id for item in with_chunks for c in item.chunks],
                documents=[c.text for item in with_chunks for c in item.chunks],
                embeddings=np.concatenate([np.asarray(i.embeddings, dtype=np.float32) for i in with_chunks]),
                metadatas=[_chunk_metadata(i.article, c, i.story_id) for i in with_chunks for c in i.chunks],
            )
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
        self.articles.delete(ids=[doc_id])
        n = len(self.chunks.get(where={"doc_id": doc_id}, include=[])["ids"])
        if n:
            self.chunks.delete(where={"doc_id": doc_id})
        return n

    @guarded
    def remove_orphan_chunks(self, complete: set[str]) -> int:
        """Chunks left by an article whose write was interrupted before its record landed."""
        orphans = [cid for cid, _, meta in self.iter_chunks() if meta.get("doc_id") not in complete]
        for i in range(0, len(orphans), PAGE):
            self.chunks.delete(ids=orphans[i : i + PAGE])
        return len(orphans)

    @guarded
    def bump_revision(self) -> None:
        """Re-reads the metadata first: this handle's copy is a snapshot that another process (or handle)
        may have bumped since, and writing ``snapshot + 1`` could then leave the revision unchanged."""
        meta = dict(self.client.get_collection(self.name).metadata or {})
        meta["revision"] = int(meta.get("revision", 0)) + 1
        meta.pop("hnsw:space", None)
        self.chunks.modify(metadata=meta)


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
