"""Entry points that wire the ingest stages to configuration: used by the CLI, the web upload and eval."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vectorstore.embeddings import Embedder, get_embedder
from vectorstore.ingest import IngestReport, ingest
from vectorstore.store import NewsStore, make_client

if TYPE_CHECKING:
    from qa.settings import Settings


def settings_embedder(settings: Settings) -> Embedder:
    """The process-wide embedder the settings name (model, cache, batch size, encoder, threads)."""
    return get_embedder(
        settings.embedding_model,
        settings.model_cache,
        settings.embed_batch_size,
        settings.encoder,
        settings.encoder_threads,
    )


def open_store(settings: Settings, create: bool = False) -> NewsStore:
    embedder = settings_embedder(settings)
    client = make_client(settings.store, settings.chroma_host, settings.chroma_port)
    local = None if settings.chroma_host else settings.store
    return NewsStore(
        client,
        settings.collection,
        embedder.model_name,
        embedder.dimension,
        create=create,
        local_path=local,
        keyword_dir=settings.keyword_index_dir,
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
    embedder = settings_embedder(settings)
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


@dataclass(frozen=True)
class ArticleInfo:
    """One stored article as the admin views (CLI ``articles list``, web UI) show it."""

    doc_id: str
    title: str
    outlet: str
    published: str
    chunks: int
    story_id: str  # the doc id of the story it was first seen in; its own id unless a near-duplicate
    url: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DeleteReport:
    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # ids with neither a record nor chunks in the store
    chunks: int = 0  # chunks removed, over all deleted articles

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_articles(settings: Settings, store: NewsStore | None = None) -> list[ArticleInfo]:
    """Every article in the store, newest first (by publication date; undated last), then by id."""
    store = store or open_store(settings, create=False)
    items = [
        ArticleInfo(
            doc_id=r.doc_id,
            title=r.title,
            outlet=r.outlet,
            published=r.published,
            chunks=r.n_chunks,
            story_id=r.story_id,
            url=r.url,
            source=r.source,
        )
        for r in store.article_records().values()
    ]
    items.sort(key=lambda a: a.doc_id)
    items.sort(key=lambda a: a.published.strip(), reverse=True)  # stable: ids stay ascending; "" sorts last
    return items


def delete_articles(
    settings: Settings, doc_ids: Iterable[str], store: NewsStore | None = None
) -> DeleteReport:
    """Remove articles (record and every chunk) by id; ids not in the store are reported in ``missing``.

    The store revision is bumped once at the end (also when a failure stops it half-way), so every running
    ``QAService``, in this process or another, rebuilds its keyword index and drops cached article texts
    before its next question. Near-duplicates of a deleted article keep its id as their story id: it is only
    a grouping label, so they stay valid, retrievable articles (and one story among themselves).
    """
    if isinstance(doc_ids, str):  # one id, not its characters
        doc_ids = [doc_ids]
    ids = list(dict.fromkeys(i.strip() for i in doc_ids if i and i.strip()))
    if not ids:
        raise ValueError("no article ids given; `newsqa articles list` shows the ids in the store")
    store = store or open_store(settings, create=False)
    existing = store.existing_articles(ids)
    report = DeleteReport()
    try:
        for doc_id in ids:
            # an id without a record may still have chunks left by an interrupted delete: remove them too
            removed = store.delete_article(doc_id)
            if doc_id in existing or removed:
                report.deleted.append(doc_id)
                report.chunks += removed
            else:
                report.missing.append(doc_id)
    except BaseException:
        with contextlib.suppress(Exception):  # something may be half-deleted: readers must not trust caches
            store.bump_revision()
        raise
    if report.deleted:
        store.bump_revision()
    return report
