"""The protocol every generator backend implements: one small method that streams text.

A backend sees a finished prompt's parts (instructions are the pipeline's; evidence is fenced data) and
yields text pieces. Citation checking, refusal and fallback are the pipeline's job, so a backend stays a thin
adapter around one engine (cf. ragna's assistants).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from qa.types import Evidence, Language


class BackendError(RuntimeError):
    """Raised when a backend cannot produce an answer (server down, timeout, model missing)."""


@runtime_checkable
class Backend(Protocol):
    name: str

    def generate(self, question: str, evidence: Sequence[Evidence], language: Language) -> Iterator[str]:
        """Yield answer text pieces for ``question`` using only ``evidence`` (numbered [n])."""
        ...


@runtime_checkable
class PromptTimer(Protocol):
    """A backend that can predict how long it will take to start answering a given prompt.

    Why: time to first token is the latency a reader feels, and for a local model it is almost all prompt
    reading, which grows with the sources given and depends on the host's speed. A backend that knows its
    own measured speed lets the pipeline give it as many sources as fit in the first-token budget
    (``Settings.llm_first_token_s``) instead of a fixed amount that is fast on one machine and slow on the
    next. Remote servers cannot be predicted from here and do not implement it.
    """

    def first_token_s(self, question: str, evidence: Sequence[Evidence], language: Language) -> float | None:
        """Predicted seconds from the call to the first text piece; None while there is no measurement."""
        ...


@runtime_checkable
class QueueAware(Protocol):
    """A backend that can say how long a new question would wait before the model starts on it.

    Why: a local model answers one question at a time; with many users each answer queues behind the others
    (20 users waited a median 153 s, docs/benchmarks.md). Knowing the wait, the pipeline answers at once with
    verified quotes instead (``Settings.llm_queue_budget_s``, qa/admission.py) unless the user asks to wait.
    """

    def queue_wait_s(self) -> float | None:
        """Predicted seconds before the model would start on a question asked now; None: no measurement."""
        ...
