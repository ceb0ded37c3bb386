"""The question-aware evidence scorer: the probability that a sentence answers the question.

Why not the e5 cosine alone: a cosine between two independently embedded texts says the sentence is *about*
the question, not that it *answers* it. "Kapan PBB dibubarkan?" (when was the UN dissolved) is as close to
"PBB didirikan pada 24 Oktober 1945" as "Kapan PBB didirikan?" is; and the sentence that names who did X at
Y ranks below one about X and Y doing something else. The scorer adds what the cosine does not see:

- which of the question's words the sentence (and its neighbours) contain, weighted by how rare each word
  is among the candidate sentences (the words every candidate shares say nothing; "dibubarkan" does);
- whether the sentence holds the kind of thing asked for and not already in the question (kapan/when -> a
  date, berapa/how many -> a number, siapa/who -> a name; qa.facts decides what those are);
- the question's names in the sentence's window, its neighbours' cosines, its passage's retrieval score.

A logistic regression over these features (weights in ``qa/models/evidence_scorer.json``, trained by
``benchmarks/train_scorer.py`` on the train split of the dev sets; card in ``qa/models/README.md``) turns
them into a probability. One function, :meth:`EvidenceScorer.score`, serves every decision: which
sentences the model reads (qa.context), whether a cited sentence answers (qa.citations), whether to refuse
(qa.refusal) and what the extractive backend quotes.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.facts import MONTHS, facts
from qa.grounding import question_names
from qa.keyword import analyse_indonesian, analyse_query
from qa.types import Language, Passage

MODEL_PATH = Path(__file__).resolve().parent / "models" / "evidence_scorer.json"

FEATURES = (
    "cos",
    "cos_gap",
    "neighbour_cos",
    "token_match_mean",
    "token_match_min",
    "window_token_match_mean",
    "window_token_match_min",
    "passage_rel",
    "passage_rank",
    "coverage",
    "coverage_window",
    "idf_coverage",
    "idf_coverage_window",
    "names_window",
    "when_has_date",
    "count_has_number",
    "who_has_name",
    "where_has_name",
    "open_question",
    "article_lead",
    "log_length",
    "english",
    "english_cos",
    "english_idf_coverage",
    "english_token_match_min",
)

# Answer types, by the question's wording (Indonesian and English).
_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "when",
        re.compile(
            r"\b(kapan\w*|tahun berapa|tanggal berapa|bulan apa|pada tahun"
            r"|when|what year|which year|what date)\b",
            re.I,
        ),
    ),
    (
        "count",
        re.compile(r"\b(berapa\w*|how (many|much|long|old|far)|what (percentage|number|amount))\b", re.I),
    ),
    ("who", re.compile(r"\b(siapa\w*|who|whom|whose)\b", re.I)),
    ("where", re.compile(r"\b(di ?mana\w*|ke ?mana\w*|dari mana\w*|where)\b", re.I)),
)
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")


def answer_type(question: str) -> str:
    """'when', 'count', 'who', 'where' or 'open' (what, why, how...): the first type the wording names."""
    for name, pattern in _TYPES:
        if pattern.search(question):
            return name
    return "open"


@dataclass(frozen=True)
class QueryVectors:
    """The question's e5 vector and its unit-length token vectors (``Embedder.encode_query_with_tokens``)."""

    vector: np.ndarray
    tokens: np.ndarray


@dataclass(frozen=True)
class Signals:
    """Embedding signals per candidate (qa.context.candidate_signals): e5 cosine to the question, best
    neighbour cosine, and token matching (mean, min) against the sentence and against its window."""

    cosine: np.ndarray
    neighbour_cosine: np.ndarray
    token_match: np.ndarray  # (n, 4)


