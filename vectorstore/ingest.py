"""The ingest pipeline: load -> clean -> chunk -> embed -> store, idempotent and restartable.

Articles are embedded in batches that span several articles (the encoder is the bottleneck, and bigger
batches keep it busy) but written one article at a time, chunks before record, so an interrupted run leaves a
consistent store and a re-run only does the missing work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from vectorstore.chunking import chunk_article
from vectorstore.cleaning import clean
from vectorstore.dedup import StoryIndex, decode_signature, encode_signature, signature
from vectorstore.loaders import Skipped, load_paths
from vectorstore.store import ArticleWrite, NewsStore
from vectorstore.types import Article, Chunk


class PassageEncoder(Protocol):
    def encode_passages(
        self, texts: Sequence[str], batch_size: int = ..., show_progress: bool = ...
    ) -> np.ndarray: ...


@dataclass
class IngestReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    pruned: int = 0
    chunks: int = 0
    orphans_removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    near_duplicates: list[tuple[str, str]] = field(default_factory=list)  # (doc id, story id)
    seconds: float = 0.0

    @property
    def written(self) -> int:
        return self.new + self.updated

    def summary(self) -> str:
        parts = [
            f"{self.new} new",
            f"{self.updated} updated",
            f"{self.unchanged} unchanged",
            f"{len(self.skipped)} skipped",
        ]
        if self.pruned:
            parts.append(f"{self.pruned} pruned")
        text = f"articles: {', '.join(parts)}; {self.chunks} chunks written in {self.seconds:.1f}s"
        if not self.written and not self.pruned:
            text += " (store already up to date, nothing written)"
        return text


def embedding_text(article: Article, chunk: Chunk) -> str:
    """The title gives a chunk the story's context that its sentences may leave implicit."""
    return f"{article.title}\n{chunk.text}" if article.title else chunk.text


def ingest(
    paths: Iterable[Path],
    store: NewsStore,
    encoder: PassageEncoder,
    *,
    prune: bool = False,
    chunk_tokens: int = 160,
    overlap_sentences: int = 1,
    dedup_threshold: float = 0.5,
    batch_chunks: int = 128,
    batch_size: int = 32,
    progress: bool = True,
    on_article: Callable[[int], None] | None = None,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    records = store.article_records()
    report.orphans_removed = store.remove_orphan_chunks(set(records))

    stories = StoryIndex(dedup_threshold)
    for rec in records.values():
        sig = decode_signature(rec.signature)
        if sig is not None:
            stories.add(rec.doc_id, sig, story_id=rec.story_id)

    seen: set[str] = set()
    pending: list[tuple[Article, list[Chunk], bool]] = []
    pending_chunks = 0
    bar = tqdm(desc="ingest", unit="article", disable=not progress)

    def flush() -> None:
        nonlocal pending, pending_chunks
        if not pending:
            return
        texts = [embedding_text(a, c) for a, chunks, _ in pending for c in chunks]
        vectors = encoder.encode_passages(texts, batch_size=batch_size) if texts else np.zeros((0, 1))
        offset = 0
        writes: list[ArticleWrite] = []
        for article, chunks, replace in pending:
            sig = signature(article.clean_text)
            story_id = stories.add(article.id, sig)
            if story_id != article.id:
                report.near_duplicates.append((article.id, story_id))
            vecs = vectors[offset : offset + len(chunks)]
            writes.append(ArticleWrite(article, chunks, vecs, story_id, encode_signature(sig), replace))
            offset += len(chunks)
        store.write_articles(writes)
        for write in writes:
            report.chunks += len(write.chunks)
            if write.replace:
                report.updated += 1
            else:
                report.new += 1
            bar.update(1)
            if on_article:
                on_article(report.new + report.updated + report.unchanged)
        pending, pending_chunks = [], 0

    for item in load_paths(paths):
        if isinstance(item, Skipped):
            report.skipped.append(item)
            continue
        if item.id in seen:
            report.skipped.append(Skipped(item.source, f"duplicate document id {item.id!r}"))
            continue
        seen.add(item.id)
        article = clean(item)
        if not article.paragraphs:
            report.skipped.append(Skipped(item.source, "no article text after cleaning"))
            continue
        existing = records.get(article.id)
        if existing is not None and existing.content_hash == article.content_hash:
            report.unchanged += 1
            bar.update(1)
            if on_article:
                on_article(report.new + report.updated + report.unchanged)
            continue
        chunks = chunk_article(article, chunk_tokens, overlap_sentences)
        pending.append((article, chunks, existing is not None))
        pending_chunks += len(chunks)
        if pending_chunks >= batch_chunks:
            flush()
    flush()
    bar.close()

    if prune:
        for doc_id in set(records) - seen:
            store.delete_article(doc_id)
            stories.remove(doc_id)
            report.pruned += 1
    if report.written or report.pruned or report.orphans_removed:
        store.bump_revision()
    report.seconds = time.perf_counter() - started
    return report
