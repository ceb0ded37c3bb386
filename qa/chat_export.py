"""Saved chats and feedback written out: Markdown and JSON for people, the question-set format for eval.

The Markdown keeps each answer's [n] markers and lists that answer's sources under it with the numbers the
markers use (every answer numbers its own sources), so a pasted chat can still be checked source by source.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from qa.chats import Chat, Feedback

_MARKER = re.compile(r"\s*\[\d+\]")


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def source_line(c: dict[str, Any]) -> str:
    """'Outlet, 2024-11-29 — “Title” — URL' with whatever of those the article has."""
    parts = [", ".join(x for x in (c.get("outlet"), c.get("published")) if x)]
    parts.append(f"“{c['title']}”" if c.get("title") else str(c.get("doc_id", "")))
    if c.get("url"):
        parts.append(str(c["url"]))
    return " — ".join(p for p in parts if p)


def chat_markdown(chat: Chat) -> str:
    lines = [f"# {chat.title}", "", f"_Saved chat {chat.id} · started {_when(chat.created)}_", ""]
    for turn in chat.turns:
        answer = turn.answer
        lines += [f"## {turn.question}", "", answer.get("text", "").strip(), ""]
        if answer.get("notice"):
            lines += [f"> _{answer['notice']}_", ""]
        citations = answer.get("citations") or []
        if citations:
            lines += ["**Sources**", ""]
            for c in citations:
                lines.append(f"{c['n']}. {source_line(c)}")
                lines.append(f"   > {' '.join(str(c.get('quote', '')).split())}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def chat_json(chat: Chat) -> dict[str, Any]:
    return {
        "id": chat.id,
        "title": chat.title,
        "created": chat.created,
        "updated": chat.updated,
        "turns": [
            {
                "id": t.id,
                "question": t.question,
                "answer": t.answer,
                "created": t.created,
                "feedback": None if t.rating is None else {"rating": t.rating, "comment": t.comment},
            }
            for t in chat.turns
        ],
    }


def feedback_question(item: Feedback) -> dict[str, Any]:
    """One rated answer as a question-set record (data/eval/README.md).

    A thumbs-up keeps what the service did as the expected behaviour: the cited articles are gold and the
    answer (markers removed) is an acceptable answer, or, for a refusal, the question is unanswerable. A
    thumbs-down has no trusted answer: it is written answerable with no answers and ``review`` set, for a
    person to fill in (its comment says what was wrong).
    """
    answer = item.answer
    record: dict[str, Any] = {
        "id": f"fb-{item.turn_id}",
        "question": item.question,
        "language": answer.get("language", "id"),
    }
    cited = list(dict.fromkeys(c["doc_id"] for c in answer.get("citations") or []))
    if item.rating > 0 and answer.get("refused"):
        record |= {"answerable": False, "gold_articles": [], "answers": []}
    elif item.rating > 0:
        text = _MARKER.sub("", answer.get("text", "")).strip()
        record |= {"answerable": True, "gold_articles": cited, "answers": [text] if text else []}
    else:
        record |= {"answerable": True, "gold_articles": [], "answers": [], "review": True}
    record["feedback"] = {
        "rating": item.rating,
        "comment": item.comment,
        "answer": answer.get("text", ""),
        "refused": bool(answer.get("refused")),
        "cited_articles": cited,
        "chat_id": item.chat_id,
        "rated": _when(item.updated),
    }
    return record
