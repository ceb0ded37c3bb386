"""The values that flow between pipeline stages, kept free of behaviour so every stage can share them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Language = Literal["id", "en"]


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with everything needed to cite it against the raw article text."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    score: float
    title: str = ""
    outlet: str = ""
    published: str = ""
    url: str = ""
    story_id: str = ""
    sentence_spans: tuple[tuple[int, int], ...] = ()
    dense_score: float = 0.0
    bm25_score: float = 0.0


@dataclass(frozen=True)
class Evidence:
    """One numbered evidence sentence given to the generator: [n] in the prompt is ``n`` here."""

    n: int
    doc_id: str
    quote: str
    start: int
    end: int
    score: float
    title: str = ""
    outlet: str = ""
    published: str = ""
    url: str = ""
    # The e5 similarity to the question; ``score`` is the evidence scorer's P(answers) (qa.scorer).
    cosine: float = 0.0
    # The days the sentence mentions (ISO), read against ``published`` (qa.dates.mentioned_days).
    dates: tuple[str, ...] = ()
    # The reader's best answer span inside the sentence (characters of the raw article; -1: none).
    answer_start: int = -1
    answer_end: int = -1

    @property
    def answer(self) -> str:
        """The text of the reader's answer span ('' when it has none)."""
        if not self.start <= self.answer_start < self.answer_end <= self.end:
            return ""
        return self.quote[self.answer_start - self.start : self.answer_end - self.start]


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    outlet: str
    published: str
    url: str
    quote: str
    start: int
    end: int
    score: float
    dates: list[str] = field(default_factory=list)
    # The reader's answer span inside ``quote`` (characters of the raw article, as start/end; -1: none).
    answer_start: int = -1
    answer_end: int = -1

    @classmethod
    def from_evidence(cls, ev: Evidence) -> Citation:
        return cls(
            n=ev.n,
            doc_id=ev.doc_id,
            title=ev.title,
            outlet=ev.outlet,
            published=ev.published,
            url=ev.url,
            quote=ev.quote,
            start=ev.start,
            end=ev.end,
            score=round(float(ev.score), 4),
            dates=list(ev.dates),
            answer_start=ev.answer_start,
            answer_end=ev.answer_end,
        )


@dataclass
class Answer:
    text: str
    language: Language
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    related: list[Citation] = field(default_factory=list)
    backend: str = "extractive"
    notice: str = ""
    question: str = ""
    standalone_question: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    # A timeline answer's events in date order: {"day": ISO, "n": citation, "doc_id"} (qa.timeline).
    timeline: list[dict[str, Any]] = field(default_factory=list)
    # Answered from quotes because the language model was busy (qa/admission.py): it can be asked again
    # with ``wait_for_model``.
    model_busy: bool = False
    # Why it was refused (qa.refusal.Decision.reason; "" when answered) and the best evidence score the
    # decision read (the reader's P(answer) of the strongest sentence; None: no evidence), so every
    # refusal can be traced.
    refusal_reason: str = ""
    best_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape shared by ``newsqa ask --json`` and the web ``/ask`` endpoint."""
        return {
            "text": self.text,
            "language": self.language,
            "refused": self.refused,
            "citations": [asdict(c) for c in self.citations],
            "related": [asdict(c) for c in self.related],
            "backend": self.backend,
            "notice": self.notice,
            "question": self.question,
            "standalone_question": self.standalone_question,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "timeline": self.timeline,
            "model_busy": self.model_busy,
            "refusal_reason": self.refusal_reason,
            "best_score": None if self.best_score is None else round(self.best_score, 4),
        }