def token_match(question_tokens: np.ndarray, text_tokens: np.ndarray) -> tuple[float, float]:
    """(mean, min) over the question's tokens of each one's best cosine with a token of the text.

    Why: the sentence vector averages the question's words away, so "kapan PBB dibubarkan" and "kapan PBB
    didirikan" land close to the same sentence; token by token, "dibubarkan" (dissolved) finds no good match
    in a sentence about the founding, and the weakest-matched token (the min) shows it. Contextual
    multilingual token vectors also match across languages ("founded" / "didirikan"), where stems cannot.
    """
    if len(question_tokens) == 0 or len(text_tokens) == 0:
        return 0.0, 0.0
    best = (question_tokens.astype(np.float32) @ text_tokens.astype(np.float32).T).max(axis=1)
    return float(best.mean()), float(best.min())


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, with its neighbours in that passage as context."""

    passage: Passage
    start: int
    end: int
    text: str
    before: str = ""
    after: str = ""
    rank: int = 0

    @property
    def window(self) -> str:
        return f"{self.before} {self.text} {self.after}"


def _coverage(terms: Sequence[str], words: set[str], weights: dict[str, float]) -> tuple[float, float]:
    if not terms:
        return 0.0, 0.0
    plain = sum(t in words for t in terms) / len(terms)
    total = sum(weights[t] for t in terms) or 1.0
    return plain, sum(weights[t] for t in terms if t in words) / total


@dataclass(frozen=True)
class QuestionFacts:
    """What the features need of the question, computed once per question."""

    terms: tuple[str, ...]
    kind: str
    names: tuple[tuple[str, ...], ...]
    words: frozenset[str]
    numbers: frozenset[float]
    english: bool

    @classmethod
    def of(cls, question: str, language: Language) -> QuestionFacts:
        f = facts(question)
        return cls(
            terms=tuple(dict.fromkeys(analyse_query(question, language))),
            kind=answer_type(question),
            names=tuple(tuple(w.lower() for w in g) for g in question_names(question)),
            words=frozenset(w.lower() for w in re.findall(r"\w+", question)),
            numbers=f.numbers,
            english=language == "en",
        )


def _type_features(q: QuestionFacts, text: str) -> list[float]:
    f = facts(text)
    new_names = {n for n in f.names if n not in q.words}
    has_date = bool(f.months) or bool(_YEAR.search(text)) or any(w in MONTHS for w in text.lower().split())
    has_number = bool(f.numbers - q.numbers)
    return [
        float(q.kind == "when" and has_date),
        float(q.kind == "count" and has_number),
        float(q.kind == "who" and bool(new_names)),
        float(q.kind == "where" and bool(new_names)),
        float(q.kind == "open"),
    ]


def features(question: str, language: Language, signals: Signals, cands: Sequence[Candidate]) -> np.ndarray:
    """One row of FEATURES per candidate, from the texts and the embedding ``signals``."""
    cosines = signals.cosine
    q = QuestionFacts.of(question, language)
    sentence_words = [set(analyse_indonesian(c.text)) for c in cands]
    window_words = [set(analyse_indonesian(c.window)) for c in cands]
    df = Counter(t for words in sentence_words for t in set(q.terms) & words)
    n = len(cands)
    weights = {t: math.log(1.0 + (n + 1) / (1 + df[t])) for t in q.terms}
    best_passage = max((c.passage.score for c in cands), default=1.0) or 1.0
    top_cos = float(cosines.max()) if len(cosines) else 0.0
    rows = []
    for i, c in enumerate(cands):
        cov, idf_cov = _coverage(q.terms, sentence_words[i], weights)
        cov_w, idf_cov_w = _coverage(q.terms, window_words[i], weights)
        window = c.window.lower()
        names_w = sum(any(w in window for w in g) for g in q.names) / len(q.names) if q.names else 1.0
        english = float(q.english)
        rows.append(
            [
                float(cosines[i]),
                float(cosines[i]) - top_cos,
                float(signals.neighbour_cosine[i]),
                *(float(v) for v in signals.token_match[i]),
                c.passage.score / best_passage,
                1.0 / (1.0 + c.rank),
                cov,
                cov_w,
                idf_cov,
                idf_cov_w,
                names_w,
                *_type_features(q, c.text),
                float(c.start == 0),
                math.log(1.0 + len(c.text)),
                english,
                english * float(cosines[i]),
                english * idf_cov,
                english * float(signals.token_match[i][1]),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(cands), len(FEATURES))


@dataclass(frozen=True)
class Logistic:
    """A logistic regression over standardised inputs (weights trained by benchmarks/train_scorer.py)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logits(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0)
        return ((rows - self.mean) / self.scale) @ self.coef + self.intercept

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Logistic:
        return cls(
            np.asarray(data["mean"]),
            np.asarray(data["scale"]),
            np.asarray(data["coef"]),
            float(data["intercept"]),
        )


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


