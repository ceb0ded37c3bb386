"""Turn paths into ``RawDocument``s: folders (recursively), .txt/.md/.html files and .jsonl corpora.

Bad input never stops a run: each unreadable, empty, binary or mis-encoded file (or JSONL line) becomes a
``Skipped`` record with a one-line reason, so ingest can count and report it while loading the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vectorstore.types import RawDocument

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


class LoadError(ValueError):
    """A file that cannot be turned into text; the message is the one-line reason shown to the user."""


def decode_text(data: bytes, source: str) -> str:
    """Strict UTF-8 (BOM allowed); binary and mis-encoded files are rejected rather than guessed at,
    because a wrongly decoded article would be cited with garbled quotes."""
    if not data.strip():
        raise LoadError("empty file")
    if b"\x00" in data[:4096]:
        raise LoadError("binary file (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8") from None
    controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.05 * min(len(text), 4096):
        raise LoadError("binary file (control characters)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def html_to_text(html: str) -> tuple[str, dict[str, str]]:
    """Main text and metadata with trafilatura, which drops navigation and comments for us."""
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True) or ""
    meta: dict[str, str] = {}
    doc_meta = trafilatura.extract_metadata(html)
    if doc_meta is not None:
        meta = {
            "title": doc_meta.title or "",
            "url": doc_meta.url or "",
            "published": doc_meta.date or "",
            "outlet": doc_meta.sitename or "",
        }
    if not text.strip():
        raise LoadError("no article text found in HTML")
    return text, meta


def load_file(path: Path) -> Iterator[RawDocument | Skipped]:
    suffix = path.suffix.lower()
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield Skipped(source, f"unreadable: {exc.strerror or exc}")
        return
    try:
        text = decode_text(data, source)
    except LoadError as exc:
        yield Skipped(source, str(exc))
        return
    if suffix in JSONL_SUFFIXES:
        yield from _load_jsonl(text, source)
        return
    meta: dict[str, str] = {}
    if suffix in HTML_SUFFIXES:
        try:
            text, meta = html_to_text(text)
        except LoadError as exc:
            yield Skipped(source, str(exc))
            return
    yield RawDocument(id=path.stem, raw_text=text, source=source, **meta)


def _load_jsonl(text: str, source: str) -> Iterator[RawDocument | Skipped]:
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Skipped(where, f"unparseable JSON ({exc.msg})")
            continue
        if (
            not isinstance(rec, dict)
            or not str(rec.get("id", "")).strip()
            or not str(rec.get("text", "")).strip()
        ):
            yield Skipped(where, "JSONL record needs non-empty 'id' and 'text'")
            continue
        yield RawDocument(
            id=str(rec["id"]).strip(),
            raw_text=str(rec["text"]),
            source=where,
            title=str(rec.get("title") or ""),
            url=str(rec.get("url") or ""),
            published=str(rec.get("published") or ""),
            outlet=str(rec.get("source") or rec.get("outlet") or ""),
        )


def iter_files(paths: Iterable[Path]) -> Iterator[Path | Skipped]:
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if not child.is_file() or any(part.startswith(".") for part in child.relative_to(path).parts):
                    continue
                if child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
                else:
                    yield Skipped(str(child), f"unsupported file type {child.suffix or '(none)'}")
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                yield path
            else:
                yield Skipped(str(path), f"unsupported file type {path.suffix or '(none)'}")
        else:
            yield Skipped(str(path), "no such file or folder")


def load_paths(paths: Iterable[Path]) -> Iterator[RawDocument | Skipped]:
    for item in iter_files(paths):
        if isinstance(item, Skipped):
            yield item
        else:
            yield from load_file(item)
