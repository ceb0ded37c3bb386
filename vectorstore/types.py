"""Records passed between the ingest stages (load -> clean -> chunk -> embed -> store)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawDocument:
    """A document as loaded, before any cleaning. ``raw_text`` is kept verbatim for citations."""

    id: str
    raw_text: str
    source: str
    title: str = ""
    url: str = ""
    published: str = ""
    outlet: str = ""


@dataclass(frozen=True)
class Article:
    """A cleaned article. Body paragraphs are character spans into ``raw_text`` so that every chunk and
    citation can point at the original text, never at a rewritten copy."""

    id: str
    raw_text: str
    source: str
    title: str
    outlet: str
    published: str  # ISO date (YYYY-MM-DD) or ""
    url: str
    language: str
    paragraphs: tuple[tuple[int, int], ...]
    content_hash: str = field(default="")

    @property
    def clean_text(self) -> str:
        return "\n".join(self.raw_text[s:e] for s, e in self.paragraphs)

    @property
    def length(self) -> int:
        return len(self.raw_text)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Chunk:
    """A retrievable unit: whole sentences from one article, with their spans into the raw text."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    paragraph: int
    sentence_spans: tuple[tuple[int, int], ...]
