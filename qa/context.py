"""Pick the evidence sentences that go into the prompt and number them [1]..[n].

Why sentences and not chunks: the local model reads ~45 tokens/s, so a prompt of six sentences answers in a
few seconds where five whole chunks would take half a minute; and a sentence is exactly what a citation
quotes. Sentences are scored against the question with the same e5 model used for retrieval.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from qa.keyword import analyse_indonesian
from qa.types import Evidence, Passage
from vectorstore.store import NewsStore


class ArticleTextCache:
    """Raw article texts by (doc id, chunk span), small LRU: the same few articles answer most questions."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[tuple[int, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: NewsStore, doc_id: str) -> str:
        key = (id(store), doc_id)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        found = store.get_article(doc_id)
        text = found[0] if found else ""
        with self._lock:
            self._items[key] = text
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return text

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


ARTICLE_TEXTS = ArticleTextCache()


class SentenceVectorCache:
    """Passage vectors of evidence sentences, keyed by (doc id, start, text): the same articles answer
    most questions, and encoding their sentences is the largest cost between retrieval and generation."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, int, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, embedder: Any, keys: Sequence[tuple[str, int, str]]) -> np.ndarray:
        with self._lock:
            missing = [k for k in dict.fromkeys(keys) if k not in self._items]
        if missing:
            fresh = embedder.encode_passages([k[2] for k in missing])
            with self._lock:
                for key, vec in zip(missing, fresh, strict=True):
                    self._items[key] = vec
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        with self._lock:
            return np.stack([self._items[k] for k in keys])


SENTENCE_VECTORS = SentenceVectorCache()


def candidate_sentences(store: NewsStore, passages: Sequence[Passage]) -> list[tuple[Passage, int, int, str]]:
    """Every distinct sentence of the passages, as (passage, start, end, text)."""
    seen: set[tuple[str, int]] = set()
    out: list[tuple[Passage, int, int, str]] = []
    for p in passages:
        raw = ARTICLE_TEXTS.get(store, p.doc_id)
        spans = p.sentence_spans or ((p.start, p.end),)
        for s, e in spans:
            if (p.doc_id, s) in seen:
                continue
            seen.add((p.doc_id, s))
            text = raw[s:e] if raw and e <= len(raw) else ""
            if text.strip():
                out.append((p, s, e, text))
    return out


def term_overlap(query_terms: Sequence[str], sentence: str) -> float:
    """Share of the question's (stemmed, stopword-free) terms that occur in the sentence."""
    if not query_terms:
        return 0.0
    words = set(analyse_indonesian(sentence))
    return sum(t in words for t in query_terms) / len(query_terms)


def select_evidence(
    store: NewsStore,
    embedder: Any,
    query_vector: np.ndarray,
    passages: Sequence[Passage],
    max_sentences: int = 6,
    *,
    query_terms: Sequence[str] = (),
    lexical_weight: float = 0.0,
    rank_weight: float,
) -> list[Evidence]:
    """Top sentences by similarity to the question, numbered [1]..[n] from the strongest.

    The score is the e5 similarity, plus ``rank_weight`` x the passage's retrieval score relative to the
    best passage's and, with ``lexical_weight``, the share of question terms the sentence contains. The
    passage term carries what sentence-level e5 cannot see: the hybrid (BM25 + dense) judgement of the
    whole chunk, so a sentence from the passage that best matches the question as a whole wins a near tie.
    The lexical term: e5 alone under-rates the sentence that holds a name, number or rare word of the
    question when its wording differs elsewhere ("Pilpres AS" for "pemilihan presiden Amerika Serikat").
    """
    candidates = candidate_sentences(store, passages)
    if not candidates:
        return []
    vectors = SENTENCE_VECTORS.encode(embedder, [(c[0].doc_id, c[1], c[3]) for c in candidates])
    sims = vectors @ np.asarray(query_vector, dtype=np.float32)
    best_passage = max(p.score for p in passages) or 1.0
    scores = [
        float(sim)
        + rank_weight * (c[0].score / best_passage)
        + (lexical_weight * term_overlap(query_terms, c[3]) if lexical_weight else 0.0)
        for sim, c in zip(sims, candidates, strict=True)
    ]
    # Best first: a small model leans on [1], so [1] should be the strongest evidence.
    order = sorted(range(len(candidates)), key=scores.__getitem__, reverse=True)[:max_sentences]
    evidence = []
    for n, i in enumerate(order, start=1):
        p, s, e, text = candidates[i]
        evidence.append(
            Evidence(
                n=n,
                doc_id=p.doc_id,
                quote=text,
                start=s,
                end=e,
                score=float(sims[i]),
                title=p.title,
                outlet=p.outlet,
                published=p.published,
                url=p.url,
            )
        )
    return evidence