class Reranker(Protocol):
    """What the second stage needs of a cross-encoder (qa.cross_encoder.CrossEncoder)."""

    def score(self, question: str, contexts: list[str]) -> np.ndarray: ...


def rerank_inputs(
    prefilter_logit: np.ndarray, ce_logit: np.ndarray, english: bool | np.ndarray
) -> np.ndarray:
    """The second stage's inputs: both stages' logits, and the CE logit again for English questions (the CE
    is less sure across languages, so its weight may differ). ``english`` per row, or one for all."""
    e = np.broadcast_to(np.asarray(english, dtype=np.float64), np.shape(ce_logit))
    return np.column_stack([prefilter_logit, ce_logit, e, e * ce_logit])


@dataclass(frozen=True)
class EvidenceScorer:
    """Two stages, one probability P(the sentence answers the question):

    1. ``prefilter``: a logistic regression over FEATURES, for every candidate (milliseconds);
    2. ``rerank``: for the ``rerank_k`` best of those, a fine-tuned cross-encoder (qa/cross_encoder.py) reads
       the question and the sentence (with its next sentence) together, and a second logistic regression
       combines its logit with the first stage's. The other candidates keep a probability below the lowest
       reranked one, so the order is reranked-first.
    Without a cross-encoder (``reranker=None``), the first stage's probability is the score.
    """

    prefilter: Logistic
    rerank: Logistic | None = None
    rerank_k: int = 8

    def reranked(self, first: np.ndarray) -> np.ndarray:
        """Indices of the candidates the cross-encoder reads: the first stage's best ``rerank_k``."""
        return np.argsort(-first, kind="stable")[: self.rerank_k]

    def combine(self, first: np.ndarray, ce: np.ndarray, english: bool | np.ndarray) -> np.ndarray:
        """One question's final probabilities from the first stage's logits and the cross-encoder's logits
        (NaN where it did not read the candidate): the second stage's probability where there is a CE logit,
        and for the rest their first-stage probability capped just below the lowest of those."""
        assert self.rerank is not None
        out = sigmoid(first)
        has = ~np.isnan(ce)
        if not has.any():
            return out
        e = np.broadcast_to(np.asarray(english, dtype=bool), np.shape(ce))
        final = sigmoid(self.rerank.logits(rerank_inputs(first[has], ce[has], e[has])))
        out = np.minimum(out, final.min() * 0.999)
        out[has] = final
        return out

    def score(
        self,
        question: str,
        language: Language,
        signals: Signals,
        cands: Sequence[Candidate],
        reranker: Reranker | None = None,
    ) -> np.ndarray:
        """P(answers the question) for each candidate: the one scoring function every decision reads."""
        first = self.prefilter.logits(features(question, language, signals, cands))
        if reranker is None or self.rerank is None or not len(cands):
            return sigmoid(first)
        top = self.reranked(first)
        ce = np.full(len(cands), np.nan)
        ce[top] = reranker.score(question, [context_of(cands[i]) for i in top])
        return self.combine(first, ce, language == "en")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"features": list(FEATURES), "prefilter": self.prefilter.to_json()}
        if self.rerank is not None:
            data["rerank"] = {**self.rerank.to_json(), "k": self.rerank_k}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvidenceScorer:
        if list(data.get("features", [])) != list(FEATURES):
            raise ValueError(
                "the scorer's weights were trained on other features: retrain (make train-scorer)"
            )
        rerank = data.get("rerank")
        return cls(
            Logistic.from_json(data["prefilter"]),
            Logistic.from_json(rerank) if rerank else None,
            int(rerank["k"]) if rerank else 8,
        )


def context_of(c: Candidate) -> str:
    """The cross-encoder's passage text for a candidate: the sentence and its next neighbour."""
    from qa.cross_encoder import build_context

    return build_context(c.text, c.after or None)


@lru_cache(maxsize=4)
def load_scorer(path: Path = MODEL_PATH) -> EvidenceScorer:
    """The trained scorer (JSON, committed; training never runs at install)."""
    return EvidenceScorer.from_json(json.loads(path.read_text(encoding="utf-8")))
