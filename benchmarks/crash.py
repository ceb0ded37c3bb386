"""Crash safety: kill -9 an ingest half-way, re-run it, and compare the store with a clean ingest.

Prints and records (docs/benchmarks.md) the article and chunk counts of the clean store, of the store right
after the kill, and after the re-run, plus whether the chunk id sets are identical (nothing duplicated or
lost). Usage: python benchmarks/crash.py [--articles 120] [--kill-after 40]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report  # noqa: E402

from qa.settings import get_settings  # noqa: E402
from vectorstore.service import ingest_paths, open_store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "indosum-news" / "articles.jsonl"


def snapshot(store_dir: Path) -> tuple[int, int, set[str]]:
    store = open_store(get_settings().model_copy(update={"store": store_dir}))
    return len(store.article_records()), store.count(), {cid for cid, _, _ in store.iter_chunks()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=120)
    parser.add_argument("--kill-after", type=int, default=40)
    args = parser.parse_args()
    start_load = _report.banner("crash")
    work = Path(tempfile.mkdtemp(prefix="newsqa-crash-"))
    corpus = work / "news.jsonl"
    with CORPUS.open(encoding="utf-8") as src:
        corpus.write_text("".join(next(src) for _ in range(args.articles)), encoding="utf-8")
    clean_dir, crashed_dir = work / "clean", work / "crashed"
    ingest_paths(get_settings().model_copy(update={"store": clean_dir}), [corpus], progress=False)
    clean = snapshot(clean_dir)

    newsqa = str(Path(sys.executable).with_name("newsqa"))
    env = {**os.environ, "NEWSQA_INGEST_BATCH_CHUNKS": "16"}
    proc = subprocess.Popen(
        [newsqa, "ingest", str(corpus), "--store", str(crashed_dir)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True, env=env,
    )  # fmt: skip
    seen, deadline = b"", time.monotonic() + 900
    while time.monotonic() < deadline:
        seen += proc.stderr.read1(4096)
        done = [int(x) for x in re.findall(rb"(\d+)article", seen)]
        if done and max(done) >= args.kill_after:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = snapshot(crashed_dir)
    started = time.perf_counter()
    rerun = subprocess.run([newsqa, "ingest", str(corpus), "--store", str(crashed_dir), "--quiet"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    rerun_s = time.perf_counter() - started
    after = snapshot(crashed_dir)
    identical = after[2] == clean[2]
    print(rerun.stdout.strip())
    rows = [
        ["clean ingest", clean[0], clean[1], "–"],
        ["after kill -9", killed[0], killed[1], "store opens"],
        ["after re-run", after[0], after[1], "chunk ids identical to clean" if identical else "DIFFERENT"],
    ]
    md = (
        f"The first {args.articles} indosum articles ingested cleanly, then again by `newsqa ingest` in a "
        f"subprocess (16-chunk transactions) killed with SIGKILL once its progress bar reported "
        f"{args.kill_after} articles, then re-run to completion ({rerun_s:.0f} s; its summary: "
        f"`{rerun.stdout.strip()}`).\n\n" + _report.table(["store", "articles", "chunks", "check"], rows)
    )
    _report.write_section(
        "Crash safety: kill -9 during ingest", md, load=(start_load, _report.banner("crash"))
    )
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
