"""Pick the evidence sentences that go into the prompt and number them [1]..[n].

Why sentences and not chunks: the local model reads ~45 tokens/s, so a prompt of six sentences answers in a
few seconds where five whole chunks would take half a minute; and a sentence is exactly what a citation
quotes. Sentences are scored against the question with the same e5 model used for retrieval.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from qa.dates import Mention, TimeScope, mentioned_days, parse_day
from qa.reader import Span, answer_probability, sentence_spans
from qa.scorer import Candidate, EvidenceScorer, QueryVectors, Reranker, Signals, token_match
from qa.types import Evidence, Language, Passage
from vectorstore.lru import LruCache
from vectorstore.store import NewsStore


class ArticleTextCache:
    """Raw article texts by (store, doc id), small LRU: the same few articles answer most questions.

    ``sync`` drops a store's texts when its revision changed (an article re-ingested or removed while the
    service runs), so evidence spans are never cut from an article's old text.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[tuple[int, str], str] = OrderedDict()
        self._revisions: dict[int, Any] = {}
        self._lock = threading.Lock()

    def sync(self, store: NewsStore, revision: Any) -> None:
        """Forget ``store``'s texts if ``revision`` (``NewsStore.revision()``) differs from the last seen."""
        key = id(store)
        with self._lock:
            if self._revisions.get(key, revision) != revision:
                for item in [k for k in self._items if k[0] == key]:
                    del self._items[item]
            self._revisions[key] = revision

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
    """Passage vectors of evidence sentences and their token vectors, keyed by (doc id, start, text): the
    same articles answer most questions, and encoding their sentences is the largest cost between retrieval
    and generation. Token vectors (float16, ~30 KB a sentence) are what bounds the size."""

    def __init__(self, size: int = 8_000) -> None:
        self._items: LruCache[tuple[str, int, str], tuple[np.ndarray, np.ndarray]] = LruCache(size)

    def get(self, embedder: Any, keys: Sequence[tuple[str, int, str]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """(sentence vectors, token vectors) for ``keys``, encoding only the ones not cached."""

        def encode(missing: list[tuple[str, int, str]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
            vectors, tokens = embedder.encode_passages_with_tokens([k[2] for k in missing])
            return zip(vectors, tokens, strict=True)

        found = self._items.get_many(keys, encode)
        return np.stack([found[k][0] for k in keys]), [found[k][1] for k in keys]

    def encode(self, embedder: Any, keys: Sequence[tuple[str, int, str]]) -> np.ndarray:
        return self.get(embedder, keys)[0]

    def clear(self) -> None:
        self._items.clear()


SENTENCE_VECTORS = SentenceVectorCache()


def candidate_sentences(store: NewsStore, passages: Sequence[Passage]) -> list[Candidate]:
    """Every distinct sentence of the passages, with its neighbours in its passage and its passage's rank."""
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for rank, p in enumerate(passages):
        raw = ARTICLE_TEXTS.get(store, p.doc_id)
        spans = p.sentence_spans or ((p.start, p.end),)
        texts = [raw[s:e] if raw and e <= len(raw) else "" for s, e in spans]
        for i, (s, e) in enumerate(spans):
            if (p.doc_id, s) in seen or not texts[i].strip():
                continue
            seen.add((p.doc_id, s))
            before = texts[i - 1] if i > 0 else ""
            after = texts[i + 1] if i + 1 < len(texts) else ""
            out.append(Candidate(p, s, e, texts[i], before, after, rank))
    return out


def candidate_cosines(
    embedder: Any, query: QueryVectors, cands: Sequence[Candidate]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each candidate's e5 similarity to the question, and its token vectors (both from the sentence
    cache): what the reader path needs (tie-break, timeline events), and where the scorer's signals start."""
    vectors, tokens = SENTENCE_VECTORS.get(embedder, [(c.passage.doc_id, c.start, c.text) for c in cands])
    return vectors @ np.asarray(query.vector, dtype=np.float32), tokens


def candidate_signals(embedder: Any, query: QueryVectors, cands: Sequence[Candidate]) -> Signals:
    """The embedding signals the scorer reads for each candidate: its e5 similarity to the question, the
    best of its neighbours' (its own where it has none), and token-level matching of the question against
    the sentence and against its window (qa.scorer.token_match). Neighbours are sentences of the same
    passage, so their vectors come from the same cache."""
    sims, tokens = candidate_cosines(embedder, query, cands)
    index = {(c.passage.doc_id, c.text): i for i, c in enumerate(cands)}
    neighbours = np.zeros(len(cands))
    matches = np.zeros((len(cands), 4))
    for i, c in enumerate(cands):
        around = [index[(c.passage.doc_id, t)] for t in (c.before, c.after) if (c.passage.doc_id, t) in index]
        neighbours[i] = max((float(sims[j]) for j in around), default=float(sims[i]))
        window = np.vstack([tokens[j] for j in [i, *around]])
        matches[i] = (*token_match(query.tokens, tokens[i]), *token_match(query.tokens, window))
    return Signals(sims, neighbours, matches)


def score_candidates(
    question: str,
    language: Language,
    embedder: Any,
    query: QueryVectors,
    cands: Sequence[Candidate],
    scorer: EvidenceScorer | None,
    rank_weight: float,
    reranker: Reranker | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, cosines) of the candidates. With a scorer, the score is its probability that the sentence
    answers the question; without one (the measured baseline), the e5 cosine plus ``rank_weight`` x the
    passage's retrieval score relative to the best passage's."""
    signals = candidate_signals(embedder, query, cands)
    sims = signals.cosine
    if scorer is not None:
        return scorer.score(question, language, signals, cands, reranker), sims
    best_passage = max(c.passage.score for c in cands) or 1.0
    return sims + rank_weight * np.array([c.passage.score / best_passage for c in cands]), sims


def reader_scores(
    store: NewsStore, question: str, cands: Sequence[Candidate], reader: Any
) -> tuple[np.ndarray, list[tuple[int, int] | None]]:
    """(P(answers), answer span in article characters) per candidate, from the reader (qa.reader).

    Each retrieved passage is read whole, as the reader was trained to read a passage, and every
    candidate sentence gets the best span inside it scored against "no answer": the margin, as a
    probability, is the sentence's score (``qa.reader.answer_probability``).
    """
    passages: dict[int, tuple[int, str]] = {}
    for c in cands:
        if c.rank not in passages:
            spans = c.passage.sentence_spans or ((c.passage.start, c.passage.end),)
            lo, hi = spans[0][0], spans[-1][1]
            raw = ARTICLE_TEXTS.get(store, c.passage.doc_id)
            passages[c.rank] = (lo, raw[lo:hi] if raw else "")
    ranks = list(passages)
    position = {r: i for i, r in enumerate(ranks)}
    sentences = [
        (position[c.rank], c.start - passages[c.rank][0], c.end - passages[c.rank][0]) for c in cands
    ]
    found: list[Span | None] = sentence_spans(reader, question, [passages[r][1] for r in ranks], sentences)
    scores = np.array([answer_probability(sp.score) if sp else 0.0 for sp in found])
    offsets = [
        (passages[c.rank][0] + sp.start, passages[c.rank][0] + sp.end) if sp else None
        for c, sp in zip(cands, found, strict=True)
    ]
    return scores, offsets


def date_order_bonus(mentioned: Sequence[Mention], scope: TimeScope | None, weight: float) -> float:
    """How much a sentence's score moves for the question's days: +``weight`` when
    it mentions a day in the scope, -``weight`` when every day it mentions is outside (it reports another
    event: "pada 12 November" for a question about 29 November), 0 when it mentions none."""
    if scope is None or not mentioned or not weight:
        return 0.0
    return weight if any(scope.overlaps(m) for m in mentioned) else -weight


def select_evidence(
    store: NewsStore,
    embedder: Any,
    question: str,
    language: Language,
    query: QueryVectors,
    passages: Sequence[Passage],
    max_sentences: int,
    *,
    scorer: EvidenceScorer | None,
    rank_weight: float,
    reranker: Reranker | None = None,
    reader: Any = None,
    scope: TimeScope | None = None,
    date_weight: float = 0.0,
    dated_first: bool = False,
) -> list[Evidence]:
    """The best-scored sentences of the passages, numbered [1]..[n] from the strongest.

    ``Evidence.score`` is the reader's probability that the sentence holds the answer (``reader_scores``;
    without a reader, the feature scorer's, qa.scorer), so every later decision (refusal, the support check,
    what the extractive backend answers) reads one scale; ``Evidence.answer_start/end`` is the reader's span.
    Best first: a small model leans on [1], so [1] should be the sentence most likely to answer. With a date
    in the question, a sentence that mentions a day in it is likelier to answer, one that mentions only other
    days less likely: its score moves by ``date_order_bonus`` (``Settings.date_mention_weight``, set on the
    dated set's tune split). Every sentence carries the days it mentions, read against its article's date.
    """
    cands = candidate_sentences(store, passages)
    if not cands:
        return []
    offsets: list[tuple[int, int] | None] = [None] * len(cands)
    if reader is not None:
        sims = candidate_cosines(embedder, query, cands)[0]
        scores, offsets = reader_scores(store, question, cands, reader)
        # Equal reader scores (no span anywhere) fall back to the cosine order.
        scores = scores + 1e-6 * sims
    else:
        scores, sims = score_candidates(
            question, language, embedder, query, cands, scorer, rank_weight, reranker
        )
    days = [
        mentioned_days(c.text, parse_day(c.passage.published) if c.passage.published else None) for c in cands
    ]
    if scope is not None and date_weight:
        bonus = np.array([date_order_bonus(d, scope, date_weight) for d in days])
        scores = np.clip(np.asarray(scores, dtype=float) + bonus, 0.0, 1.0)
    # A timeline (``dated_first``) is made of events with a date: sentences that date their event first,
    # then those of dated articles, then the rest.
    dated = [2 if days[i] else 1 if cands[i].passage.published else 0 for i in range(len(cands))]
    order = sorted(
        range(len(cands)), key=lambda i: (dated[i] if dated_first else 0, float(scores[i])), reverse=True
    )[:max_sentences]
    evidence = []
    for n, i in enumerate(order, start=1):
        c = cands[i]
        p = c.passage
        evidence.append(
            Evidence(
                n=n,
                doc_id=p.doc_id,
                quote=c.text,
                start=c.start,
                end=c.end,
                # The scorer's P(answers); for the cosine baseline, the cosine its thresholds were set on.
                score=float(scores[i]) if scorer is not None or reader is not None else float(sims[i]),
                title=p.title,
                outlet=p.outlet,
                published=p.published,
                url=p.url,
                cosine=float(sims[i]),
                dates=tuple(m.iso() for m in days[i]),
                answer_start=offsets[i][0] if offsets[i] else -1,
                answer_end=offsets[i][1] if offsets[i] else -1,
            )
        )
    return evidence


def llm_evidence(evidence: Sequence[Evidence], sentences: int, max_chars: int) -> list[Evidence]:
    """What an LLM backend reads: the best ``sentences`` within ``max_chars`` (``within_budget``). One
    function, so the pipeline and evaluation's "evidence the model reads" can never disagree."""
    return within_budget(evidence[:sentences], max_chars)


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
