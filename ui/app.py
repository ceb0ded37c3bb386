"""The web chat: a Gradio Blocks app over ``QAService`` with streaming answers, sources and uploads.

Design notes (why it is built this way):

* One ``QAService`` per app, shared by every browser session: the embedder, the store client and any local
  LLM are loaded once; per-session data (chat history, past answers) lives in ``gr.State``.
* ``service.stream()`` yields the evidence before any answer text, so the sources panel is filled the moment
  retrieval is done and the reader can start checking sources while the answer is still being written.
* Chat bubbles and the sources panel are built by ``ui.render``, which escapes every piece of user and article
  text. Citation markers are ``<a class="nqa-cite" href="#nqa-<turn>-<n>">`` links; a small script installed
  by the sources panel opens the matching card (or asks the server to show the sources of an older answer).
* ``/ask`` is the only documented API endpoint (``gr.api``); UI handlers are private, except ``/upload``
  which is callable but undocumented, so scripts and tests can add articles the same way the page does.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr
import httpx

from qa.pipeline import AnswerEvent, EvidenceEvent, QAService, QuestionError, TokenEvent, get_service
from qa.settings import Settings
from ui.i18n import DEFAULT_LANG, UILang, count, human_size, normalize_lang, t
from ui.render import (
    CSS,
    UploadLine,
    answer_html,
    error_html,
    question_html,
    render_answer,
    render_error,
    render_evidence,
    render_placeholder,
    render_searching,
    render_upload_report,
    upload_hint,
)
from vectorstore.loaders import SUPPORTED_SUFFIXES
from vectorstore.store import StoreError, StoreNotFoundError

log = logging.getLogger(__name__)

EXAMPLES: tuple[str, ...] = (
    "Who did Belousov replace?",
    "Kapan Korea Utara meratifikasi pakta pertahanan?",
    "Siapa penasihat keamanan nasional Presiden Yoon?",
    "What was Belousov's profession before becoming defence minister?",
)
BACKENDS: tuple[str, ...] = ("auto", "extractive", "llamacpp", "openai")
LANG_CHOICES: list[tuple[str, str]] = [("Bahasa Indonesia", "id"), ("English", "en")]
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_TARGET = re.compile(r"^nqa-([A-Za-z0-9]+)-(r?\d+)$")

# Runs in the browser when the sources panel mounts (gr.HTML js_on_load). One capture-phase listener on the
# document handles every citation marker, including those in answers rendered later.
PANEL_JS = r"""
window.__nqaTrigger = trigger;
window.__nqaOpen = function (id) {
  const card = id ? document.getElementById(id) : null;
  if (!card) return false;
  const details = card.querySelector('details');
  if (details) details.open = true;
  // Scroll the article so its highlighted passage is visible, then the panel (not the page) to the card,
  // so the answer being read stays where it is.
  const body = card.querySelector('.nqa-body');
  const mark = body && body.querySelector('mark.nqa-hl-primary');
  if (mark) {
    body.scrollTop += mark.getBoundingClientRect().top - body.getBoundingClientRect().top - 24;
  }
  let box = card.parentElement;
  while (box && box !== document.body) {
    const overflow = getComputedStyle(box).overflowY;
    if ((overflow === 'auto' || overflow === 'scroll') && box.scrollHeight > box.clientHeight + 1) break;
    box = box.parentElement;
  }
  if (box && box !== document.body) {
    const top = card.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop - 8;
    box.scrollTo({top: top, behavior: 'smooth'});
    const r = box.getBoundingClientRect();
    if (r.bottom < 0 || r.top > window.innerHeight) box.scrollIntoView({block: 'nearest'});
  } else {
    card.scrollIntoView({behavior: 'smooth', block: 'nearest'});
  }
  card.classList.add('nqa-flash');
  setTimeout(function () { card.classList.remove('nqa-flash'); }, 1600);
  return true;
};
if (!window.__nqaCiteHandler) {
  window.__nqaCiteHandler = true;
  document.addEventListener('click', function (e) {
    const link = e.target && e.target.closest ? e.target.closest('a.nqa-cite') : null;
    if (!link) return;
    e.preventDefault();
    e.stopPropagation();
    const id = (link.getAttribute('href') || '').replace(/^#/, '');
    if (!window.__nqaOpen(id) && window.__nqaTrigger) window.__nqaTrigger('click', {target: id});
  }, true);
}
watch('value', function () {
  const focus = element.querySelector('.nqa-focus');
  if (focus) window.__nqaOpen(focus.id);
});
"""

# Browser language -> interface language, before the Python side renders the labels.
DETECT_LANG_JS = """
(lang, shown, past) => {
  const langs = (navigator.languages && navigator.languages.length)
    ? navigator.languages : [navigator.language];
  const first = String(langs[0] || '').toLowerCase();
  return [first.startsWith('en') ? 'en' : 'id', shown, past];
}
"""

THEME = gr.themes.Soft(
    primary_hue="blue",
    neutral_hue="slate",
    font=["Inter", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
)


# --- helpers shared by the handlers (module level so tests can use them directly) -------------------------


def safe_filename(name: str, default: str = "upload") -> str:
    """A name that is safe to create inside the upload folder.

    Only the last path component is kept (``../../etc/passwd.txt`` -> ``passwd.txt``, Windows separators
    included), accents are folded to ASCII, anything outside ``[A-Za-z0-9._-]`` becomes ``_``, leading dots
    are removed (hidden files are ignored by the loader), and the suffix is lower-cased so the loader
    recognises it. The stem is kept because it becomes the article id: re-uploading the same file updates it.
    """
    base = re.split(r"[\\/]", str(name))[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFKD", base) if not unicodedata.combining(ch))
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _NAME_CHARS.sub("_", stem).strip("._-")[:100] or default
    suffix = _NAME_CHARS.sub("", suffix).lower()[:12]
    return f"{stem}.{suffix}" if suffix else stem


def store_upload(src: Path, original_name: str, upload_dir: Path) -> Path:
    """Copy an uploaded file into ``upload_dir`` under a sanitised name, atomically, and never outside it."""
    root = upload_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    dest = (root / safe_filename(original_name)).resolve()
    if dest.parent != root:  # cannot happen with safe_filename; checked anyway because it is the invariant
        raise ValueError(f"refusing to write outside {root}")
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".partial-")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


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


def is_store_outage(exc: BaseException) -> bool:
    """True when the error (or what caused it) means the Chroma store cannot be reached or read.

    The store wraps failures it sees while *opening*; a server that dies later surfaces as the HTTP
    client's own transport error from inside chromadb, so the cause chain is checked too.
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, StoreError | ConnectionError | httpx.TransportError):
            return True
        if type(cur).__module__.startswith("chromadb"):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def describe_error(exc: BaseException, lang: UILang) -> str:
    """A one-line message for the reader; the traceback goes to the log, not the page."""
    if isinstance(exc, QuestionError):
        return t(lang, "error_question", msg=str(exc))
    if isinstance(exc, StoreNotFoundError):
        return t(lang, "error_empty")
    if isinstance(exc, StoreError):
        return t(lang, "error_store", msg=str(exc))
    if is_store_outage(exc):
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return t(lang, "error_store", msg=detail)
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    return t(lang, "error_other", msg=f"{type(exc).__name__}: {detail}")


