"""Saved chats and feedback: the SQLite store, its exports, and the ``newsqa chats`` / ``feedback`` commands.

Answers are real (the extractive backend on the sample store), so the saved records are the ones the web
chat writes.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qa.chat_export import chat_json, chat_markdown, feedback_question
from qa.chats import ChatNotFoundError, ChatStore, default_title
from qa.settings import get_settings


@pytest.fixture(scope="module")
def answers(sample_service: Any) -> dict[str, dict[str, Any]]:
    """Real answers: one cited (Indonesian), one cited (English), one refusal."""
    questions = {
        "id": "Kapan Korea Utara meratifikasi pakta pertahanan dengan Rusia?",
        "en": "Who did Belousov replace as defence minister?",
        "refused": "Di kota mana Belousov lahir?",
    }
    out = {key: sample_service.answer(q).to_dict() for key, q in questions.items()}
    assert out["id"]["citations"] and out["en"]["citations"] and out["refused"]["refused"]
    return out


def _fill(store: ChatStore, answers: dict[str, dict[str, Any]], owner: str = "") -> tuple[str, list[str]]:
    chat_id = store.create(answers["id"]["question"], owner)
    turns = [store.add_turn(chat_id, a["question"], a) for a in (answers["id"], answers["en"])]
    return chat_id, turns


def test_chats_survive_reopening_the_file_newest_first(tmp_path: Path, answers: dict[str, Any]) -> None:
    path = tmp_path / "chats.sqlite3"
    first, _ = _fill(ChatStore(path), answers)
    second = ChatStore(path).create("Second chat")
    again = ChatStore(path)  # a restart: a new object on the same file
    assert [c.id for c in again.list()] == [second, first]
    chat = again.get(first)
    assert [t.question for t in chat.turns] == [answers["id"]["question"], answers["en"]["question"]]
    assert chat.turns[0].answer == answers["id"]  # citations, quotes and offsets as they were
    assert again.list()[1].turns == 2
    ChatStore(path).add_turn(second, answers["en"]["question"], answers["en"])
    assert [c.id for c in again.list()] == [second, first]


def test_rename_delete_and_owners(tmp_path: Path, answers: dict[str, Any]) -> None:
    store = ChatStore(tmp_path / "c.sqlite3")
    mine, turns = _fill(store, answers, owner="ann")
    theirs, _ = _fill(store, answers, owner="bob")
    assert [c.id for c in store.list("ann")] == [mine]
    with pytest.raises(ChatNotFoundError):
        store.get(theirs, owner="ann")
    with pytest.raises(ChatNotFoundError):
        store.rename(theirs, "mine now", owner="ann")
    store.rename(mine, "  Korea   pact  ", owner="ann")
    assert store.get(mine).title == "Korea pact"
    with pytest.raises(ValueError, match="empty"):
        store.rename(mine, "   ")
    store.rate(turns[0], -1, "wrong date")
    store.delete(mine, owner="ann")
    with pytest.raises(ChatNotFoundError):
        store.get(mine)
    assert store.feedback() == []  # the chat's feedback went with it
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM turns WHERE chat_id = ?", (mine,)).fetchone()[0] == 0
    assert [c.id for c in store.list(None)] == [theirs]


def test_default_title_is_cut_at_a_word() -> None:
    long = "Apa " + "kata " * 40
    assert default_title(long).endswith("…") and len(default_title(long)) <= 81
    assert default_title("  Siapa   Belousov? ") == "Siapa Belousov?"


def test_markdown_export_lists_each_answers_sources(tmp_path: Path, answers: dict[str, Any]) -> None:
    store = ChatStore(tmp_path / "c.sqlite3")
    chat_id, _ = _fill(store, answers)
    md = chat_markdown(store.get(chat_id))
    first = answers["id"]["citations"][0]
    assert md.startswith(f"# {default_title(answers['id']['question'])}\n")
    assert f"## {answers['id']['question']}" in md and f"## {answers['en']['question']}" in md
    assert answers["id"]["text"] in md  # with its [n] markers
    assert f"{first['n']}. " in md and f"“{first['title']}”" in md
    assert f"   > {' '.join(first['quote'].split())}" in md
    assert md.count("**Sources**") == 2
    data = chat_json(store.get(chat_id))
    assert data["turns"][1]["answer"]["citations"] == answers["en"]["citations"]
    json.dumps(data)


def test_feedback_becomes_question_set_records(tmp_path: Path, answers: dict[str, Any]) -> None:
    store = ChatStore(tmp_path / "c.sqlite3")
    chat_id = store.create("x")
    up = store.add_turn(chat_id, answers["id"]["question"], answers["id"])
    down = store.add_turn(chat_id, answers["en"]["question"], answers["en"])
    refusal = store.add_turn(chat_id, answers["refused"]["question"], answers["refused"])
    store.rate(up, 1)
    store.rate(down, 1)
    store.rate(down, -1, "It should name Sergei Shoigu in full")  # a second verdict replaces the first
    store.rate(down, -1)  # ... and a thumb without a comment keeps the comment
    store.rate(refusal, 1)
    with pytest.raises(ValueError):
        store.rate(up, 0)
    with pytest.raises(ChatNotFoundError):
        store.rate("nope", 1)
    records = {r["id"]: r for r in map(feedback_question, store.feedback())}
    good = records[f"fb-{up}"]
    assert good["answerable"] is True and good["language"] == "id"
    assert good["gold_articles"] == [answers["id"]["citations"][0]["doc_id"]]
    assert "[" not in good["answers"][0] and "12 November 2024" in good["answers"][0]
    bad = records[f"fb-{down}"]
    assert bad["review"] is True and bad["answers"] == [] and bad["gold_articles"] == []
    assert bad["feedback"]["comment"] == "It should name Sergei Shoigu in full"
    assert records[f"fb-{refusal}"]["answerable"] is False


def test_cli_chats_and_feedback(
    tmp_path: Path, answers: dict[str, Any], monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    from qa.cli import main

    db = tmp_path / "chats.sqlite3"
    monkeypatch.setenv("NEWSQA_CHATS_DB", str(db))
    get_settings.cache_clear()  # the CLI reads the process-wide settings; earlier tests may have built them
    request.addfinalizer(get_settings.cache_clear)
    store = ChatStore(db)
    chat_id, turns = _fill(store, answers)
    store.rate(turns[1], -1, "too short")
    runner = CliRunner()

    listing = runner.invoke(main, ["chats", "list", "--json"])
    assert listing.exit_code == 0, listing.output
    assert json.loads(listing.output)[0]["id"] == chat_id
    assert chat_id in runner.invoke(main, ["chats", "list"]).output

    shown = runner.invoke(main, ["chats", "show", chat_id])
    assert shown.exit_code == 0 and answers["id"]["text"] in shown.output

    out = tmp_path / "chat.md"
    assert runner.invoke(main, ["chats", "export", chat_id, str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == chat_markdown(store.get(chat_id))
    out_json = tmp_path / "chat.json"
    assert runner.invoke(main, ["chats", "export", chat_id, str(out_json), "--format", "json"]).exit_code == 0
    assert json.loads(out_json.read_text(encoding="utf-8"))["id"] == chat_id

    fb = tmp_path / "fb" / "feedback.jsonl"
    result = runner.invoke(main, ["feedback", "export", str(fb)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in fb.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [f"fb-{turns[1]}"] and rows[0]["review"] is True

    missing = runner.invoke(main, ["chats", "show", "nope"])
    assert missing.exit_code == 2 and "no saved chat" in missing.output
    assert runner.invoke(main, ["chats", "delete", chat_id, "--yes"]).exit_code == 0
    assert store.list(None) == []
