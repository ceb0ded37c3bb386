"""Turn a follow-up question into a standalone one using the chat history.

Why not an LLM rewrite: on 2 CPU cores a rewrite costs the local model several seconds before retrieval can
even start, and the extractive backend has no model at all. Instead, a question that leans on the previous
turn (short, or with a pronoun such as "itu"/"tersebut"/"it"/"they") carries the previous question along as
context. The dense retriever handles the combined text well, and the generator sees both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from qa.types import Language

_ANAPHORA = re.compile(
    r"\b(itu|tersebut|ini|dia|ia|beliau|mereka|nya|sana|"
    r"it|its|that|this|those|these|he|she|him|her|they|them|their|there|then)\b",
    re.IGNORECASE,
)
_SUFFIX_NYA = re.compile(r"\w{3,}nya\b", re.IGNORECASE)
CONTEXT_LABEL: dict[Language, str] = {"id": "konteks", "en": "context"}


def previous_questions(history: Sequence[Any] | None) -> list[str]:
    """User turns from either Gradio 'messages' dicts or (user, assistant) pairs."""
    out: list[str] = []
    for turn in history or []:
        if isinstance(turn, dict):
            if turn.get("role") == "user" and isinstance(turn.get("content"), str):
                out.append(turn["content"])
        elif isinstance(turn, list | tuple) and turn and isinstance(turn[0], str):
            out.append(turn[0])
    return [q.strip() for q in out if q and q.strip()]


def is_follow_up(question: str) -> bool:
    words = question.split()
    return len(words) <= 4 or bool(_ANAPHORA.search(question)) or bool(_SUFFIX_NYA.search(question))


def standalone_question(question: str, history: Sequence[Any] | None, language: Language) -> str:
    previous = previous_questions(history)
    if not previous or not is_follow_up(question):
        return question
    prior = previous[-1]
    if prior.strip() == question.strip():
        return question
    return f"{question} ({CONTEXT_LABEL[language]}: {prior})"
