"""Server mode: a real Chroma server and a real OpenAI-compatible LLM server, started and stopped here,
and the failures users meet with them (server down, restored, LLM dead) plus a kill -9 during ingest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.pipeline import QAService
from tests.conftest import ARTICLES, INDOSUM, make_settings
from tests.servers import (
    chroma_command,
    chroma_ready_url,
    free_port,
    process,
    stop,
)
from vectorstore.service import ingest_paths, open_store, store_stats
from vectorstore.store import StoreUnavailableError


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    """A real `chroma run` server with the sample articles ingested through it; yields (settings, restart)."""
    data = tmp_path_factory.mktemp("chroma-data")
    port = free_port()
    log = tmp_path_factory.mktemp("chroma-log") / "chroma.log"
    state = {}

    def start():
        state["ctx"] = process(chroma_command(data, port), chroma_ready_url(port), log)
        state["proc"] = state["ctx"].__enter__()

    start()
    settings = make_settings(
        tmp_path_factory.mktemp("unused-local"), chroma_host="127.0.0.1", chroma_port=port
    )
    report = ingest_paths(settings, [ARTICLES], progress=False)
    assert report.new == 5
    try:
        yield settings, state, start
    finally:
        state["ctx"].__exit__(None, None, None)


def test_ingest_ask_and_stats_work_unchanged_against_a_chroma_server(chroma):
    settings, _, _ = chroma
    assert not any(settings.store.iterdir()), "nothing may be written locally in server mode"
    info = store_stats(settings)
    assert info["articles"] == 5 and info["store"].startswith("chroma server")
    again = ingest_paths(settings, [ARTICLES], progress=False)
    assert again.unchanged == 5 and again.written == 0
    a = QAService(settings).answer("Who did Belousov replace?")
    assert "Shoigu" in a.text and a.citations


def test_chroma_down_is_a_clear_error_and_recovery_needs_no_restart(chroma):
    settings, state, start = chroma
    service = QAService(settings)
    assert not service.answer("Who did Belousov replace?").refused
    stop(state["proc"])
    with pytest.raises(StoreUnavailableError, match="unavailable"):
        service.answer("Who did Belousov replace?")
    start()
    a = service.answer("Who did Belousov replace?")
    assert "Shoigu" in a.text


def test_cli_reports_a_dead_chroma_server_in_one_line(tmp_path):
    env = {**os.environ, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(free_port())}
    out = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", "Siapa Belousov?"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 2
    assert "Chroma server" in out.stderr and "Traceback" not in out.stderr


def test_openai_backend_answers_through_a_real_server(sample_store_dir, smollm2_server):
    settings = make_settings(
        sample_store_dir, backend="openai", openai_base_url=smollm2_server, max_new_tokens=40
    )
    a = QAService(settings).answer("Who did Belousov replace?")
    assert a.backend == "openai"  # no fallback: a notice, if any, is the refusal's reason
    assert not a.notice or (
        a.refused and a.refusal_reason in {"unsupported", "model-no-answer", "weak-evidence"}
    )
    # SmolLM2-135M writes nonsense: whatever survives verification must be cited, or the answer is refused.
    assert a.refused or (a.citations and all(f"[{c.n}]" in a.text for c in a.citations))


def test_dead_llm_server_falls_back_to_extractive_with_a_notice(sample_store_dir):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings = make_settings(sample_store_dir, backend="openai", openai_base_url=dead, llm_timeout_s=5)
    a = QAService(settings).answer("Siapa yang digantikan Belousov?")
    assert a.backend == "extractive"
    assert dead in a.notice and "kutipan" in a.notice
    assert "Shoigu" in a.text and a.citations


def _count(store_dir: Path) -> tuple[int, int, set[str]]:
    store = open_store(make_settings(store_dir))
    ids = {cid for cid, _, _ in store.iter_chunks()}
    return len(store.article_records()), store.count(), ids


@pytest.mark.slow
def test_kill_9_during_ingest_then_rerun_equals_a_clean_ingest(tmp_path):
    corpus = tmp_path / "news.jsonl"
    with INDOSUM.open(encoding="utf-8") as src:
        corpus.write_text("".join(next(src) for _ in range(60)), encoding="utf-8")
    clean_dir, crashed_dir = tmp_path / "clean", tmp_path / "crashed"
    ingest_paths(make_settings(clean_dir), [corpus], progress=False)

    cmd = [sys.executable, "-m", "qa.cli", "ingest", str(corpus), "--store", str(crashed_dir)]
    env = {**os.environ, "NEWSQA_INGEST_BATCH_CHUNKS": "16"}  # small transactions: the kill lands mid-run
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env
    )
    deadline = time.monotonic() + 300
    progress = b""
    while time.monotonic() < deadline:  # wait for the progress bar to pass ~40 articles, then kill -9
        progress += proc.stderr.read1(4096)
        counts = [int(x) for x in __import__("re").findall(rb"(\d+)article", progress)]
        if counts and max(counts) >= 20:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    partial_articles, _, _ = _count(crashed_dir)
    assert 0 < partial_articles < 60, "the kill should land half-way"

    rerun = subprocess.run([*cmd, "--quiet"], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert _count(crashed_dir) == _count(clean_dir)
    stats = json.loads(
        subprocess.run(
            [sys.executable, "-m", "qa.cli", "stats", "--store", str(crashed_dir), "--json"],
            capture_output=True,
            text=True,
        ).stdout
    )
    assert stats["articles"] == 60