def warm_up(service: QAService) -> None:
    """Load the embedder, open the store and build the keyword index before the first visitor asks.

    Without it the first question pays several seconds of model loading; failures (no store yet, Chroma
    down) are only logged, because the page must come up anyway and will say what is wrong when asked.
    """
    try:
        service.warm_up()
    except Exception as exc:  # noqa: BLE001 - best effort by design
        log.warning("warm-up skipped: %s", exc)


def _estimate_articles(path: Path) -> int:
    """Articles in a file, for the progress bar: one per text/HTML file, one per non-empty JSONL line."""
    if path.suffix.lower() != ".jsonl":
        return 1
    try:
        with path.open("rb") as fh:
            return max(1, sum(1 for line in fh if line.strip()))
    except OSError:
        return 1


class NewsQABlocks(gr.Blocks):
    """``gr.Blocks`` whose ``launch()`` brings the app's theme, CSS and footer along.

    Gradio 6 moved ``css``/``theme`` from the constructor to ``launch()``; this keeps a bare
    ``build_app(...).launch(...)`` (as the tests and ``serve()`` do) looking the same as the real thing.
    """

    def launch(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("theme", THEME)
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("footer_links", ["api"])
        return super().launch(*args, **kwargs)


# --- the app ------------------------------------------------------------------------------------------------


def build_app(settings: Settings, service: QAService | None = None) -> gr.Blocks:
    """The whole page, wired to one shared ``QAService`` (created here when not given)."""
    service = service or get_service(settings=settings)
    upload_lock = threading.Lock()
    allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))

    # -- handlers ---------------------------------------------------------------------------------------

    def respond(
        question: str,
        chat: list[dict[str, Any]] | None,
        turns: list[dict[str, str]] | None,
        answers: dict[str, dict[str, Any]] | None,
        k: float,
        since: str,
        until: str,
        backend: str,
        lang: str,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream one exchange: user bubble, evidence panel, growing answer, then the verified answer."""
        ui = normalize_lang(lang)
        chat = list(chat or [])
        turns = list(turns or [])
        answers = dict(answers or {})
        text = " ".join(str(question or "").split())
        if not text:
            gr.Warning(t(ui, "empty_question"))
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        turn = uuid.uuid4().hex[:10]
        chat.append({"role": "user", "content": question_html(text)})
        chat.append({"role": "assistant", "content": answer_html("", turn, pending=t(ui, "pending_search"))})
        yield chat, render_searching(ui, text), "", turns, answers, gr.skip()

        try:
            day_from, day_to = check_day(since), check_day(until)
        except ValueError as exc:
            message = t(ui, "error_dates", msg=str(exc))
            gr.Warning(message)
            chat[-1] = {"role": "assistant", "content": error_html(message)}
            yield chat, render_error(ui, message), gr.skip(), turns, answers, gr.skip()
            return

        started = time.perf_counter()
        streamed = ""
        known: list[int] = []
        articles: dict[str, str | None] = {}
        try:
            events = service.stream(
                text,
                turns,
                k=int(k) if k else None,
                since=day_from,
                until=day_to,
                backend=backend or None,
            )
            for event in events:
                if isinstance(event, EvidenceEvent):
                    evidence = [asdict(ev) for ev in event.evidence]
                    known = [ev.n for ev in event.evidence]
                    articles = fetch_articles(service, evidence)
                    chat[-1] = {
                        "role": "assistant",
                        "content": answer_html("", turn, pending=t(ui, "pending_answer")),
                    }
                    log.debug(
                        "turn %s: sources ready after %.3fs (retrieval %.3fs)",
                        turn,
                        time.perf_counter() - started,
                        event.retrieve_s,
                    )
                    yield chat, render_evidence(turn, evidence, articles, ui), gr.skip(), turns, answers, turn
                elif isinstance(event, TokenEvent):
                    streamed += event.text
                    chat[-1] = {
                        "role": "assistant",
                        "content": answer_html(streamed, turn, known=known, pending="…"),
                    }
                    yield chat, gr.skip(), gr.skip(), turns, answers, gr.skip()
                elif isinstance(event, AnswerEvent):
                    final = event.answer.to_dict()
                    answers[turn] = final
                    turns = [
                        *turns,
                        {"role": "user", "content": text},
                        {"role": "assistant", "content": event.answer.text},
                    ]
                    shown = final["citations"] + final["related"]
                    missing = [s for s in shown if s["doc_id"] not in articles]
                    articles.update(fetch_articles(service, missing))
                    chat[-1] = {
                        "role": "assistant",
                        "content": answer_html(
                            event.answer.text,
                            turn,
                            known=[c["n"] for c in final["citations"]],
                            notice=event.answer.notice,
                            refused=event.answer.refused,
                        ),
                    }
                    log.debug("turn %s: answer ready after %.3fs", turn, time.perf_counter() - started)
                    yield chat, render_answer(turn, final, articles, ui), gr.skip(), turns, answers, turn
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message; the app stays up
            if not isinstance(exc, QuestionError | StoreError):
                log.exception("answering %r failed", text)
            elif isinstance(exc, StoreError):
                log.warning("answering %r failed: %s", text, exc)
            message = describe_error(exc, ui)
            gr.Warning(message)
            chat[-1] = {"role": "assistant", "content": error_html(message)}
            yield chat, render_error(ui, message), gr.skip(), turns, answers, gr.skip()

    def new_chat(lang: str) -> tuple[Any, ...]:
        """Forget the conversation: chat, follow-up history, past answers and the sources panel."""
        return [], [], {}, "", render_placeholder(normalize_lang(lang)), ""

    def show_turn(answers: dict[str, dict[str, Any]] | None, lang: str, evt: gr.EventData) -> tuple[Any, Any]:
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
            articles = fetch_articles(service, answer["citations"] + answer["related"])
        except Exception as exc:  # noqa: BLE001
            return render_error(ui, describe_error(exc, ui)), gr.skip()
        latest = next(reversed(answers))
        return render_answer(turn, answer, articles, ui, focus=focus, earlier=turn != latest), turn

    def ingest_uploads(files: list[str] | None, lang: str, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        """Check, copy and ingest uploaded article files, reporting the outcome of each one."""
        ui = normalize_lang(lang)
        paths = [Path(str(f)) for f in (files or []) if f]
        if not paths:
            return render_upload_report([], t(ui, "up_none"), ui)
        lines: list[UploadLine] = []
        accepted: list[tuple[str, Path]] = []
        for src in paths:
            name = src.name
            suffix = Path(name).suffix.lower()
            if suffix not in SUPPORTED_SUFFIXES:
                detail = t(ui, "up_refused_type", suffix=suffix or "(—)", allowed=allowed)
                lines.append(UploadLine(name, "refused", detail))
                continue
            try:
                size = src.stat().st_size
            except OSError as exc:
                lines.append(UploadLine(name, "failed", t(ui, "up_failed", msg=exc.strerror or str(exc))))
                continue
            if size > settings.upload_max_bytes:
                detail = t(
                    ui, "up_refused_size", size=human_size(size), limit=human_size(settings.upload_max_bytes)
                )
                lines.append(UploadLine(name, "refused", detail))
                continue
            if size == 0:
                lines.append(UploadLine(name, "refused", t(ui, "up_refused_empty")))
                continue
            accepted.append((name, src))

        counts = {"new": 0, "updated": 0, "unchanged": 0, "skipped": 0}
        if accepted:
            with upload_lock:
                lines += _ingest_accepted(accepted, ui, counts, progress)
        refused = sum(1 for line in lines if line.status in ("refused", "failed"))
        summary = t(ui, "up_summary", refused=refused, **counts)
        return render_upload_report(lines, summary, ui)

    def _ingest_accepted(
        accepted: list[tuple[str, Path]], ui: UILang, counts: dict[str, int], progress: gr.Progress
    ) -> list[UploadLine]:
        from vectorstore.service import ingest_paths, open_store

        lines: list[UploadLine] = []
        stored = [(name, store_upload(src, name, settings.upload_dir)) for name, src in accepted]
        total = sum(_estimate_articles(dest) for _, dest in stored) or 1
        done = 0
        progress(0, desc=t(ui, "up_progress", name=stored[0][1].name))
        try:
            store = service.store
        except StoreNotFoundError:
            store = open_store(settings, create=True)
        for _name, dest in stored:
            offset = done

            def tick(n: int, offset: int = offset, label: str = dest.name) -> None:
                progress(min(1.0, (offset + n) / total), desc=t(ui, "up_progress", name=label))

            try:
                report = ingest_paths(settings, [dest], store=store, progress=False, on_article=tick)
            except Exception as exc:  # noqa: BLE001 - reported per file
                log.exception("ingesting %s failed", dest)
                lines.append(UploadLine(dest.name, "failed", t(ui, "up_failed", msg=describe_error(exc, ui))))
                continue
            done += _estimate_articles(dest)
            counts["new"] += report.new
            counts["updated"] += report.updated
            counts["unchanged"] += report.unchanged
            counts["skipped"] += len(report.skipped)
            details: list[str] = []
            if report.new:
                details.append(f"{t(ui, 'up_new')} ({count(ui, 'up_articles', report.new)})")
            if report.updated:
                details.append(f"{t(ui, 'up_updated')} ({count(ui, 'up_articles', report.updated)})")
            if report.chunks:
                details.append(count(ui, "up_chunks", report.chunks))
            if report.unchanged:
                details.append(t(ui, "up_unchanged"))
            for skipped in report.skipped:
                details.append(t(ui, "up_skipped", reason=skipped.reason))
            if report.near_duplicates:
                details.append(t(ui, "up_near_dup", n=len(report.near_duplicates)))
            status = (
                "new"
                if report.new
                else "updated"
                if report.updated
                else "unchanged"
                if report.unchanged
                else "skipped"
            )
            lines.append(UploadLine(dest.name, status, "; ".join(details)))
        progress(1.0)
        return lines

    def ask(question: str, history: list | None = None) -> dict:  # type: ignore[type-arg]
        """Answer a question over the news archive.

        Arguments: the question (Indonesian or English) and the chat history so far (a list of
        {"role", "content"} messages or [user, assistant] pairs; may be empty). Returns the same JSON as
        `newsqa ask --json`: text with [n] markers, language, refused, citations (n, doc_id, title, outlet,
        published, url, quote, start, end, score), related, backend, notice, timings.
        """
        try:
            answer = service.answer(question, normalize_history(history))
        except QuestionError as exc:
            raise gr.Error(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - the client gets a readable message, the log the traceback
            if not isinstance(exc, StoreError):
                log.exception("/ask failed for %r", question)
            raise gr.Error(describe_error(exc, "en")) from exc
        return answer.to_dict()

    # -- layout -------------------------------------------------------------------------------------------

    lang0: UILang = DEFAULT_LANG
    with NewsQABlocks(title="Tanya Berita · News Q&A", analytics_enabled=False, fill_width=True) as demo:
        turns = gr.State([])
        answers = gr.State({})
        current = gr.State("")

        with gr.Row(elem_id="nqa-header", equal_height=True):
            header = gr.Markdown(_header_md(lang0), elem_id="nqa-title")
            lang = gr.Radio(
                choices=LANG_CHOICES,
                value=lang0,
                label=t(lang0, "language_label"),
                elem_id="nqa-lang",
                show_label=False,
                container=False,
                scale=0,
                min_width=280,
            )

        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chat = gr.Chatbot(
                    label=t(lang0, "chat_label"),
                    placeholder=t(lang0, "chat_placeholder"),
                    elem_id="nqa-chat",
                    height=500,
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=[],
                    sanitize_html=True,
                    group_consecutive_messages=False,
                )
                with gr.Row(equal_height=True):
                    question = gr.Textbox(
                        show_label=False,
                        placeholder=t(lang0, "question_placeholder"),
                        lines=1,
                        max_lines=4,
                        scale=6,
                        elem_id="nqa-question",
                        autofocus=True,
                    )
                    send = gr.Button(
                        t(lang0, "send"), variant="primary", scale=1, min_width=90, elem_id="nqa-send"
                    )
                    clear = gr.Button(
                        t(lang0, "new_chat"), variant="secondary", scale=1, min_width=140, elem_id="nqa-new"
                    )
                examples_md = gr.Markdown(f"**{t(lang0, 'examples')}**", elem_id="nqa-examples-title")
                with gr.Row(elem_id="nqa-examples"):
                    example_buttons = [
                        gr.Button(q, size="sm", variant="secondary", min_width=180) for q in EXAMPLES
                    ]
                with gr.Accordion(t(lang0, "settings"), open=False, elem_id="nqa-settings") as settings_box:
                    with gr.Row():
                        k = gr.Slider(
                            1,
                            20,
                            value=settings.k,
                            step=1,
                            label=t(lang0, "k_label"),
                            info=t(lang0, "k_info"),
                        )
                        backend = gr.Dropdown(
                            list(BACKENDS),
                            value=settings.backend,
                            label=t(lang0, "backend_label"),
                            info=t(lang0, "backend_info"),
                        )
                    with gr.Row():
                        since = gr.Textbox(
                            label=t(lang0, "since_label"), placeholder=t(lang0, "date_placeholder")
                        )
                        until = gr.Textbox(
                            label=t(lang0, "until_label"), placeholder=t(lang0, "date_placeholder")
                        )
                with gr.Accordion(t(lang0, "upload"), open=False, elem_id="nqa-upload") as upload_box:
                    hint = gr.HTML(upload_hint(lang0, settings.upload_max_bytes), js_on_load=None)
                    files = gr.File(
                        label=t(lang0, "upload_files"),
                        file_count="multiple",
                        type="filepath",
                        elem_id="nqa-files",
                    )
                    upload_btn = gr.Button(
                        t(lang0, "upload_button"), variant="primary", elem_id="nqa-upload-btn"
                    )
                    report = gr.HTML("", elem_id="nqa-upload-report", js_on_load=None)
            with gr.Column(scale=2, min_width=340, elem_id="nqa-sources-col"):
                sources = gr.HTML(render_placeholder(lang0), elem_id="nqa-sources", js_on_load=PANEL_JS)

        # -- events -----------------------------------------------------------------------------------------
        chat_inputs = [question, chat, turns, answers, k, since, until, backend, lang]
        chat_outputs = [chat, sources, question, turns, answers, current]
        common: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
        question.submit(respond, chat_inputs, chat_outputs, **common)
        send.click(respond, chat_inputs, chat_outputs, **common)
        for button, example in zip(example_buttons, EXAMPLES, strict=True):
            button.click(lambda q=example: q, None, question, **common).then(
                respond, chat_inputs, chat_outputs, **common
            )
        clear.click(new_chat, [lang], [chat, turns, answers, current, sources, question], **common)
        chat.clear(new_chat, [lang], [chat, turns, answers, current, sources, question], **common)
        sources.click(show_turn, [answers, lang], [sources, current], **common)
        upload_btn.click(
            ingest_uploads,
            [files, lang],
            [report],
            api_name="upload",
            api_visibility="undocumented",
            concurrency_limit=1,
        )

        translated = [header, lang, chat, question, send, clear, examples_md, settings_box, k, backend, since]
        translated += [until, upload_box, hint, files, upload_btn, sources]

        def apply_lang(value: str, shown: str, past: dict[str, dict[str, Any]] | None) -> list[Any]:
            """Relabel the whole interface; answers already given keep their own language."""
            ui = normalize_lang(value)
            panel: Any = render_placeholder(ui)
            if shown and past and shown in past:
                try:
                    arts = fetch_articles(service, past[shown]["citations"] + past[shown]["related"])
                    panel = render_answer(shown, past[shown], arts, ui)
                except Exception:  # noqa: BLE001 - keep whatever is shown
                    panel = gr.skip()
            elif shown:
                panel = gr.skip()
            return [
                _header_md(ui),
                gr.update(value=ui, label=t(ui, "language_label")),
                gr.update(label=t(ui, "chat_label"), placeholder=t(ui, "chat_placeholder")),
                gr.update(placeholder=t(ui, "question_placeholder")),
                gr.update(value=t(ui, "send")),
                gr.update(value=t(ui, "new_chat")),
                f"**{t(ui, 'examples')}**",
                gr.update(label=t(ui, "settings")),
                gr.update(label=t(ui, "k_label"), info=t(ui, "k_info")),
                gr.update(label=t(ui, "backend_label"), info=t(ui, "backend_info")),
                gr.update(label=t(ui, "since_label"), placeholder=t(ui, "date_placeholder")),
                gr.update(label=t(ui, "until_label"), placeholder=t(ui, "date_placeholder")),
                gr.update(label=t(ui, "upload")),
                upload_hint(ui, settings.upload_max_bytes),
                gr.update(label=t(ui, "upload_files")),
                gr.update(value=t(ui, "upload_button")),
                panel,
            ]

        lang.input(apply_lang, [lang, current, answers], translated, **common)
        demo.load(apply_lang, [lang, current, answers], translated, js=DETECT_LANG_JS, **common)

        gr.api(ask, api_name="ask", concurrency_limit=settings.concurrency_limit)

    demo.queue(default_concurrency_limit=settings.concurrency_limit)
    return demo


def _header_md(lang: str) -> str:
    return f"# {t(lang, 'title')}\n{t(lang, 'subtitle')}"


def _parse_auth(auth: str | None) -> tuple[str, str] | None:
    """'user:pass' -> ("user", "pass"); the password may itself contain ':'."""
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ValueError("auth must look like 'user:password'")
    return user, password


def serve(settings: Settings, *, block: bool = True) -> Any:
    """Start the web app on ``settings.host:settings.port`` (never a public share link)."""
    service = get_service(settings=settings)
    warm_up(service)
    demo = build_app(settings, service)  # queue(default_concurrency_limit=...) is set by build_app
    return demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        auth=_parse_auth(settings.auth),
        max_file_size=max(settings.upload_max_bytes * 10, 10_000_000),
        prevent_thread_lock=not block,
        show_error=True,
    )
