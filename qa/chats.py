"""Saved chats and answer feedback, in one SQLite file beside the store.

Why SQLite: the service is one process per store, conversations are small and written one turn at a time, and
a single file survives restarts, copies with the store, and needs no server. Every call opens its own
connection (cheap, and safe from Gradio's worker threads); WAL mode lets the CLI read while the server writes.

A turn keeps the whole answer as ``Answer.to_dict()`` JSON (text with [n] markers, citations with their
quotes and offsets, timings), so a reopened chat shows the same sources the reader checked at the time.
Feedback belongs to a turn and is deleted with its chat: deleting a conversation removes what was said in it.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS chats_owner_updated ON chats(owner, updated DESC);
CREATE TABLE IF NOT EXISTS turns (
    id TEXT PRIMARY KEY,
    chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_chat ON turns(chat_id, seq);
CREATE TABLE IF NOT EXISTS feedback (
    turn_id TEXT PRIMARY KEY REFERENCES turns(id) ON DELETE CASCADE,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL
);
"""

TITLE_CHARS = 80


class ChatNotFoundError(KeyError):
    """No chat (or turn) with that id: the CLI and the web chat say so instead of failing later."""

    def __str__(self) -> str:
        return f"no saved chat or answer with id {self.args[0]!r}"


@dataclass(frozen=True)
class ChatSummary:
    """One line of the chat list."""

    id: str
    title: str
    created: float
    updated: float
    turns: int


@dataclass
class Turn:
    """One question and its verified answer (``Answer.to_dict()``), with the reader's feedback if any."""

    id: str
    seq: int
    question: str
    answer: dict[str, Any]
    created: float
    rating: int | None = None
    comment: str = ""


@dataclass
class Chat:
    id: str
    title: str
    owner: str
    created: float
    updated: float
    turns: list[Turn] = field(default_factory=list)


@dataclass(frozen=True)
class Feedback:
    """A rated answer together with the question it answered: what ``newsqa feedback export`` writes."""

    turn_id: str
    chat_id: str
    rating: int
    comment: str
    question: str
    answer: dict[str, Any]
    updated: float


def default_title(question: str) -> str:
    """A new chat is named after its first question, cut at a word boundary."""
    text = " ".join(question.split())
    if len(text) <= TITLE_CHARS:
        return text
    return text[:TITLE_CHARS].rsplit(" ", 1)[0] + "…"


class ChatStore:
    """The saved chats of one deployment. ``owner`` separates users when the web chat has a login."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA journal_mode = WAL")
            with db:  # one transaction: committed on success, rolled back on error
                yield db
        finally:
            db.close()

    # -- chats -------------------------------------------------------------------------------------------

    def create(self, title: str, owner: str = "") -> str:
        chat_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._db() as db:
            db.execute(
                "INSERT INTO chats (id, owner, title, created, updated) VALUES (?, ?, ?, ?, ?)",
                (chat_id, owner, default_title(title) or "…", now, now),
            )
        return chat_id

    def add_turn(
        self, chat_id: str, question: str, answer: dict[str, Any], turn_id: str | None = None
    ) -> str:
        """Append a verified answer to a chat; returns the turn id feedback refers to (the web chat passes
        the id its page already uses for the answer's citation links)."""
        turn_id = turn_id or uuid.uuid4().hex[:12]
        now = time.time()
        with self._db() as db:
            if db.execute("SELECT 1 FROM chats WHERE id = ?", (chat_id,)).fetchone() is None:
                raise ChatNotFoundError(chat_id)
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE chat_id = ?", (chat_id,))
            db.execute(
                "INSERT INTO turns (id, chat_id, seq, question, answer, created) VALUES (?, ?, ?, ?, ?, ?)",
                (turn_id, chat_id, seq.fetchone()[0], question, json.dumps(answer, ensure_ascii=False), now),
            )
            db.execute("UPDATE chats SET updated = ? WHERE id = ?", (now, chat_id))
        return turn_id

    def list(self, owner: str | None = "") -> list[ChatSummary]:
        """Newest first (by last activity). ``owner=None`` lists every user's chats (the CLI)."""
        sql = (
            "SELECT c.id, c.title, c.created, c.updated, COUNT(t.id) FROM chats c"
            " LEFT JOIN turns t ON t.chat_id = c.id {where} GROUP BY c.id ORDER BY c.updated DESC, c.id"
        )
        with self._db() as db:
            if owner is None:
                rows = db.execute(sql.format(where="")).fetchall()
            else:
                rows = db.execute(sql.format(where="WHERE c.owner = ?"), (owner,)).fetchall()
        return [ChatSummary(*row) for row in rows]

    def get(self, chat_id: str, owner: str | None = None) -> Chat:
        """The chat with its turns in order; ``owner`` given: only that user's chat."""
        with self._db() as db:
            row = db.execute(
                "SELECT id, title, owner, created, updated FROM chats WHERE id = ?", (chat_id,)
            ).fetchone()
            if row is None or (owner is not None and row[2] != owner):
                raise ChatNotFoundError(chat_id)
            turns = db.execute(
                "SELECT t.id, t.seq, t.question, t.answer, t.created, f.rating, f.comment FROM turns t"
                " LEFT JOIN feedback f ON f.turn_id = t.id WHERE t.chat_id = ? ORDER BY t.seq",
                (chat_id,),
            ).fetchall()
        chat = Chat(*row)
        chat.turns = [Turn(t[0], t[1], t[2], json.loads(t[3]), t[4], t[5], t[6] or "") for t in turns]
        return chat

    def rename(self, chat_id: str, title: str, owner: str | None = None) -> None:
        title = " ".join(title.split())[:200]
        if not title:
            raise ValueError("a chat title cannot be empty")
        self._change("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id), chat_id, owner)

    def delete(self, chat_id: str, owner: str | None = None) -> None:
        """Remove the chat, its turns and their feedback."""
        self._change("DELETE FROM chats WHERE id = ?", (chat_id,), chat_id, owner)

    def _change(self, sql: str, args: tuple[Any, ...], chat_id: str, owner: str | None) -> None:
        with self._db() as db:
            if owner is not None:
                sql += " AND owner = ?"
                args = (*args, owner)
            if db.execute(sql, args).rowcount == 0:
                raise ChatNotFoundError(chat_id)

    # -- feedback ----------------------------------------------------------------------------------------

    def rate(self, turn_id: str, rating: int, comment: str = "", owner: str | None = None) -> None:
        """Thumbs up (1) or down (-1) on one answer; rating again replaces the earlier verdict."""
        if rating not in (1, -1):
            raise ValueError("rating must be 1 (thumbs up) or -1 (thumbs down)")
        with self._db() as db:
            row = db.execute(
                "SELECT c.owner FROM turns t JOIN chats c ON c.id = t.chat_id WHERE t.id = ?", (turn_id,)
            ).fetchone()
            if row is None or (owner is not None and row[0] != owner):
                raise ChatNotFoundError(turn_id)
            db.execute(
                "INSERT INTO feedback (turn_id, rating, comment, updated) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(turn_id) DO UPDATE SET rating = excluded.rating,"
                " comment = CASE WHEN excluded.comment != '' THEN excluded.comment ELSE feedback.comment END,"
                " updated = excluded.updated",
                (turn_id, rating, comment.strip()[:2000], time.time()),
            )

    def feedback(self) -> list[Feedback]:
        """Every rated answer, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT f.turn_id, t.chat_id, f.rating, f.comment, t.question, t.answer, f.updated"
                " FROM feedback f JOIN turns t ON t.id = f.turn_id ORDER BY f.updated, f.turn_id"
            ).fetchall()
        return [Feedback(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]
