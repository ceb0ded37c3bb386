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
        }
