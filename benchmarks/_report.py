"""Shared helpers for the benchmark scripts: machine description, load average, RSS sampling, and
``write_section`` which replaces one named block of ``docs/benchmarks.md`` so scripts never clobber each
other's results.

A section is delimited by ``<!-- section: NAME -->`` and ``<!-- end: NAME -->`` (NAME is the slug of the
title); text outside the blocks (hand-written notes) is kept as is. Writes hold an exclusive ``flock`` on the
file for the whole read-modify-write, so two benchmarks finishing together cannot lose each other's section.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import os
import platform
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REPORT = DOCS / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Written by the scripts in `benchmarks/`; each script owns one section below and rewrites only that "
    "section. The machine is small (2 cores) and shared with other work, so figures are given as ratios "
    "against a baseline measured in the same run wherever possible, with the load average at the start and "
    "end of each run to judge the noise.\n"
)


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, {ram_gib():.1f} GiB RAM, {cpu_model()}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def command() -> str:
    """The command line that produced the figures, relative to the project root."""
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(ROOT)
    return shlex.join([".venv/bin/python", str(script), *sys.argv[1:]])


def banner(name: str) -> str:
    """Printed at start and end of a run (load average included)."""
    line = f"[{name}] {_dt.datetime.now():%Y-%m-%d %H:%M:%S}  load average (1/5/15 min): {loadavg()}"
    print(line, flush=True)
    return loadavg()


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1000
    return f"{n:.1f} GB"


class PeakRSS:
    """Samples this process's RSS every ``interval`` seconds in a thread; ``peak`` since the last ``reset``.

    ``with PeakRSS() as rss: ...`` starts and stops the sampler.
    """

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self._proc = psutil.Process()
        self.interval = interval
        self.peak = self.current()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def current(self) -> int:
        return int(self._proc.memory_info().rss)

    def reset(self) -> int:
        self.peak = self.current()
        return self.peak

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = self.current()
            if rss > self.peak:
                self.peak = rss

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def write_section(
    title: str, markdown: str, *, cmd: str | None = None, load: tuple[str, str] | None = None
) -> Path:
    """Replace (or append) the section ``title`` in docs/benchmarks.md with ``markdown``, preceded by the
    date, the machine and the exact command (and the load average at start/end when given)."""
    name = slug(title)
    meta = [
        f"- Date: {_dt.datetime.now():%Y-%m-%d %H:%M}",
        f"- Machine: {machine()}",
        f"- Command: `{cmd or command()}`",
    ]
    if load:
        meta.append(f"- Load average (1/5/15 min) at start: {load[0]}; at end: {load[1]}")
    block = (
        f"<!-- section: {name} -->\n## {title}\n\n" + "\n".join(meta) + "\n\n" + markdown.strip() + "\n"
        f"<!-- end: {name} -->"
    )
    DOCS.mkdir(parents=True, exist_ok=True)
    REPORT.touch(exist_ok=True)
    with REPORT.open("r+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            text = fh.read() or HEADER
            pattern = re.compile(
                rf"<!-- section: {re.escape(name)} -->.*?<!-- end: {re.escape(name)} -->", re.DOTALL
            )
            if pattern.search(text):
                text = pattern.sub(lambda _m: block, text, count=1)
            else:
                text = text.rstrip("\n") + "\n\n" + block + "\n"
            # Rewritten in place (not replaced) so that the lock stays on the file other writers wait on.
            fh.seek(0)
            fh.write(text)
            fh.truncate()
            fh.flush()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return REPORT


def corpus_of(set_dir: Path) -> Path:
    """The corpus a question set is asked over: its own corpus.jsonl, else the shipped sample articles
    (articles-dev: data/articles, see data/eval/README.md)."""
    corpus = set_dir / "corpus.jsonl"
    return corpus if corpus.exists() else set_dir.parent.parent / "articles"


def table(headers: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def percentiles(values: list[float], *qs: float) -> list[float]:
    """Nearest-rank-interpolated percentiles (numpy 'linear'), in the units given."""
    import numpy as np

    if not values:
        return [float("nan")] * len(qs)
    return [float(np.percentile(values, q)) for q in qs]


def now() -> float:
    return time.perf_counter()


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server a benchmark started: SIGTERM, then SIGKILL if it has not exited within 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
