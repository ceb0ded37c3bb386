"""The chat column's handlers: ask (streamed), start a new chat, show an older answer's sources.

Why a class: every handler needs the app's one ``QAService``, its settings and the saved-chat store; Gradio
takes bound methods as event handlers, and the methods can be called directly in tests.

Per-browser state lives in ``gr.State`` and is passed in and out: ``turns`` (plain-text history for
follow-up questions), ``answers`` (turn id -> ``Answer.to_dict()``, for the sources of older answers) and
``chat_id`` (the saved chat this conversation is written to; empty until its first answer).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import gradio as gr

from qa.chats import ChatStore, default_title
from qa.pipeline import AnswerEvent, EvidenceEvent, QAService, QuestionError, TokenEvent
from qa.settings import Settings
from ui.errors import describe_error
from ui.i18n import UILang, normalize_lang, t
from ui.render import (
    answer_html,
    error_html,
    question_html,
    render_answer,
    render_error,
    render_evidence,
    render_placeholder,
    render_searching,
)
from vectorstore.store import StoreError

log = logging.getLogger(__name__)

_TARGET = re.compile(r"^nqa-([A-Za-z0-9]+)-(r?\d+)$")


def normalize_history(history: Sequence[Any] | None) -> list[dict[str, str]]:
    """Chat history as ``[{"role", "content": str}]`` whatever shape it arrived in.

    Gradio 6 hands message content over as a list of ``{"type": "text", "text": ...}`` parts, API clients may
    send plain ``{"role", "content"}`` dicts or ``[user, assistant]`` pairs; the pipeline wants plain text.
    """
    out: list[dict[str, str]] = []
    for turn in history or []:
        if isinstance(turn, dict):
            role = str(turn.get("role", ""))
            text = _content_text(turn.get("content"))
            if role in ("user", "assistant") and text:
                out.append({"role": role, "content": text})
        elif isinstance(turn, list | tuple) and len(turn) >= 1:
            user = _content_text(turn[0])
            if user:
                out.append({"role": "user", "content": user})
            if len(turn) > 1 and (bot := _content_text(turn[1])):
                out.append({"role": "assistant", "content": bot})
    return out


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "").strip()
    if isinstance(content, list | tuple):
        return " ".join(p for p in (_content_text(c) for c in content) if p).strip()
    return ""


def check_day(value: str | None) -> str | None:
    """'' -> None; a valid ISO day passes; anything else raises ValueError with the offending text."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(repr(text)) from None
    return text[:10]


def fetch_articles(service: QAService, sources: Sequence[dict[str, Any]]) -> dict[str, str | None]:
    """Raw text of every article the panel will show, once each; ``None`` for one that is gone."""
    out: dict[str, str | None] = {}
    for src in sources:
        doc_id = str(src.get("doc_id", ""))
        if not doc_id or doc_id in out:
            continue
        got = service.store.get_article(doc_id)
        out[doc_id] = got[0] if got else None
    return out


def owner_of(request: gr.Request | None) -> str:
    """Whose chats these are: the logged-in user, or '' when the web chat has no login."""
    return str(getattr(request, "username", None) or "")


def final_bubble(turn: str, answer: dict[str, Any]) -> str:
    """An answer's chat bubble from its saved record (the same one a live answer ends with)."""
    return answer_html(
        answer["text"],
        turn,
        known=[c["n"] for c in answer["citations"]],
        notice=answer.get("notice", ""),
        refused=bool(answer.get("refused")),
    )


@dataclass
class Exchange:
    """One question being answered: what the page shows so far, and the state it will hand back."""

    text: str
    turn: str
    ui: UILang
    chat: list[dict[str, Any]]
    turns: list[dict[str, str]]
    answers: dict[str, dict[str, Any]]
    chat_id: str
    articles: dict[str, str | None] = field(default_factory=dict)

    def out(
        self, sources: Any = None, current: Any = None, chats: Any = None, title: Any = None
    ) -> tuple[Any, ...]:
        """The handler's outputs: chat, sources, question box, turns, answers, current, chat id, chat list,
        chat title."""
        sources, current, chats, title = (
            gr.skip() if x is None else x for x in (sources, current, chats, title)
        )
        return self.chat, sources, gr.skip(), self.turns, self.answers, current, self.chat_id, chats, title

    def bubble(self, html: str) -> None:
        self.chat[-1] = {"role": "assistant", "content": html}


