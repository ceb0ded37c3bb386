"""The web chat: a Gradio Blocks app over ``QAService`` with streaming answers, sources, saved chats,
feedback, uploads and an Articles tab, plus the OpenAI-compatible API on the same server.

Design notes (why it is built this way):

* One ``QAService`` per app, shared by every browser session: the embedder, the store client and any local
  LLM are loaded once; per-session data (chat history, past answers, the open chat) lives in ``gr.State``.
* This module only lays the page out and wires events; the handlers live in modules named for what they
  handle (``ui.chat``, ``ui.chats``, ``ui.uploads``, ``ui.articles``) and the API in ``ui.openai_api``.
* ``service.stream()`` yields the evidence before any answer text, so the sources panel is filled the moment
  retrieval is done and the reader can start checking sources while the answer is still being written.
* Chat bubbles and the sources panel are built by ``ui.render``, which escapes every piece of user and article
  text. Citation markers are ``<a class="nqa-cite" href="#nqa-<turn>-<n>">`` links; a small script installed
  by the sources panel opens the matching card (or asks the server to show the sources of an older answer).
* ``/ask`` is the documented Gradio endpoint (``gr.api``); UI handlers are private, except ``/upload``
  which is callable but undocumented, so scripts and tests can add articles the same way the page does.
* ``/v1/...`` (OpenAI-compatible) is added to Gradio's own FastAPI app when the app is launched, so it is
  on the same host and port as the page whichever way the app is started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import gradio as gr

from qa.chats import ChatStore
from qa.pipeline import QAService, QuestionError, get_service
from qa.settings import Settings
from ui.articles import COLUMNS, ArticlesTab
from ui.chat import ChatHandlers, ask_model_button, normalize_history
from ui.chats import SavedChats
from ui.errors import describe_error
from ui.i18n import DEFAULT_LANG, UILang, normalize_lang, t
from ui.openai_api import ChatAPI
from ui.render import CSS, render_placeholder, upload_hint
from ui.uploads import Uploads
from vectorstore.store import StoreError

log = logging.getLogger(__name__)

EXAMPLES: tuple[str, ...] = (
    "Who did Belousov replace?",
    "Kapan Korea Utara meratifikasi pakta pertahanan?",
    "Siapa penasihat keamanan nasional Presiden Yoon?",
    "What was Belousov's profession before becoming defence minister?",
)
BACKENDS: tuple[str, ...] = ("auto", "extractive", "llamacpp", "openai")
LANG_CHOICES: list[tuple[str, str]] = [("Bahasa Indonesia", "id"), ("English", "en")]
PRIVATE: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}

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


def warm_up(service: QAService) -> None:
    """Load the embedder, open the store and build the keyword index before the first visitor asks.

    Without it the first question pays several seconds of model loading; failures (no store yet, Chroma
    down) are only logged, because the page must come up anyway and will say what is wrong when asked.
    """
    try:
        service.warm_up()
    except Exception as exc:  # noqa: BLE001 - best effort by design
        log.warning("warm-up skipped: %s", exc)


class NewsQABlocks(gr.Blocks):
    """``gr.Blocks`` whose ``launch()`` brings the app's theme, CSS, footer and the /v1 API along.

    Gradio 6 moved ``css``/``theme`` from the constructor to ``launch()``, and the FastAPI app only exists
    once launched; this keeps a bare ``build_app(...).launch(...)`` (as the tests and ``serve()`` do) the
    same as the real thing.
    """

    chat_api: ChatAPI | None = None

    def launch(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("theme", THEME)
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("footer_links", ["api"])
        block = not kwargs.get("prevent_thread_lock", False)
        kwargs["prevent_thread_lock"] = True
        result = super().launch(*args, **kwargs)
        if self.chat_api is not None:
            self.server_app.include_router(self.chat_api.router)
        if block:
            self.block_thread()
        return result


# --- layout -------------------------------------------------------------------------------------------------


def _chats_column(lang0: UILang) -> SimpleNamespace:
    with gr.Column(scale=1, min_width=240, elem_id="nqa-chats-col"):
        title = gr.Markdown(f"**{t(lang0, 'chats')}**")
        listing = gr.Radio(
            choices=[], value=None, label=t(lang0, "chats_list"), elem_id="nqa-chat-list", interactive=True
        )
        chat_title = gr.Textbox(label=t(lang0, "chat_title"), elem_id="nqa-chat-title", max_lines=1)
        with gr.Row():
            rename = gr.Button(t(lang0, "chat_rename"), size="sm", elem_id="nqa-chat-rename")
            delete = gr.Button(t(lang0, "chat_delete"), size="sm", variant="stop", elem_id="nqa-chat-delete")
        with gr.Row():
            export_md = gr.Button(t(lang0, "chat_export_md"), size="sm", elem_id="nqa-export-md")
            export_json = gr.Button(t(lang0, "chat_export_json"), size="sm", elem_id="nqa-export-json")
        export_file = gr.File(
            label=t(lang0, "chat_export_file"), visible=False, interactive=False, elem_id="nqa-export-file"
        )
    return SimpleNamespace(
        chats_title=title, listing=listing, chat_title=chat_title, rename=rename, delete=delete,
        export_md=export_md, export_json=export_json, export_file=export_file,
    )  # fmt: skip


def _chat_column(settings: Settings, lang0: UILang) -> SimpleNamespace:
    c = SimpleNamespace()
    with gr.Column(scale=3, min_width=420):
        c.chat = gr.Chatbot(
            label=t(lang0, "chat_label"),
            placeholder=t(lang0, "chat_placeholder"),
            elem_id="nqa-chat",
            height=500,
            latex_delimiters=[],
            feedback_options=("Like", "Dislike"),
            buttons=[],
            sanitize_html=True,
            group_consecutive_messages=False,
        )
        with gr.Group(visible=False, elem_id="nqa-feedback") as c.feedback_box:
            c.feedback_text = gr.Textbox(label=t(lang0, "feedback_comment_down"), elem_id="nqa-feedback-text")
            c.feedback_send = gr.Button(t(lang0, "feedback_send"), size="sm", elem_id="nqa-feedback-send")
        c.ask_model = gr.Button(
            t(lang0, "ask_model"), visible=False, size="sm", variant="secondary", elem_id="nqa-ask-model"
        )
        with gr.Row(equal_height=True):
            c.question = gr.Textbox(
                show_label=False, placeholder=t(lang0, "question_placeholder"), lines=1, max_lines=4, scale=6,
                elem_id="nqa-question", autofocus=True,
            )  # fmt: skip
            c.send = gr.Button(t(lang0, "send"), variant="primary", scale=1, min_width=90, elem_id="nqa-send")
            c.new = gr.Button(
                t(lang0, "new_chat"), variant="secondary", scale=1, min_width=140, elem_id="nqa-new"
            )
        c.examples_md = gr.Markdown(f"**{t(lang0, 'examples')}**", elem_id="nqa-examples-title")
        with gr.Row(elem_id="nqa-examples"):
            c.examples = [gr.Button(q, size="sm", variant="secondary", min_width=180) for q in EXAMPLES]
        with gr.Accordion(t(lang0, "settings"), open=False, elem_id="nqa-settings") as c.settings_box:
            with gr.Row():
                c.k = gr.Slider(
                    1, 20, value=settings.k, step=1, label=t(lang0, "k_label"), info=t(lang0, "k_info")
                )
                c.backend = gr.Dropdown(
                    list(BACKENDS), value=settings.backend, label=t(lang0, "backend_label"),
                    info=t(lang0, "backend_info"),
                )  # fmt: skip
            with gr.Row():
                c.since = gr.Textbox(label=t(lang0, "since_label"), placeholder=t(lang0, "date_placeholder"))
                c.until = gr.Textbox(label=t(lang0, "until_label"), placeholder=t(lang0, "date_placeholder"))
                c.outlets = gr.Dropdown(
                    [], value=[], multiselect=True, label=t(lang0, "outlets_label"),
                    info=t(lang0, "outlets_info"), elem_id="nqa-outlets",
                )  # fmt: skip
        with gr.Accordion(t(lang0, "upload"), open=False, elem_id="nqa-upload") as c.upload_box:
            c.hint = gr.HTML(upload_hint(lang0, settings.upload_max_bytes), js_on_load=None)
            c.files = gr.File(
                label=t(lang0, "upload_files"), file_count="multiple", type="filepath", elem_id="nqa-files"
            )
            c.upload_btn = gr.Button(t(lang0, "upload_button"), variant="primary", elem_id="nqa-upload-btn")
            c.report = gr.HTML("", elem_id="nqa-upload-report", js_on_load=None)
    return c


def _articles_tab(lang0: UILang) -> SimpleNamespace:
    a = SimpleNamespace()
    with gr.Row():
        a.filter = gr.Textbox(label=t(lang0, "articles_filter"), elem_id="nqa-articles-filter", scale=4)
        a.refresh = gr.Button(t(lang0, "articles_refresh"), scale=1, elem_id="nqa-articles-refresh")
    a.status = gr.Markdown("", elem_id="nqa-articles-status")
    a.table = gr.Dataframe(
        headers=COLUMNS, value=[], interactive=False, wrap=True, elem_id="nqa-articles-table", max_height=520
    )
    with gr.Row():
        a.ids = gr.Textbox(label=t(lang0, "articles_ids"), elem_id="nqa-articles-ids", scale=4)
        a.delete = gr.Button(
            t(lang0, "articles_delete"), variant="stop", scale=1, elem_id="nqa-articles-delete"
        )
    return a


def _layout(settings: Settings, lang0: UILang) -> SimpleNamespace:
    """Every component of the page, by name (``p.chat``, ``p.listing``, ...)."""
    p = SimpleNamespace(turns=gr.State([]), answers=gr.State({}), current=gr.State(""), chat_id=gr.State(""))
    p.rated = gr.State(None)
    with gr.Row(elem_id="nqa-header", equal_height=True):
        p.header = gr.Markdown(_header_md(lang0), elem_id="nqa-title")
        p.lang = gr.Radio(
            choices=LANG_CHOICES, value=lang0, label=t(lang0, "language_label"), elem_id="nqa-lang",
            show_label=False, container=False, scale=0, min_width=280,
        )  # fmt: skip
    with gr.Tabs(elem_id="nqa-tabs"):
        with (
            gr.Tab(t(lang0, "tab_chat"), id="chat", elem_id="nqa-tab-chat") as p.tab_chat,
            gr.Row(equal_height=False),
        ):
            vars(p).update(vars(_chats_column(lang0)))
            vars(p).update(vars(_chat_column(settings, lang0)))
            with gr.Column(scale=2, min_width=340, elem_id="nqa-sources-col"):
                p.sources = gr.HTML(render_placeholder(lang0), elem_id="nqa-sources", js_on_load=PANEL_JS)
        with gr.Tab(t(lang0, "tab_articles"), id="articles", elem_id="nqa-tab-articles") as p.tab_articles:
            p.articles = _articles_tab(lang0)
    return p


# --- wiring -------------------------------------------------------------------------------------------------


def _wire_chat(p: SimpleNamespace, chat: ChatHandlers, saved: SavedChats) -> None:
    inputs = [
        p.question, p.chat, p.turns, p.answers, p.chat_id, p.k, p.since, p.until, p.outlets, p.backend, p.lang
    ]  # fmt: skip
    outputs = [
        p.chat,
        p.sources,
        p.question,
        p.turns,
        p.answers,
        p.current,
        p.chat_id,
        p.listing,
        p.chat_title,
    ]
    p.question.submit(chat.respond, inputs, outputs, **PRIVATE).then(
        ask_model_button, [p.answers], [p.ask_model], **PRIVATE
    )
    p.send.click(chat.respond, inputs, outputs, **PRIVATE).then(
        ask_model_button, [p.answers], [p.ask_model], **PRIVATE
    )
    p.ask_model.click(lambda: gr.update(visible=False), None, [p.ask_model], **PRIVATE).then(
        chat.ask_model, inputs[1:], outputs, **PRIVATE
    ).then(ask_model_button, [p.answers], [p.ask_model], **PRIVATE)
    for button, example in zip(p.examples, EXAMPLES, strict=True):
        button.click(lambda q=example: q, None, p.question, **PRIVATE).then(
            chat.respond, inputs, outputs, **PRIVATE
        )
    cleared = [
        p.chat,
        p.turns,
        p.answers,
        p.current,
        p.sources,
        p.question,
        p.chat_id,
        p.listing,
        p.chat_title,
    ]
    p.new.click(chat.new_chat, [p.lang], cleared, **PRIVATE)
    p.chat.clear(chat.new_chat, [p.lang], cleared, **PRIVATE)
    p.sources.click(chat.show_turn, [p.answers, p.lang], [p.sources, p.current], **PRIVATE)

    opened = [p.chat, p.turns, p.answers, p.current, p.sources, p.chat_id, p.chat_title]
    p.listing.input(saved.open, [p.listing, p.lang], opened, **PRIVATE)
    p.rename.click(saved.rename, [p.chat_id, p.chat_title, p.lang], [p.listing], **PRIVATE)
    p.chat_title.submit(saved.rename, [p.chat_id, p.chat_title, p.lang], [p.listing], **PRIVATE)
    deleted = [p.listing, p.chat, p.turns, p.answers, p.current, p.sources, p.chat_id, p.chat_title]
    p.delete.click(saved.delete, [p.chat_id, p.lang], deleted, **PRIVATE)
    for button, fmt in ((p.export_md, "md"), (p.export_json, "json")):
        button.click(saved.export, [p.chat_id, gr.State(fmt), p.lang], [p.export_file], **PRIVATE)
    p.chat.like(saved.rate, [p.lang], [p.rated, p.feedback_box, p.feedback_text], **PRIVATE)
    comment_io = ([p.rated, p.feedback_text, p.lang], [p.feedback_box, p.feedback_text])
    p.feedback_send.click(saved.comment, *comment_io, **PRIVATE)
    p.feedback_text.submit(saved.comment, *comment_io, **PRIVATE)


def _wire_articles(p: SimpleNamespace, tab: ArticlesTab) -> None:
    a = p.articles
    shown = [a.table, a.status]
    a.filter.change(tab.show, [a.filter, p.lang], shown, **PRIVATE)
    a.refresh.click(tab.show, [a.filter, p.lang], shown, **PRIVATE)
    p.tab_articles.select(tab.show, [a.filter, p.lang], shown, **PRIVATE)
    a.table.select(tab.pick, [a.ids], [a.ids], **PRIVATE)
    a.delete.click(
        tab.delete, [a.ids, a.filter, p.lang], [a.table, a.status, a.ids], **PRIVATE, concurrency_limit=1
    )


def _labels(p: SimpleNamespace, settings: Settings) -> list[tuple[Any, Callable[[UILang], Any]]]:
    """Each translated component with the update that relabels it in a given interface language."""
    a = p.articles

    def label(key: str, **extra: Any) -> Callable[[UILang], Any]:
        return lambda ui: gr.update(label=t(ui, key), **{k: t(ui, v) for k, v in extra.items()})

    def value(key: str) -> Callable[[UILang], Any]:
        return lambda ui: gr.update(value=t(ui, key))

    return [
        (p.header, _header_md),
        (p.lang, lambda ui: gr.update(value=ui, label=t(ui, "language_label"))),
        (p.chat, label("chat_label", placeholder="chat_placeholder")),
        (p.question, lambda ui: gr.update(placeholder=t(ui, "question_placeholder"))),
        (p.send, value("send")),
        (p.ask_model, value("ask_model")),
        (p.new, value("new_chat")),
        (p.examples_md, lambda ui: f"**{t(ui, 'examples')}**"),
        (p.settings_box, label("settings")),
        (p.k, label("k_label", info="k_info")),
        (p.backend, label("backend_label", info="backend_info")),
        (p.since, label("since_label", placeholder="date_placeholder")),
        (p.until, label("until_label", placeholder="date_placeholder")),
        (p.outlets, label("outlets_label", info="outlets_info")),
        (p.upload_box, label("upload")),
        (p.hint, lambda ui: upload_hint(ui, settings.upload_max_bytes)),
        (p.files, label("upload_files")),
        (p.upload_btn, value("upload_button")),
        (p.chats_title, lambda ui: f"**{t(ui, 'chats')}**"),
        (p.listing, label("chats_list")),
        (p.chat_title, label("chat_title")),
        (p.rename, value("chat_rename")),
        (p.delete, value("chat_delete")),
        (p.export_md, value("chat_export_md")),
        (p.export_json, value("chat_export_json")),
        (p.export_file, label("chat_export_file")),
        (p.feedback_send, value("feedback_send")),
        (p.tab_chat, label("tab_chat")),
        (p.tab_articles, label("tab_articles")),
        (a.filter, label("articles_filter")),
        (a.refresh, value("articles_refresh")),
        (a.ids, label("articles_ids")),
        (a.delete, value("articles_delete")),
    ]


def _wire_lang(p: SimpleNamespace, settings: Settings, saved: SavedChats, chat: ChatHandlers) -> None:
    labels = _labels(p, settings)

    def apply_lang(value: str, shown: str, past: dict[str, dict[str, Any]] | None) -> list[Any]:
        """Relabel the whole interface; answers already given keep their own language."""
        ui = normalize_lang(value)
        panel: Any = render_placeholder(ui) if not shown else gr.skip()
        if shown and past and shown in past:
            panel = chat.panel(shown, past[shown], ui)
        return [relabel(ui) for _, relabel in labels] + [panel]

    targets = [component for component, _ in labels] + [p.sources]
    p.lang.input(apply_lang, [p.lang, p.current, p.answers], targets, **PRIVATE)
    p.apply_lang, p.lang_targets = apply_lang, targets


def build_app(
    settings: Settings, service: QAService | None = None, chats: ChatStore | None = None
) -> gr.Blocks:
    """The whole page, wired to one ``QAService`` and saved-chat store (created here when not given)."""
    service = service or get_service(settings=settings)
    chats = chats or ChatStore(settings.chats_path)
    chat, saved = ChatHandlers(settings, service, chats), SavedChats(service, chats)
    uploads, articles = Uploads(settings, service), ArticlesTab(settings, service)
    lang0: UILang = DEFAULT_LANG
    with NewsQABlocks(title="Tanya Berita · News Q&A", analytics_enabled=False, fill_width=True) as demo:
        p = _layout(settings, lang0)
        _wire_chat(p, chat, saved)
        _wire_articles(p, articles)
        _wire_lang(p, settings, saved, chat)
        p.upload_btn.click(
            uploads.ingest, [p.files, p.lang], [p.report], api_name="upload", api_visibility="undocumented",
            concurrency_limit=1,
        )  # fmt: skip
        demo.load(p.apply_lang, [p.lang, p.current, p.answers], p.lang_targets, js=DETECT_LANG_JS, **PRIVATE)
        demo.load(saved.refresh, [p.chat_id], [p.listing], **PRIVATE)
        demo.load(lambda: gr.update(choices=service.known_outlets()), None, [p.outlets], **PRIVATE)
        gr.api(_ask_endpoint(service), api_name="ask", concurrency_limit=settings.concurrency_limit)
    demo.queue(default_concurrency_limit=settings.concurrency_limit)
    demo.chat_api = ChatAPI(service, settings)
    return demo


def _ask_endpoint(service: QAService) -> Callable[..., dict[str, Any]]:
    def ask(
        question: str,
        history: list | None = None,  # type: ignore[type-arg]
        since: str = "",
        until: str = "",
        outlets: list[str] | None = None,
        wait_for_model: bool = False,
    ) -> dict:  # type: ignore[type-arg]
        """Answer a question over the news archive.

        Arguments: the question (Indonesian or English), the chat history so far (a list of
        {"role", "content"} messages or [user, assistant] pairs; may be empty), and optional filters:
        since/until (ISO days of publication), outlets (names as `newsqa articles list` shows them) and
        wait_for_model (queue for the language model even when it is busy, instead of quotes at once).
        Returns the same JSON as `newsqa ask --json`: text with [n] markers, language, refused, citations
        (n, doc_id, title, outlet, published, url, quote, start, end, score, dates), related, backend,
        notice, timings, timeline (a timeline answer's events: day, n, doc_id), model_busy (quoted because
        the model was busy: ask again with wait_for_model to queue for it).
        """
        try:
            answer = service.answer(
                question,
                normalize_history(history),
                since=since or None,
                until=until or None,
                outlets=outlets,
                wait_for_model=bool(wait_for_model),
            )
        except (QuestionError, ValueError) as exc:
            raise gr.Error(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - the client gets a readable message, the log the traceback
            if not isinstance(exc, StoreError):
                log.exception("/ask failed for %r", question)
            raise gr.Error(describe_error(exc, "en")) from exc
        return answer.to_dict()

    return ask


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
    """Start the web app and the /v1 API on ``settings.host:settings.port`` (never a public share link)."""
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
