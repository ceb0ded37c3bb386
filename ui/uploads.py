"""Article files uploaded in the web chat: checked, copied under a safe name, ingested, reported per file.

Why a class: the handler needs the app's settings, its one ``QAService`` and a lock so two uploads never
ingest into the store at once; Gradio takes the bound method as the event handler.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from pathlib import Path

import gradio as gr

from qa.pipeline import QAService
from qa.settings import Settings
from ui.errors import describe_error
from ui.i18n import UILang, count, human_size, normalize_lang, t
from ui.render import UploadLine, render_upload_report
from vectorstore.loaders import SUPPORTED_SUFFIXES
from vectorstore.store import StoreNotFoundError

log = logging.getLogger(__name__)

_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
ALLOWED = ", ".join(sorted(SUPPORTED_SUFFIXES))


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


def _estimate_articles(path: Path) -> int:
    """Articles in a file, for the progress bar: one per text/HTML file, one per non-empty JSONL line."""
    if path.suffix.lower() != ".jsonl":
        return 1
    try:
        with path.open("rb") as fh:
            return max(1, sum(1 for line in fh if line.strip()))
    except OSError:
        return 1


class Uploads:
    """The upload handler of one app."""

    def __init__(self, settings: Settings, service: QAService) -> None:
        self.settings, self.service = settings, service
        self.lock = threading.Lock()

    def ingest(self, files: list[str] | None, lang: str, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
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
                detail = t(ui, "up_refused_type", suffix=suffix or "(—)", allowed=ALLOWED)
                lines.append(UploadLine(name, "refused", detail))
                continue
            try:
                size = src.stat().st_size
            except OSError as exc:
                lines.append(UploadLine(name, "failed", t(ui, "up_failed", msg=exc.strerror or str(exc))))
                continue
            if size > self.settings.upload_max_bytes:
                detail = t(
                    ui,
                    "up_refused_size",
                    size=human_size(size),
                    limit=human_size(self.settings.upload_max_bytes),
                )
                lines.append(UploadLine(name, "refused", detail))
                continue
            if size == 0:
                lines.append(UploadLine(name, "refused", t(ui, "up_refused_empty")))
                continue
            accepted.append((name, src))

        counts = {"new": 0, "updated": 0, "unchanged": 0, "skipped": 0}
        if accepted:
            with self.lock:
                lines += self._ingest_accepted(accepted, ui, counts, progress)
        refused = sum(1 for line in lines if line.status in ("refused", "failed"))
        summary = t(ui, "up_summary", refused=refused, **counts)
        return render_upload_report(lines, summary, ui)

    def _ingest_accepted(
        self, accepted: list[tuple[str, Path]], ui: UILang, counts: dict[str, int], progress: gr.Progress
    ) -> list[UploadLine]:
        from vectorstore.service import ingest_paths, open_store

        lines: list[UploadLine] = []
        stored = [(name, store_upload(src, name, self.settings.upload_dir)) for name, src in accepted]
        total = sum(_estimate_articles(dest) for _, dest in stored) or 1
        done = 0
        progress(0, desc=t(ui, "up_progress", name=stored[0][1].name))
        try:
            store = self.service.store
        except StoreNotFoundError:
            store = open_store(self.settings, create=True)
        for _name, dest in stored:
            offset = done

            def tick(n: int, offset: int = offset, label: str = dest.name) -> None:
                progress(min(1.0, (offset + n) / total), desc=t(ui, "up_progress", name=label))

            try:
                report = ingest_paths(self.settings, [dest], store=store, progress=False, on_article=tick)
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
