"""End-to-end answers per backend on articles-dev: quality and latency, extractive as the baseline.

For each backend, ``qa.evaluation.run_eval`` runs the whole question set against the shipped sample corpus
(``data/articles``): answer accuracy, citation precision, refusal accuracy, latency p50/p95, first
token p50 and evidence (retrieval + evidence selection) p50. Before each backend's run one warm-up question
(not in the set, not counted) loads the models and, for llama.cpp, evaluates the fixed prompt prefix, so the
figures are for a warm service; the cold-start cost is reported apart.

The ``openai`` backend is measured against a real OpenAI-compatible server that this script starts on
127.0.0.1 (``python -m llama_cpp.server`` serving the same Qwen GGUF, 2 threads) and stops afterwards, unless
``NEWSQA_OPENAI_BASE_URL`` already points at one.

Usage: .venv/bin/python benchmarks/latency.py [--backends extractive,llamacpp,openai]
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import argparse
import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report as rep  # noqa: E402

from qa.evaluation import corpus_store, run_eval  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.settings import Settings  # noqa: E402
from vectorstore.service import ingest_paths  # noqa: E402

WARMUP_QUESTION = "Siapa yang bertemu dengan Kim Jong Un di Pyongyang?"

METRICS = (
    ("answer_accuracy", "answer accuracy (answerable)", "{:.3f}"),
    ("citation_precision", "citation precision", "{:.3f}"),
    ("citation_recall", "citation recall", "{:.3f}"),
    ("refusal_accuracy", "refusal accuracy (unanswerable)", "{:.3f}"),
    ("false_refusal_rate", "false refusals (answerable)", "{:.3f}"),
    ("language_match", "answer language matches question", "{:.3f}"),
    ("evidence_recall@3", "evidence recall@3 (an answer in the first 3 sentences)", "{:.3f}"),
)
LATENCIES = (
    ("latency_p50_s", "latency p50"),
    ("latency_p95_s", "latency p95"),
    ("first_token_p50_s", "first token p50"),
    ("first_token_p50_answered_s", "first token p50, answered questions only"),
    ("evidence_p50_s", "evidence p50"),
)


def reset_process_caches() -> None:
    """Empty the process-wide evidence caches (article texts, sentence vectors) so that every backend starts
    from the same state: otherwise the first backend pays for encoding the corpus's sentences and the next
    one gets them for free."""
    from qa import context

    context.ARTICLE_TEXTS.clear()
    sentence_cache = context.SENTENCE_VECTORS
    if hasattr(sentence_cache, "clear"):
        sentence_cache.clear()
    else:
        with sentence_cache._lock:
            sentence_cache._items.clear()


def warm_up(settings: Settings, corpus: Path, backend: str) -> dict[str, float]:
    """Ingest (a no-op when the eval store is current), load models, answer one question; all timed."""
    s = settings.model_copy(update={"store": corpus_store(settings, corpus), "chroma_host": None})
    out: dict[str, float] = {}
    start = time.perf_counter()
    ingest_paths(s, [corpus], progress=False)
    out["ingest_s"] = time.perf_counter() - start
    service = QAService(s)
    start = time.perf_counter()
    answer = service.answer(WARMUP_QUESTION, backend=backend)
    out["warmup_answer_s"] = time.perf_counter() - start
    out["warmup_backend"] = answer.backend  # type: ignore[assignment]
    if backend == "llamacpp":
        from qa.backends.llamacpp import _MODELS

        for loaded in _MODELS.values():
            out["llm_load_s"] = loaded.load_s
            out["llm_prefix_warmup_s"] = loaded.warmup_s
    return out


@contextlib.contextmanager
def openai_server(settings: Settings) -> Iterator[str]:
    """Base URL of an OpenAI-compatible server: the configured one, or llama_cpp.server started here."""
    if "NEWSQA_OPENAI_BASE_URL" in os.environ:
        yield settings.openai_base_url
        return
    from qa.backends.llamacpp import ensure_model_file

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(ensure_model_file(settings)),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
        "--n_threads", str(settings.llamacpp_threads), "--model_alias", settings.openai_model,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama_cpp.server did not come up: {' '.join(cmd)}") from None
                time.sleep(1)
        yield url
    finally:
        rep.stop_process(proc)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="extractive,llamacpp")
    parser.add_argument("--questions", type=Path, default=Path("data/eval/articles-dev/questions.jsonl"))
    parser.add_argument("--corpus", type=Path, default=Path("data/articles"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    load_start = rep.banner("latency")

    results: dict[str, dict[str, Any]] = {}
    warm: dict[str, dict[str, Any]] = {}
    loads: dict[str, tuple[str, str]] = {}
    stack = contextlib.ExitStack()
    for name in backends:
        settings = Settings(backend=name, chroma_host=None)  # type: ignore[arg-type]
        if name == "openai":
            url = stack.enter_context(openai_server(settings))
            settings = settings.model_copy(update={"openai_base_url": url})
        before = rep.banner(f"latency {name} start")
        reset_process_caches()
        warm[name] = warm_up(settings, args.corpus, name)
        print(f"{name}: warm-up {json.dumps(warm[name])}", flush=True)
        results[name] = run_eval(settings, args.questions, corpus=args.corpus, progress=False)
        loads[name] = (before, rep.banner(f"latency {name} end"))
        r = results[name]
        print(
            f"{name}: accuracy {r['answer_accuracy']:.3f}, citation precision {r['citation_precision']:.3f}, "
            f"refusal accuracy {r['refusal_accuracy']:.3f}, latency p50 {r['latency_p50_s']:.2f} s "
            f"p95 {r['latency_p95_s']:.2f} s, first token p50 {r['first_token_p50_s']:.2f} s, "
            f"evidence p50 {r['evidence_p50_s']:.2f} s, backends used {r['backend']}",
            flush=True,
        )
    stack.close()
    load_end = rep.banner("latency")

    # --- report ---------------------------------------------------------------------------------------
    base = backends[0]
    rows: list[list[object]] = []
    for key, label, fmt in METRICS:
        rows.append([label, *(fmt.format(results[b].get(key, 0.0)) for b in backends)])
    for key, label in LATENCIES:
        cells = []
        for b in backends:
            v = results[b].get(key, 0.0)
            ref = results[base].get(key, 0.0)
            ratio = f" ({v / ref:.1f}×)" if b != base and ref > 0 else ""
            cells.append(f"{v:.2f} s{ratio}")
        rows.append([f"{label}", *cells])
    rows.append(["backend actually used", *(", ".join(results[b]["backend"]) for b in backends)])
    rows.append(
        ["warm-up question (not counted)", *(f"{warm[b]['warmup_answer_s']:.1f} s" for b in backends)]
    )
    if any("llm_load_s" in warm[b] for b in backends):
        rows.append(
            [
                "LLM load + prompt-prefix warm-up",
                *(
                    f"{warm[b]['llm_load_s']:.1f} s + {warm[b]['llm_prefix_warmup_s']:.1f} s"
                    if "llm_load_s" in warm[b]
                    else "–"
                    for b in backends
                ),
            ]
        )
    rows.append(["load avg start → end", *(f"{loads[b][0]} → {loads[b][1]}" for b in backends)])
    r0 = results[base]
    per_question = []
    for i, rec in enumerate(r0.get("answers", [])):
        cells = [rec["id"], rec["language"], "yes" if rec["answerable"] else "no"]
        for b in backends:
            a = results[b]["answers"][i]
            if a["refused"]:
                verdict = "refused" + ("" if not a["answerable"] else " (should answer)")
            elif not a["answerable"]:
                verdict = "answered (should refuse)"
            else:
                verdict = "correct" if a["correct"] else "wrong"
            cells.append(f"{verdict}, {a['total_s']:.2f} s")
        per_question.append(cells)
    md = f"""
{r0["questions"]} questions (`{args.questions}`, {r0["answerable"]} answerable) over the shipped articles
(`{args.corpus}`) through `qa.evaluation.run_eval`, one backend after the other in the same process. Before
each backend's run one warm-up question (not in the set) loads the models; the figures are for a warm
service. The process-wide evidence caches (article texts, sentence vectors) are emptied before each
backend (before its warm-up), so neither inherits the other's encoded sentences. Ratios in brackets are
against `{base}` (the baseline) from the same run. Latency is the whole pipeline (question → verified
answer); evidence = retrieval + evidence selection; first token = time to the first generated text. With
{os.cpu_count()} cores shared with other work, the load average below matters: the LLM's figures scale with
the CPU share it gets.

{rep.table(["metric", *backends], rows)}

Per question (verdict, total latency):

{rep.table(["id", "lang", "answerable", *backends], per_question)}

Retrieval on the same questions (hybrid, from the same runs): recall@5 {r0.get("recall@5", 0.0):.3f},
MRR@10 {r0.get("mrr@10", 0.0):.3f}.
"""
    print(md)
    Path(".newsqa/bench").mkdir(parents=True, exist_ok=True)
    Path(".newsqa/bench/latency.json").write_text(
        json.dumps({"results": results, "warm": warm}, default=str), encoding="utf-8"
    )
    if not args.no_write:
        rep.write_section("End-to-end latency by backend", md, load=(load_start, load_end))
        print(f"wrote section to {rep.REPORT}")


if __name__ == "__main__":
    main()