class ChatHandlers:
    def __init__(self, settings: Settings, service: QAService, chats: ChatStore) -> None:
        self.settings, self.service, self.chats = settings, service, chats

    def respond(
        self,
        question: str,
        chat: list[dict[str, Any]] | None,
        turns: list[dict[str, str]] | None,
        answers: dict[str, dict[str, Any]] | None,
        chat_id: str,
        k: float,
        since: str,
        until: str,
        outlets: list[str] | None,
        backend: str,
        lang: str,
        request: gr.Request,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream one exchange: user bubble, evidence panel, growing answer, then the verified answer, which
        is saved to the conversation's chat."""
        options = (k, since, until, outlets, backend, lang)
        yield from self._exchange(question, chat, turns, answers, chat_id, options, request, False)

    def ask_model(
        self,
        chat: list[dict[str, Any]] | None,
        turns: list[dict[str, str]] | None,
        answers: dict[str, dict[str, Any]] | None,
        chat_id: str,
        k: float,
        since: str,
        until: str,
        outlets: list[str] | None,
        backend: str,
        lang: str,
        request: gr.Request,
    ) -> Iterator[tuple[Any, ...]]:
        """ "Ask the model": the last question again, queued for the language model even though it is busy
        (its quoted answer stays in the chat; the model's answer replaces it in the follow-up history)."""
        history = list(turns or [])
        if len(history) < 2 or history[-2].get("role") != "user":
            yield (gr.skip(),) * 9
            return
        question, earlier = history[-2]["content"], history[:-2]
        options = (k, since, until, outlets, backend, lang)
        yield from self._exchange(question, chat, earlier, answers, chat_id, options, request, True)

    def _exchange(
        self,
        question: str,
        chat: list[dict[str, Any]] | None,
        turns: list[dict[str, str]] | None,
        answers: dict[str, dict[str, Any]] | None,
        chat_id: str,
        options: tuple[Any, ...],
        request: gr.Request,
        wait_for_model: bool,
    ) -> Iterator[tuple[Any, ...]]:
        k, since, until, outlets, backend, lang = options
        ui = normalize_lang(lang)
        text = " ".join(str(question or "").split())
        if not text:
            gr.Warning(t(ui, "empty_question"))
            yield (gr.skip(),) * 9
            return
        history, past = list(turns or []), dict(answers or {})
        ex = Exchange(text, uuid.uuid4().hex[:10], ui, list(chat or []), history, past, chat_id or "")
        ex.chat.append({"role": "user", "content": question_html(text)})
        ex.chat.append(
            {"role": "assistant", "content": answer_html("", ex.turn, pending=t(ui, "pending_search"))}
        )
        first = ex.out(render_searching(ui, text))
        yield first[:2] + ("",) + first[3:]
        try:
            day_from, day_to = check_day(since), check_day(until)
        except ValueError as exc:
            yield self._failed(ex, t(ui, "error_dates", msg=str(exc)))
            return
        try:
            events = self.service.stream(
                text,
                ex.turns,
                k=int(k) if k else None,
                since=day_from,
                until=day_to,
                outlets=outlets or None,
                backend=backend or None,
                wait_for_model=wait_for_model,
            )
            yield from self._events(ex, events, owner_of(request))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message; the app stays up
            if not isinstance(exc, QuestionError | StoreError):
                log.exception("answering %r failed", text)
            elif isinstance(exc, StoreError):
                log.warning("answering %r failed: %s", text, exc)
            yield self._failed(ex, describe_error(exc, ui))

    def _events(self, ex: Exchange, events: Iterator[Any], owner: str) -> Iterator[tuple[Any, ...]]:
        started = time.perf_counter()
        streamed, known = "", []
        for event in events:
            if isinstance(event, EvidenceEvent):
                evidence = [asdict(ev) for ev in event.evidence]
                known = [ev.n for ev in event.evidence]
                ex.articles = fetch_articles(self.service, evidence)
                ex.bubble(answer_html("", ex.turn, pending=t(ex.ui, "pending_answer")))
                log.debug("turn %s: sources after %.3fs", ex.turn, time.perf_counter() - started)
                yield ex.out(render_evidence(ex.turn, evidence, ex.articles, ex.ui), ex.turn)
            elif isinstance(event, TokenEvent):
                streamed += event.text
                ex.bubble(answer_html(streamed, ex.turn, known=known, pending="…"))
                yield ex.out()
            elif isinstance(event, AnswerEvent):
                final = event.answer.to_dict()
                ex.answers[ex.turn] = final
                ex.turns += [
                    {"role": "user", "content": ex.text},
                    {"role": "assistant", "content": final["text"]},
                ]
                shown = final["citations"] + final["related"]
                ex.articles.update(
                    fetch_articles(self.service, [s for s in shown if s["doc_id"] not in ex.articles])
                )
                ex.bubble(final_bubble(ex.turn, final))
                chats, title = self._save(ex, final, owner)
                yield ex.out(render_answer(ex.turn, final, ex.articles, ex.ui), ex.turn, chats, title)

    def _save(self, ex: Exchange, final: dict[str, Any], owner: str) -> tuple[Any, Any]:
        """Write the answer to the saved chat (created on its first answer): the chat list, refreshed, and
        the new chat's title. A failure to save is logged and shown, never allowed to take the answer away."""
        try:
            title: Any = gr.skip()
            if not ex.chat_id:
                ex.chat_id = self.chats.create(ex.text, owner)
                title = default_title(ex.text)
            self.chats.add_turn(ex.chat_id, ex.text, final, turn_id=ex.turn)
            return chat_choices(self.chats, owner, ex.chat_id), title
        except Exception as exc:  # noqa: BLE001
            log.exception("saving the chat failed")
            gr.Warning(t(ex.ui, "error_save", msg=str(exc)))
            return gr.skip(), gr.skip()

    def _failed(self, ex: Exchange, message: str) -> tuple[Any, ...]:
        gr.Warning(message)
        ex.bubble(error_html(message))
        return ex.out(render_error(ex.ui, message))

    def new_chat(self, lang: str) -> tuple[Any, ...]:
        """Forget the conversation on the page (the saved chat stays in the list)."""
        return [], [], {}, "", render_placeholder(normalize_lang(lang)), "", "", gr.update(value=None), ""

    def panel(self, turn: str, answer: dict[str, Any], ui: UILang) -> Any:
        """The sources panel of a past answer, re-rendered (e.g. in another interface language)."""
        try:
            return render_answer(
                turn, answer, fetch_articles(self.service, answer["citations"] + answer["related"]), ui
            )
        except Exception:  # noqa: BLE001 - keep whatever is shown
            return gr.skip()

    def show_turn(
        self, answers: dict[str, dict[str, Any]] | None, lang: str, evt: gr.EventData
    ) -> tuple[Any, Any]:
        """A marker of an older answer was clicked: show that answer's sources with the card opened."""
        data = evt._data if isinstance(getattr(evt, "_data", None), dict) else {}
        m = _TARGET.match(str(data.get("target", "")))
        answers = answers or {}
        if not m or m.group(1) not in answers:
            return gr.skip(), gr.skip()
        turn, which = m.group(1), m.group(2)
        focus = int(which) if which.isdigit() else None
        answer = answers[turn]
        ui = normalize_lang(lang)
        try:
            articles = fetch_articles(self.service, answer["citations"] + answer["related"])
        except Exception as exc:  # noqa: BLE001
            return render_error(ui, describe_error(exc, ui)), gr.skip()
        latest = next(reversed(answers))
        return render_answer(turn, answer, articles, ui, focus=focus, earlier=turn != latest), turn


def chat_choices(chats: ChatStore, owner: str, selected: str | None = None) -> Any:
    """The saved-chat list as radio choices, newest first."""
    items = chats.list(owner)
    choices = [
        (f"{c.title} · {time.strftime('%Y-%m-%d %H:%M', time.localtime(c.updated))}", c.id) for c in items
    ]
    return gr.update(choices=choices, value=selected if selected in {c.id for c in items} else None)


def ask_model_button(answers: dict[str, dict[str, Any]] | None) -> Any:
    """Show "Ask the model" while the latest answer was quoted because the model was busy."""
    latest = next(reversed(answers), None) if answers else None
    return gr.update(visible=bool(latest and answers[latest].get("model_busy")))
