"""Entry points that wire the ingest stages to configuration: used by the CLI, the web upload and eval."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vectorstore.embeddings import get_embedder
from vectorstore.ingest import IngestReport, ingest
from vectorstore.store import NewsStore, make_client

if TYPE_CHECKING:
    from qa.settings import Settings


def open_store(settings: Settings, create: bool = False) -> NewsStore:
    embedder = get_embedder(settings.embedding_model, settings.model_cache, settings.embed_batch_size)
    client = make_client(settings.store, settings.chroma_host, settings.chroma_port)
    local = None if settings.chroma_host else settings.store
    return NewsStore(
        client, settings.collection, embedder.model_name, embedder.dimension, create=create, local_path=local
    )


def ingest_paths(
    settings: Settings,
    paths: Sequence[Path],
    *,
    prune: bool = False,
    progress: bool = True,
    store: NewsStore | None = None,
    on_article: Callable[[int], None] | None = None,
) -> IngestReport:
    store = store or open_store(settings, create=True)
    embedder = get_embedder(settings.embedding_model, settings.model_cache, settings.embed_batch_size)
    return ingest(
        paths,
        store,
        embedder,
        prune=prune,
        chunk_tokens=settings.chunk_tokens,
        overlap_sentences=settings.chunk_overlap_sentences,
        dedup_threshold=settings.dedup_threshold,
        batch_size=settings.embed_batch_size,
        batch_chunks=settings.ingest_batch_chunks,
        progress=progress,
        on_article=on_article,
    )


def store_stats(settings: Settings, store: NewsStore | None = None) -> dict[str, Any]:
    store = store or open_store(settings, create=False)
    records = store.article_records()
    dates = sorted(r.published for r in records.values() if r.published)
    outlets = Counter(r.outlet or "(unknown)" for r in records.values())
    stories = {r.story_id for r in records.values()}
    location = (
        f"chroma server {settings.chroma_host}:{settings.chroma_port}"
        if settings.chroma_host
        else str(settings.store.resolve())
    )
    info: dict[str, Any] = {
        "store": location,
        "collection": store.name,
        "embedding_model": store.embedding_model,
        "dimension": store.dimension,
        "articles": len(records),
        "stories": len(stories),
        "chunks": store.count(),
        "date_range": f"{dates[0]} .. {dates[-1]}" if dates else "(no dates)",
        "outlets": ", ".join(f"{o} ({n})" for o, n in outlets.most_common(8)),
    }
    if not settings.chroma_host and settings.store.exists():
        size = sum(f.stat().st_size for f in settings.store.rglob("*") if f.is_file())
        info["disk_mb"] = round(size / 1e6, 2)
    return info
