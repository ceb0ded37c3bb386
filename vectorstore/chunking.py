"""Sentence-aware chunking with character offsets into the raw article text.

Why sentences: citations quote whole sentences, and the generator is fed selected sentences, not whole
chunks. So a chunk is a run of whole sentences (never cut mid-sentence), bounded in tokens, overlapping its
neighbour by a sentence so a fact at a boundary is retrievable from either side. Every sentence keeps its span
into ``Article.raw_text``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator

from sentencex import segment

from vectorstore.types import Article, Chunk

Span = tuple[int, int]

_WORD = re.compile(r"\w+", re.UNICODE)


def approx_tokens(text: str) -> int:
    """XLM-R pieces per word average ~1.4 on Indonesian news; good enough to bound chunk size."""
    return int(len(_WORD.findall(text)) * 1.4) + 1


def split_sentences(text: str, language: str = "id", offset: int = 0) -> list[Span]:
    """Sentence spans of ``text`` (shifted by ``offset``), trimmed of surrounding whitespace.

    sentencex knows Indonesian and English abbreviations ("Dr.", "Prof.", "10.30"), keeps "(30/11)" inside
    its sentence, and splits scraped text that lost the space after a full stop ("imbalannya.Rusia")."""
    spans: list[Span] = []
    cursor = 0
    for sentence in segment(language if language in ("id", "en") else "id", text):
        piece = sentence.strip()
        if not piece:
            continue
        start = text.find(piece, cursor)
        if start < 0:  # segmenter normalised something; fall back to the cursor position
            start = cursor
        end = start + len(piece)
        cursor = end
        spans.append((start, end))
    return [(s + offset, e + offset) for s, e in spans if e > s]


def _chunk_id(doc_id: str, index: int, text: str) -> str:
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    return f"{doc_id}::{index:04d}::{digest}"


def chunk_article(
    article: Article,
    max_tokens: int = 160,
    overlap_sentences: int = 1,
    count_tokens: Callable[[str], int] = approx_tokens,
) -> list[Chunk]:
    sentences: list[tuple[int, Span]] = []  # (paragraph index, span)
    for p_index, (p_start, p_end) in enumerate(article.paragraphs):
        for span in split_sentences(article.raw_text[p_start:p_end], article.language, p_start):
            sentences.append((p_index, span))
    return list(_pack(article, sentences, max_tokens, overlap_sentences, count_tokens))


def _pack(
    article: Article,
    sentences: list[tuple[int, Span]],
    max_tokens: int,
    overlap: int,
    count_tokens: Callable[[str], int],
) -> Iterator[Chunk]:
    raw = article.raw_text
    i = 0
    index = 0
    while i < len(sentences):
        group = [sentences[i]]
        tokens = count_tokens(raw[slice(*sentences[i][1])])
        j = i + 1
        while j < len(sentences):
            extra = count_tokens(raw[slice(*sentences[j][1])])
            if tokens + extra > max_tokens:
                break
            group.append(sentences[j])
            tokens += extra
            j += 1
        text = _join(raw, group)
        spans = tuple(span for _, span in group)
        yield Chunk(
            id=_chunk_id(article.id, index, text),
            doc_id=article.id,
            text=text,
            start=spans[0][0],
            end=spans[-1][1],
            paragraph=group[0][0],
            sentence_spans=spans,
        )
        index += 1
        if j >= len(sentences):
            break
        i = max(i + 1, j - overlap)


def _join(raw: str, group: list[tuple[int, Span]]) -> str:
    parts: list[str] = []
    previous_paragraph = group[0][0]
    for p_index, (s, e) in group:
        if parts:
            parts.append("\n" if p_index != previous_paragraph else " ")
        parts.append(raw[s:e])
        previous_paragraph = p_index
    return "".join(parts)
