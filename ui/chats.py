"""The saved-chat list and answer feedback in the web chat: reopen, rename, delete, export, thumbs.

Chats are written by ``ui.chat`` as answers arrive; this module reads them back. A reopened chat shows its
answers with their sources exactly as saved (the quotes are stored with the answer), and further questions
continue it. With a login, each user sees only their own chats.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from qa.chat_export import chat_json, chat_markdown
from qa.chats import ChatNotFoundError, ChatStore
from qa.pipeline import QAService
from ui.chat import chat_choices, fetch_articles, final_bubble, owner_of
from ui.errors import describe_error
from ui.i18n import normalize_lang, t
from ui.render import question_html, render_answer, render_error, render_placeholder

log = logging.getLogger(__name__)

_TURN = re.compile(r'data-turn="([A-Za-z0-9]+)"')


class SavedChats:
    def __init__(self, service: QAService, chats: ChatStore) -> None:
        self.service, self.chats = service, chats

    def refresh(self, chat_id: str, request: gr.Request) -> Any:
        """The list as it is now (page load, after a change elsewhere)."""
        return chat_choices(self.chats, owner_of(request), chat_id)

    def open(self, chat_id: str | None, lang: str, request: gr.Request) -> tuple[Any, ...]:
        """Show a saved chat: its bubbles, the last answer's sources, and the state to continue it.

        Outputs: chat, turns, answers, current, sources, chat id, title box."""
        ui = normalize_lang(lang)
        if not chat_id:
            return (gr.skip(),) * 7
        try:
            saved = self.chats.get(chat_id, owner_of(request))
        except ChatNotFoundError as exc:
            gr.Warning(str(exc))
            return (gr.skip(),) * 7
        bubbles: list[dict[str, Any]] = []
        turns: list[dict[str, str]] = []
        answers: dict[str, dict[str, Any]] = {}
        for turn in saved.turns:
            bubbles.append({"role": "user", "content": question_html(turn.question)})
            bubbles.append({"role": "assistant", "content": final_bubble(turn.id, turn.answer)})
            turns += [
                {"role": "user", "content": turn.question},
                {"role": "assistant", "content": turn.answer["text"]},
            ]
            answers[turn.id] = turn.answer
        sources: Any = render_placeholder(ui)
        current = ""
        if saved.turns:
            current = saved.turns[-1].id
            last = answers[current]
            try:
                articles = fetch_articles(self.service, last["citations"] + last["related"])
                sources = render_answer(current, last, articles, ui)
            except Exception as exc:  # noqa: BLE001 - the chat still opens; the panel says what is wrong
                sources = render_error(ui, describe_error(exc, ui))
        return bubbles, turns, answers, current, sources, saved.id, saved.title

    def rename(self, chat_id: str, title: str, lang: str, request: gr.Request) -> Any:
        ui = normalize_lang(lang)
        if not chat_id:
            gr.Warning(t(ui, "chats_none_open"))
            return gr.skip()
        try:
            self.chats.rename(chat_id, title, owner_of(request))
        except (ChatNotFoundError, ValueError) as exc:
            gr.Warning(str(exc))
            return gr.skip()
        return chat_choices(self.chats, owner_of(request), chat_id)

    def delete(self, chat_id: str, lang: str, request: gr.Request) -> tuple[Any, ...]:
        """Delete the open chat and clear the page. Outputs: list, chat, turns, answers, current, sources,
        chat id, title box."""
        ui = normalize_lang(lang)
        if not chat_id:
            gr.Warning(t(ui, "chats_none_open"))
            return (gr.skip(),) * 8
        try:
            self.chats.delete(chat_id, owner_of(request))
        except ChatNotFoundError as exc:
            gr.Warning(str(exc))
        listing = chat_choices(self.chats, owner_of(request))
        return listing, [], [], {}, "", render_placeholder(ui), "", ""

    def export(self, chat_id: str, fmt: str, lang: str, request: gr.Request) -> Any:
        """The open chat as a Markdown or JSON file to download."""
        if not chat_id:
            gr.Warning(t(normalize_lang(lang), "chats_none_open"))
            return gr.skip()
        try:
            saved = self.chats.get(chat_id, owner_of(request))
        except ChatNotFoundError as exc:
            gr.Warning(str(exc))
            return gr.skip()
        folder = Path(tempfile.mkdtemp(prefix="newsqa-export-"))
        stem = re.sub(r"[^A-Za-z0-9]+", "-", saved.title).strip("-")[:50] or saved.id
        if fmt == "json":
            path = folder / f"{stem}.json"
            path.write_text(json.dumps(chat_json(saved), ensure_ascii=False, indent=2), encoding="utf-8")
        else:
            path = folder / f"{stem}.md"
            path.write_text(chat_markdown(saved), encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    def rate(self, lang: str, evt: gr.LikeData, request: gr.Request) -> tuple[Any, ...]:
        """A thumb on an answer bubble: stored at once; the comment box opens for that answer.

        Outputs: rated (turn id, rating), the comment group, its text box."""
        ui = normalize_lang(lang)
        m = _TURN.search(str(evt.value))
        if not m or evt.liked not in (True, False):
            return gr.skip(), gr.skip(), gr.skip()
        rating = 1 if evt.liked else -1
        try:
            self.chats.rate(m.group(1), rating, owner=owner_of(request))
        except ChatNotFoundError:
            gr.Warning(t(ui, "feedback_unsaved"))
            return gr.skip(), gr.skip(), gr.skip()
        label = t(ui, "feedback_comment_up" if rating > 0 else "feedback_comment_down")
        return [m.group(1), rating], gr.update(visible=True), gr.update(value="", label=label)

    def comment(self, rated: list[Any] | None, text: str, lang: str, request: gr.Request) -> tuple[Any, Any]:
        """Attach the comment to the answer just rated; the box closes. Outputs: the group, its text box."""
        ui = normalize_lang(lang)
        if not rated or not str(text or "").strip():
            return gr.update(visible=False), gr.skip()
        try:
            self.chats.rate(str(rated[0]), int(rated[1]), str(text), owner=owner_of(request))
        except ChatNotFoundError:
            gr.Warning(t(ui, "feedback_unsaved"))
            return gr.skip(), gr.skip()
        gr.Info(t(ui, "feedback_thanks"))
        return gr.update(visible=False), gr.update(value="")
