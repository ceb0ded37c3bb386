"""HTML for the chat answers and the sources panel.

Everything that came from a user or an article goes through ``html.escape`` before it is placed in markup:
the sources panel is a ``gr.HTML`` (set with ``innerHTML``, no sanitiser), so escaping here is the only thing
standing between an uploaded article and script injection. The functions take the ``Answer.to_dict()``
shape (the same JSON the ``/ask`` API returns), so a past answer can be re-rendered from session state.

Element ids are ``nqa-<turn>-<n>``: every answer gets its own turn id, so a ``[1]`` in an older answer never
opens the ``[1]`` of a newer one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ui.i18n import MONTHS, human_size, normalize_lang, t

MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_SAFE_TURN = re.compile(r"[^a-zA-Z0-9]")
_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")

Source = Mapping[str, Any]


def esc(value: object) -> str:
    """Escape text for HTML content *and* attribute values (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def safe_turn(turn: str) -> str:
    """Turn ids end up inside element ids and hrefs; keep them to plain alphanumerics."""
    return _SAFE_TURN.sub("", str(turn))[:32] or "t"


def anchor_id(turn: str, n: int | str) -> str:
    return f"nqa-{safe_turn(turn)}-{n}"


def format_date(published: str, lang: str) -> str:
    """'2024-11-30T08:00' -> '30 November 2024'; anything not ISO is shown as given (escaped later)."""
    m = _ISO_DAY.match(published or "")
    if not m:
        return published or ""
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not 1 <= month <= 12:
        return published
    return f"{day} {MONTHS[normalize_lang(lang)][month - 1]} {year}"


def _safe_url(url: str) -> str:
    """Only http(s) links become clickable; a ``javascript:`` URL in article metadata stays plain text."""
    url = (url or "").strip()
    return url if url.lower().startswith(("http://", "https://")) else ""


# --- chat messages ---------------------------------------------------------------------------------------


def question_html(question: str) -> str:
    """The user's bubble: escaped and wrapped in an HTML block so Markdown cannot reinterpret it."""
    text = " ".join(str(question).split())
    return f'<div class="nqa-q">{esc(text)}</div>'


def link_markers(escaped: str, turn: str, known: Iterable[int] | None = None) -> str:
    """Replace ``[n]`` / ``[1, 2]`` markers in already-escaped text with links to the source cards."""
    valid = None if known is None else set(known)

    def repl(m: re.Match[str]) -> str:
        out = []
        for part in re.split(r"\s*[,;]\s*", m.group(1)):
            n = int(part)
            if valid is not None and n not in valid:
                out.append(f"[{n}]")
            else:
                out.append(
                    f'<a class="nqa-cite" href="#{anchor_id(turn, n)}" title="[{n}]">'
                    f'<span class="nqa-cite-n">{n}</span></a>'
                )
        return "".join(out)

    return MARKER.sub(repl, escaped)


def answer_html(
    text: str,
    turn: str,
    *,
    known: Iterable[int] | None = None,
    notice: str = "",
    refused: bool = False,
    pending: str = "",
) -> str:
    """An assistant bubble. Wrapped in a single-line ``<div>`` (a Markdown HTML block), so Markdown syntax
    inside article quotes (``*``, ``#``, ``_``) is shown as typed and only our own tags are markup."""
    lines = [line for line in str(text).split("\n") if line.strip()]
    if len(lines) >= 2 and all(line.startswith("- ") for line in lines[1:]):
        body = timeline_html(lines[0], lines[1:], turn, known)
    else:
        body = link_markers(esc(" ".join(str(text).split())), turn, known)
    classes = "nqa-answer nqa-refused" if refused else "nqa-answer"
    parts = [f'<div class="{classes}" data-turn="{esc(turn)}">']
    if body.startswith('<span class="nqa-text">'):
        parts.append(body)
    elif body:
        parts.append(f'<span class="nqa-text">{body}</span>')
    if pending:
        parts.append(f'<span class="nqa-pending">{esc(pending)}</span>')
    if notice:
        parts.append(f'<span class="nqa-notice-inline">⚠ {esc(notice)}</span>')
    parts.append("</div>")
    return "".join(parts)


def timeline_html(intro: str, lines: Sequence[str], turn: str, known: Iterable[int] | None) -> str:
    """A timeline answer (qa.timeline: an intro, then '- DATE: event [n]' lines in date order) as a list of
    dated events, each with its citation link."""
    items = []
    for line in lines:
        when, sep, event = line[2:].partition(": ")
        if not sep:
            when, event = "", line[2:]
        linked = link_markers(esc(" ".join(event.split())), turn, known)
        items.append(f'<li><span class="nqa-when">{esc(when)}</span> {linked}</li>')
    return f'<span class="nqa-text">{esc(intro)}</span><ol class="nqa-timeline">{"".join(items)}</ol>'


def error_html(message: str) -> str:
    return f'<div class="nqa-answer nqa-error">⚠ {esc(" ".join(str(message).split()))}</div>'


# --- articles ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    n: int | None
    primary: bool


def quote_html(src: Source, quote: str) -> str:
    """The cited sentence, escaped, with the reader's answer span in it marked (``answer_start``/
    ``answer_end`` are article offsets, like the sentence's ``start``): what the answer was taken from."""
    start, a, b = int(src.get("start", -1)), int(src.get("answer_start", -1)), int(src.get("answer_end", -1))
    if not 0 <= start <= a < b <= start + len(quote):
        return esc(quote)
    a, b = a - start, b - start
    return f'{esc(quote[:a])}<mark class="nqa-span">{esc(quote[a:b])}</mark>{esc(quote[b:])}'


def highlight_article(text: str, spans: Sequence[Span]) -> str:
    """The whole article, escaped, with each valid ``[start:end)`` span in a ``<mark>``.

    Out-of-range or overlapping spans are dropped (the primary span wins), so a stale offset can never
    produce broken markup — at worst a passage is not highlighted.
    """
    length = len(text)
    ordered = sorted(
        (s for s in spans if 0 <= s.start < s.end <= length),
        key=lambda s: (not s.primary, s.start),
    )
    chosen: list[Span] = []
    for span in ordered:
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    chosen.sort(key=lambda s: s.start)
    out: list[str] = []
    pos = 0
    for span in chosen:
        out.append(esc(text[pos : span.start]))
        cls = "nqa-hl nqa-hl-primary" if span.primary else "nqa-hl"
        label = f'<sup class="nqa-hl-n">{span.n}</sup>' if span.n is not None else ""
        out.append(f'<mark class="{cls}">{esc(text[span.start : span.end])}</mark>{label}')
        pos = span.end
    out.append(esc(text[pos:]))
    return "".join(out)


def _card(
    src: Source,
    *,
    turn: str,
    lang: str,
    card_id: str,
    number: int | None,
    articles: Mapping[str, str | None],
    siblings: Sequence[Source],
    open_: bool,
) -> str:
    """One source: outlet, date, title, link, the quote, and the full article behind a disclosure."""
    doc_id = str(src.get("doc_id", ""))
    outlet = str(src.get("outlet") or "")
    title = str(src.get("title") or "") or t(lang, "untitled")
    published = str(src.get("published") or "")
    url = _safe_url(str(src.get("url") or ""))
    quote = str(src.get("quote") or "")
    score = src.get("score")

    meta = [f'<span class="nqa-outlet">{esc(outlet)}</span>'] if outlet else []
    if published:
        meta.append(f'<time datetime="{esc(published)}">{esc(format_date(published, lang))}</time>')
    if not meta:  # no outlet and no date: the article id is the only way to tell articles apart
        meta.append(f'<span class="nqa-docid-inline">{esc(doc_id)}</span>')
    if isinstance(score, int | float):
        meta.append(f'<span class="nqa-score">{esc(t(lang, "score"))} {float(score):.2f}</span>')
    if url:
        meta.append(
            f'<a class="nqa-url" href="{esc(url)}" target="_blank" rel="noopener noreferrer">'
            f"{esc(t(lang, 'open_original'))} ↗</a>"
        )
    badge = f'<span class="nqa-badge">{number}</span>' if number is not None else ""

    raw = articles.get(doc_id)
    if raw is None:
        body = f'<p class="nqa-missing">{esc(t(lang, "article_missing"))}</p>'
    else:
        spans = [
            Span(
                int(s.get("start", -1)),
                int(s.get("end", -1)),
                s.get("n") if s is not src else number,
                s is src,
            )
            for s in siblings
            if s.get("doc_id") == doc_id
        ]
        if not any(sp.primary for sp in spans):
            spans.append(Span(int(src.get("start", -1)), int(src.get("end", -1)), number, True))
        body = f'<div class="nqa-body">{highlight_article(raw, spans)}</div>'

    cls = "nqa-card nqa-focus" if open_ else "nqa-card"
    return (
        f'<article class="{cls}" id="{esc(card_id)}" data-doc="{esc(doc_id)}">'
        f'<div class="nqa-card-head">{badge}<div class="nqa-card-meta">'
        f'<div class="nqa-meta">{" · ".join(meta)}</div>'
        f'<div class="nqa-title">{esc(title)}</div></div></div>'
        f'<blockquote class="nqa-quote">{quote_html(src, quote)}</blockquote>'
        f'<details class="nqa-details"{" open" if open_ else ""}>'
        f"<summary>{esc(t(lang, 'open_article'))}</summary>"
        f'<div class="nqa-article"><div class="nqa-docid">{esc(doc_id)}</div>{body}</div></details>'
        f"</article>"
    )


def _panel(lang: str, view: str, inner: str, turn: str = "") -> str:
    data_turn = f' data-turn="{esc(safe_turn(turn))}"' if turn else ""
    return (
        f'<div class="nqa-sources" data-view="{esc(view)}"{data_turn}>'
        f'<div class="nqa-panel-title">{esc(t(lang, "sources"))}</div>{inner}</div>'
    )


def render_placeholder(lang: str) -> str:
    return _panel(lang, "empty", f'<p class="nqa-hint">{esc(t(lang, "sources_empty"))}</p>')


def render_searching(lang: str, question: str) -> str:
    inner = (
        f'<div class="nqa-status nqa-busy">{esc(t(lang, "searching"))}</div>'
        f'<p class="nqa-asked">«{esc(" ".join(str(question).split()))}»</p>'
        '<div class="nqa-skeleton"></div><div class="nqa-skeleton"></div>'
    )
    return _panel(lang, "searching", inner)


def render_error(lang: str, message: str) -> str:
    inner = (
        f'<div class="nqa-error-box"><strong>{esc(t(lang, "error_title"))}</strong>'
        f"<p>{esc(message)}</p></div>"
    )
    return _panel(lang, "error", inner)


def render_evidence(
    turn: str, evidence: Sequence[Source], articles: Mapping[str, str | None], lang: str
) -> str:
    """Shown the moment retrieval finishes, before any answer text: numbered like the prompt's [n]."""
    cards = "".join(
        _card(
            ev,
            turn=turn,
            lang=lang,
            card_id=anchor_id(turn, int(ev.get("n", i + 1))),
            number=int(ev.get("n", i + 1)),
            articles=articles,
            siblings=[ev],
            open_=False,
        )
        for i, ev in enumerate(evidence)
    )
    inner = (
        f'<div class="nqa-status nqa-busy">{esc(t(lang, "found"))}</div>'
        f'<div class="nqa-section">{esc(t(lang, "candidates"))}</div>{cards}'
    )
    return _panel(lang, "evidence", inner, turn)


def render_answer(
    turn: str,
    answer: Mapping[str, Any],
    articles: Mapping[str, str | None],
    lang: str,
    *,
    focus: int | None = None,
    earlier: bool = False,
) -> str:
    """The final panel: fallback notice, cited sources [1..m], then related-but-not-cited passages."""
    citations: list[Source] = list(answer.get("citations") or [])
    related: list[Source] = list(answer.get("related") or [])
    parts: list[str] = []
    if earlier:
        parts.append(f'<div class="nqa-status">{esc(t(lang, "earlier_answer"))}</div>')
    notice = str(answer.get("notice") or "")
    if notice:
        parts.append(f'<div class="nqa-notice" role="status">⚠ {esc(notice)}</div>')
    if answer.get("refused"):
        parts.append(
            f'<div class="nqa-refusal"><strong>{esc(t(lang, "refused_title"))}</strong>'
            f"<p>{esc(answer.get('text', ''))}</p></div>"
        )
    if citations:
        parts.append(f'<div class="nqa-section">{esc(t(lang, "cited"))}</div>')
        for c in citations:
            n = int(c.get("n", 0))
            parts.append(
                _card(
                    c,
                    turn=turn,
                    lang=lang,
                    card_id=anchor_id(turn, n),
                    number=n,
                    articles=articles,
                    siblings=citations,
                    open_=focus == n,
                )
            )
    if related:
        parts.append(
            f'<div class="nqa-section nqa-related-title">{esc(t(lang, "related"))}'
            f'<span class="nqa-section-hint">{esc(t(lang, "related_hint"))}</span></div>'
            '<div class="nqa-related">'
        )
        for i, r in enumerate(related):
            parts.append(
                _card(
                    r,
                    turn=turn,
                    lang=lang,
                    card_id=anchor_id(turn, f"r{i}"),
                    number=None,
                    articles=articles,
                    siblings=[r],
                    open_=False,
                )
            )
        parts.append("</div>")
    return _panel(lang, "answer", "".join(parts), turn)


# --- upload report ----------------------------------------------------------------------------------------


@dataclass
class UploadLine:
    name: str
    status: str  # "new" | "updated" | "unchanged" | "skipped" | "refused" | "failed"
    detail: str


def render_upload_report(lines: Sequence[UploadLine], summary: str, lang: str) -> str:
    icons = {"new": "✓", "updated": "↻", "unchanged": "=", "skipped": "–", "refused": "✕", "failed": "✕"}
    rows = "".join(
        f'<li class="nqa-up nqa-up-{esc(line.status)}">'
        f'<span class="nqa-up-icon">{icons.get(line.status, "·")}</span>'
        f'<span class="nqa-up-name">{esc(line.name)}</span> '
        f'<span class="nqa-up-detail">{esc(line.detail)}</span></li>'
        for line in lines
    )
    return (
        f'<div class="nqa-upload-report"><div class="nqa-section">{esc(t(lang, "up_title"))}</div>'
        f'<ul>{rows}</ul><p class="nqa-up-summary">{esc(summary)}</p></div>'
    )


def upload_hint(lang: str, max_bytes: int) -> str:
    return f'<p class="nqa-hint">{esc(t(lang, "upload_hint", size=human_size(max_bytes)))}</p>'


CSS = """
#nqa-chat-list .wrap { flex-direction: column; flex-wrap: nowrap; max-height: 380px; overflow-y: auto; }
#nqa-chat-list label { width: 100%; }
.gradio-container { max-width: 1500px !important; margin: 0 auto !important; }
#nqa-header { align-items: center; gap: 12px; }
#nqa-header h1 { margin: 0; font-size: 1.55rem; letter-spacing: -0.01em; }
#nqa-header p { margin: 2px 0 0; color: var(--body-text-color-subdued); }
#nqa-lang { max-width: 290px; }
#nqa-sources-col { position: sticky; top: 8px; align-self: flex-start; }
#nqa-sources { max-height: calc(100vh - 40px); overflow-y: auto; }
.nqa-sources { font-size: 0.93rem; line-height: 1.5; padding: 2px 4px 8px; }
.nqa-panel-title { font-weight: 700; font-size: 1.05rem; margin: 4px 0 10px; }
.nqa-hint { color: var(--body-text-color-subdued); margin: 0; }
.nqa-section { font-weight: 600; font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.06em;
  color: var(--body-text-color-subdued); margin: 14px 0 8px; }
.nqa-section-hint { text-transform: none; letter-spacing: 0; font-weight: 400; margin-left: 8px; }
.nqa-status { padding: 8px 12px; border-radius: 8px; background: var(--background-fill-secondary);
  margin-bottom: 8px; }
.nqa-busy::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 8px;
  border-radius: 50%; border: 2px solid var(--color-accent); border-right-color: transparent;
  animation: nqa-spin 0.8s linear infinite; vertical-align: -1px; }
@keyframes nqa-spin { to { transform: rotate(360deg); } }
.nqa-skeleton { height: 86px; border-radius: 10px; margin: 10px 0;
  background: linear-gradient(90deg, var(--background-fill-secondary) 25%,
    var(--border-color-primary) 50%, var(--background-fill-secondary) 75%);
  background-size: 200% 100%; animation: nqa-shimmer 1.2s infinite; }
@keyframes nqa-shimmer { to { background-position: -200% 0; } }
.nqa-asked { font-style: italic; color: var(--body-text-color-subdued); }
.nqa-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px;
  margin: 0 0 10px; background: var(--block-background-fill); transition: box-shadow 0.3s; }
.nqa-card.nqa-flash { box-shadow: 0 0 0 3px var(--color-accent); }
.nqa-card-head { display: flex; gap: 10px; align-items: flex-start; }
.nqa-badge { flex: none; box-sizing: border-box; min-width: 24px; height: 24px; border-radius: 12px;
  background: var(--color-accent); color: white; font-weight: 700; font-size: 0.8rem; display: inline-flex;
  align-items: center; justify-content: center; padding: 0 4px; }
.nqa-meta { font-size: 0.8rem; color: var(--body-text-color-subdued); }
.nqa-outlet { font-weight: 600; color: var(--body-text-color); }
.nqa-score { opacity: 0.75; }
.nqa-docid-inline { font-family: var(--font-mono); font-size: 0.75rem; }
.nqa-title { font-weight: 600; line-height: 1.3; margin-top: 2px; }
.nqa-span { background: var(--color-accent-soft, #fde68a); font-weight: 600; padding: 0 2px; }
.nqa-quote { margin: 8px 0 4px; padding: 4px 0 4px 10px; border-left: 3px solid var(--color-accent);
  color: var(--body-text-color); font-size: 0.9rem; }
.nqa-details summary { cursor: pointer; color: var(--color-accent); font-size: 0.85rem; margin-top: 4px; }
.nqa-article { margin-top: 8px; border-top: 1px dashed var(--border-color-primary); padding-top: 8px; }
.nqa-body { white-space: pre-wrap; font-size: 0.88rem; max-height: 420px; overflow-y: auto; }
.nqa-docid { font-family: var(--font-mono); font-size: 0.72rem; color: var(--body-text-color-subdued); }
.nqa-url { white-space: nowrap; }
mark.nqa-hl { background: #fff1a8; color: #1f2328; border-radius: 3px; padding: 0 2px; }
mark.nqa-hl-primary { background: #ffd84d; box-shadow: 0 0 0 1px #e0b400; }
.nqa-hl-n { font-size: 0.65rem; font-weight: 700; margin-left: 2px; }
.nqa-related .nqa-card { opacity: 0.85; padding: 8px 10px; }
.nqa-related .nqa-quote { border-left-color: var(--border-color-primary); }
.nqa-notice { padding: 8px 12px; border-radius: 8px; background: #fff4e5; color: #7a4a00;
  border: 1px solid #f5c27a; margin-bottom: 10px; }
.nqa-refusal { padding: 10px 12px; border-radius: 8px; background: var(--background-fill-secondary);
  border-left: 4px solid #d97706; margin-bottom: 10px; }
.nqa-refusal p { margin: 4px 0 0; }
.nqa-error-box { padding: 10px 12px; border-radius: 8px; background: #fdecec; color: #8a1c1c;
  border: 1px solid #f3b4b4; }
.nqa-error-box p { margin: 4px 0 0; }
.nqa-missing { color: var(--body-text-color-subdued); font-style: italic; }
.nqa-answer { line-height: 1.6; }
.nqa-answer.nqa-error { color: #b42318; }
.nqa-pending { color: var(--body-text-color-subdued); font-style: italic; }
.nqa-text + .nqa-pending { margin-left: 6px; }
.nqa-notice-inline { display: block; margin-top: 6px; font-size: 0.85rem; color: #9a5b00; }
.nqa-timeline { list-style: none; margin: 6px 0 0 0; padding-left: 14px; border-left: 2px solid #c7d2fe; }
.nqa-timeline li { position: relative; margin: 0 0 8px 0; }
.nqa-timeline li::before { content: ""; position: absolute; left: -20px; top: 6px; width: 10px; height: 10px;
  border-radius: 50%; background: #6366f1; }
.nqa-when { display: block; font-weight: 600; font-size: 0.85rem; color: #4338ca; }
a.nqa-cite { text-decoration: none !important; margin: 0 1px; }
.nqa-cite-n { display: inline-flex; align-items: center; justify-content: center; min-width: 1.35em;
  height: 1.35em; padding: 0 4px; border-radius: 0.7em; font-size: 0.75em; font-weight: 700;
  background: var(--color-accent); color: white; vertical-align: 0.15em; }
.nqa-cite-n::before { content: ""; }
a.nqa-cite:hover .nqa-cite-n { filter: brightness(1.15); }
.nqa-upload-report ul { list-style: none; padding: 0; margin: 0; }
.nqa-up { padding: 3px 0; font-size: 0.9rem; }
.nqa-up-icon { display: inline-block; width: 1.3em; font-weight: 700; }
.nqa-up-new .nqa-up-icon, .nqa-up-updated .nqa-up-icon { color: #15803d; }
.nqa-up-refused .nqa-up-icon, .nqa-up-failed .nqa-up-icon { color: #b42318; }
.nqa-up-name { font-family: var(--font-mono); font-size: 0.85rem; }
.nqa-up-detail { color: var(--body-text-color-subdued); }
.nqa-up-summary { margin: 6px 0 0; font-weight: 600; }
#nqa-examples button { font-size: 0.85rem; }
#nqa-new, #nqa-send { white-space: nowrap; }
.dark mark.nqa-hl { background: #6b5b00; color: #fff8d6; }
.dark mark.nqa-hl-primary { background: #8a7200; box-shadow: 0 0 0 1px #c9a800; }
.dark .nqa-notice { background: #3d2a00; color: #ffd48a; border-color: #6b4a00; }
.dark .nqa-error-box { background: #3d1212; color: #ffb4b4; border-color: #6b2020; }
@media (max-width: 900px) { #nqa-sources-col { position: static; } #nqa-sources { max-height: none; } }
"""
