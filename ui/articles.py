"""The Articles tab: what the archive holds, filtered, and deleting articles from it.

Deleting goes through ``vectorstore.service.delete_articles`` (record, chunks, revision bump), so the
running service drops its keyword index and cached texts on its next question: a deleted article cannot be
cited again without a restart. The tab sits behind the web login like the rest of the page.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import gradio as gr

from qa.pipeline import QAService
from qa.settings import Settings
from ui.errors import describe_error
from ui.i18n import normalize_lang, t
from vectorstore.service import ArticleInfo, delete_articles, list_articles
from vectorstore.store import StoreNotFoundError

log = logging.getLogger(__name__)

COLUMNS = ["id", "date", "outlet", "chunks", "story", "title"]


def article_rows(items: list[ArticleInfo], query: str = "") -> list[list[Any]]:
    """Table rows of the articles whose id, title, outlet or date contain every word of ``query``."""
    words = query.lower().split()
    rows = []
    for a in items:
        hay = " ".join((a.doc_id, a.title, a.outlet, a.published)).lower()
        if all(w in hay for w in words):
            rows.append([a.doc_id, a.published, a.outlet, a.chunks, a.story_id, a.title])
    return rows


class ArticlesTab:
    def __init__(self, settings: Settings, service: QAService) -> None:
        self.settings, self.service = settings, service

    def _list(self) -> list[ArticleInfo]:
        try:
            return list_articles(self.settings, store=self.service.store)
        except StoreNotFoundError:
            return []

    def show(self, query: str, lang: str) -> tuple[Any, str]:
        """Table and a one-line count for the filter box's text."""
        ui = normalize_lang(lang)
        try:
            items = self._list()
        except Exception as exc:  # noqa: BLE001 - the tab says what is wrong
            return gr.update(value=[]), describe_error(exc, ui)
        rows = article_rows(items, query or "")
        return gr.update(value=rows, headers=COLUMNS), t(
            ui, "articles_count", shown=len(rows), total=len(items)
        )

    def pick(self, selected: str, evt: gr.SelectData) -> str:
        """A click on a row adds its id to the ids to delete (a second click removes it)."""
        row = evt.row_value if isinstance(evt.row_value, list) else None
        if not row:
            return gr.skip()  # type: ignore[return-value]
        ids = [x for x in re.split(r"[\s,]+", selected or "") if x]
        doc_id = str(row[0])
        ids = [x for x in ids if x != doc_id] if doc_id in ids else [*ids, doc_id]
        return " ".join(ids)

    def delete(self, selected: str, query: str, lang: str) -> tuple[Any, str, str]:
        """Delete the listed ids; outputs: table, status line, the emptied id box."""
        ui = normalize_lang(lang)
        ids = [x for x in re.split(r"[\s,]+", selected or "") if x]
        if not ids:
            gr.Warning(t(ui, "articles_none"))
            return gr.skip(), gr.skip(), gr.skip()  # type: ignore[return-value]
        try:
            report = delete_articles(self.settings, ids, store=self.service.store)
        except Exception as exc:  # noqa: BLE001
            log.exception("deleting %s failed", ids)
            return gr.skip(), describe_error(exc, ui), gr.skip()
        table, _ = self.show(query, lang)
        status = t(ui, "articles_deleted", n=len(report.deleted), chunks=report.chunks)
        if report.missing:
            status += " " + t(ui, "articles_missing", ids=", ".join(report.missing))
        return table, status, ""