def within_budget(evidence: Sequence[Evidence], max_chars: int) -> list[Evidence]:
    """The strongest sentences, in order, that fit in ``max_chars`` (always at least the first); one that
    would overflow is skipped and a shorter, weaker one after it may still go in.

    Why characters and not a sentence count: news sentences vary from 60 to 400 characters, and the local
    LLM's time to first token grows with every character it reads (~60 tokens/s on 2 cores); a budget keeps
    that time steady and lets two or three short sentences in where one long one would fill it. Skipping
    rather than stopping at the first misfit fills the same budget with more of the candidates: evidence
    recall +0 to +0.8 points on the four dev sets for 2-6 more characters (docs/benchmarks.md). What goes
    in is renumbered [1]..[m], so the model never reads a gap in the numbering (citations are renumbered
    after verification anyway).
    """
    out: list[Evidence] = []
    used = 0
    for ev in evidence:
        if out and used + len(ev.quote) > max_chars:
            continue
        out.append(ev if ev.n == len(out) + 1 else replace(ev, n=len(out) + 1))
        used += len(ev.quote)
    return out


def within_deadline(
    evidence: Sequence[Evidence], predict_s: Callable[[Sequence[Evidence]], float | None], remaining_s: float
) -> list[Evidence]:
    """The longest run of the strongest sentences that the generator is predicted to start answering from
    within ``remaining_s`` (always at least the first sentence; all of them when there is no prediction).

    Why a time budget on top of the character one: the character budget caps what helps an answer; this one
    keeps the first token on time on a slower or busier host, where the same characters take longer to
    read. It drops the weakest sentences first, which cost the least evidence recall per second saved
    (docs/benchmarks.md, "Evidence sentence selection").
    """
    out = list(evidence[:1])
    for end in range(2, len(evidence) + 1):
        predicted = predict_s(evidence[:end])
        if predicted is not None and predicted > remaining_s:
            break
        out = list(evidence[:end])
    return out


# Clause boundaries inside a sentence: after , ; : and around a dash (which then belongs to neither side).
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|\s+[-–—]\s+")


def trim_evidence(
    evidence: Sequence[Evidence], embedder: Any, query_vector: np.ndarray, max_chars: int
) -> list[Evidence]:
    """Shorten sentences longer than ``max_chars`` to the run of clauses closest to the question.

    Why: a news sentence often strings three facts together ("X said on Monday, after Y, that Z, which ...");
    the local LLM pays for every character before its first token, and a quoted citation is more precise
    when it is the clause that answers. The kept run starts at the clause most similar to the question (e5)
    and grows towards the more similar neighbour while it fits; the quote stays an exact span of the raw
    article text, so highlighting and citation checks work unchanged.
    """
    qv = np.asarray(query_vector, dtype=np.float32)
    out: list[Evidence] = []
    for ev in evidence:
        if max_chars <= 0 or len(ev.quote) <= max_chars:
            out.append(ev)
            continue
        spans, pos = [], 0
        for m in _CLAUSE_END.finditer(ev.quote):
            spans.append((pos, m.start()))
            pos = m.end()
        spans.append((pos, len(ev.quote)))
        spans = [(s, e) for s, e in spans if ev.quote[s:e].strip()]
        if len(spans) < 2:
            out.append(ev)
            continue
        keys = [(ev.doc_id, ev.start + s, ev.quote[s:e]) for s, e in spans]
        sims = SENTENCE_VECTORS.encode(embedder, keys) @ qv
        lo = hi = int(np.argmax(sims))
        while True:
            options = []
            if lo > 0 and spans[hi][1] - spans[lo - 1][0] <= max_chars:
                options.append((sims[lo - 1], lo - 1, hi))
            if hi < len(spans) - 1 and spans[hi + 1][1] - spans[lo][0] <= max_chars:
                options.append((sims[hi + 1], lo, hi + 1))
            if not options:
                break
            _, lo, hi = max(options)
        start, end = spans[lo][0], spans[hi][1]
        text = ev.quote[start:end]
        end -= len(text) - len(text.rstrip(" ,;:"))
        out.append(replace(ev, quote=ev.quote[start:end], start=ev.start + start, end=ev.start + end))
    return out
