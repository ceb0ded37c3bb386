"""How a failure is told to the reader: one line, in the interface language, never a traceback."""

from __future__ import annotations

import httpx

from qa.pipeline import QuestionError
from ui.i18n import UILang, t
from vectorstore.store import StoreError, StoreNotFoundError


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
