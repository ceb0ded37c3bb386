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
