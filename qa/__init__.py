"""Bilingual (Indonesian/English) question answering over news articles with verified citations.

Public API::

    from qa import answer, stream
    a = answer("Siapa yang digantikan Belousov?")
    a.text, a.language, a.refused, a.citations, a.timings

Names are imported lazily so that ``import qa.settings`` (and ``newsqa --help``) do not load torch.
"""

from typing import Any

__all__ = [
    "Answer",
    "AnswerEvent",
    "Citation",
    "EvidenceEvent",
    "QuestionError",
    "TokenEvent",
    "answer",
    "stream",
]


def __getattr__(name: str) -> Any:
    if name in ("Answer", "Citation"):
        from qa import types

        return getattr(types, name)
    if name in __all__:
        from qa import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
