"""Load test: N concurrent chat clients against a served app on 127.0.0.1 for a bounded time.

Starts ``newsqa serve`` (a real Gradio server) on a free loopback port over a store of the sample articles,
then runs N client threads, each with its own ``gradio_client.Client``, asking the sample questions in a loop
through the ``/ask`` endpoint until the time is up; requests in flight at the deadline are awaited (bounded by
a per-request timeout) so that every question asked is either answered or counted as an error. Reports
throughput, p50/p95 latency, the server's evidence time (p95 of ``retrieve_s``), the share of answers the
model wrote and errors per variant; writes docs/benchmarks.md.

Variants: a backend, and for the local model admission control on (``llm_queue_budget_s``, default 10 s:
busy -> immediate quotes, qa/admission.py) or off (budget 0: every question queues for the model), and
optionally the model's and the encoders' threads (``llamacpp:5:1:1``: budget 5 s, ``llamacpp_threads=1``,
``encoder_threads=1`` for e5 and the evidence cross-encoder; an empty field keeps the default), and after a
``/`` any other settings (``llamacpp:10/evidence_rerank_k=4;context_sentences=3``). ``--title`` names the
section written (a one-user run is its own section).

Usage: python benchmarks/load.py [--clients 20] [--seconds 60] [--variants extractive,llamacpp:0,llamacpp:10]
       [--title "Load: one user"]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Who did Belousov replace?",
    "Kapan Korea Utara meratifikasi pakta pertahanan?",
    "Siapa penasihat keamanan nasional Presiden Yoon?",
    "What was Belousov's profession before becoming defence minister?",
    "Di kota mana tentara Wagner terlibat dalam pertempuran paling sengit?",
    "What is the exchange rate of the Korean won to the rupiah?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not come up")


def run_load(variant: str, store: Path, clients: int, seconds: float, request_timeout: float) -> dict:
    from gradio_client import Client

    spec, _, rest = variant.partition("/")
    overrides = [pair.strip() for pair in rest.split(";") if pair.strip()]
    backend, _, rest = spec.partition(":")
    budget, _, rest = rest.partition(":")
    threads, _, encoder_threads = rest.partition(":")
    port = free_port()
    env = {**os.environ, "NEWSQA_BACKEND": backend, "NEWSQA_CONCURRENCY_LIMIT": "4"}
    if budget:
        env["NEWSQA_LLM_QUEUE_BUDGET_S"] = budget
    if threads:
        env["NEWSQA_LLAMACPP_THREADS"] = threads
    if encoder_threads:
        env["NEWSQA_ENCODER_THREADS"] = encoder_threads
    for pair in overrides:
        key, _, value = pair.partition("=")
        env[f"NEWSQA_{key.strip().upper()}"] = value.strip()
    cmd = [str(Path(sys.executable).with_name("newsqa")), "serve", "--store", str(store), "--port", str(port)]
    log_name = "".join(c if c.isalnum() else "-" for c in variant)
    log = open(Path(tempfile.gettempdir()) / f"newsqa-load-{log_name}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    latencies: list[float] = []
    quoted: list[float] = []
    waited: list[float] = []
    evidence: list[float] = []
    errors: list[str] = []
    refused = by_model = 0
    lock = threading.Lock()
    try:
        wait_up(url, proc)
        deadline = time.monotonic() + seconds

        def worker(i: int) -> None:
            nonlocal refused, by_model
            client = Client(url, verbose=False)
            n = i
            while time.monotonic() < deadline:
                q = QUESTIONS[n % len(QUESTIONS)]
                n += 1
                started = time.perf_counter()
                try:
                    job = client.submit(q, [], api_name="/ask")
                    result = job.result(timeout=request_timeout)
                    ok = isinstance(result, dict) and result.get("text")
                    with lock:
                        if ok:
                            took = time.perf_counter() - started
                            timings = result.get("timings", {})
                            latencies.append(took)
                            evidence.append(float(timings.get("retrieve_s", 0.0)))
                            waited.append(max(0.0, took - float(timings.get("total_s", 0.0))))
                            refusal = bool(result.get("refused"))
                            refused += refusal
                            # A refusal carries the configured backend's name but no model text.
                            model = not refusal and result.get("backend") not in ("extractive", None)
                            by_model += model
                            if not model and not refusal:
                                quoted.append(took)
                        else:
                            errors.append(f"empty answer for {q!r}")
                except Exception as exc:  # noqa: BLE001 - every failure is a counted error
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}"[:200])

        started = time.perf_counter()
        workers = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(timeout=seconds + request_timeout + 60)
        wall = time.perf_counter() - started
    finally:
        _report.stop_process(proc)
        log.close()
    p50, p95 = _report.percentiles(latencies, 50, 95)
    return {
        "backend": variant
        if not budget
        else f"{backend}, queue budget {budget} s"
        + (" (off)" if budget == "0" else "")
        + (f", {threads} model thread{'s' if threads != '1' else ''}" if threads else "")
        + (
            f", {encoder_threads} encoder thread{'s' if encoder_threads != '1' else ''}"
            if encoder_threads
            else ""
        )
        + "".join(f", {pair}" for pair in overrides),
        "evidence_p95_s": _report.percentiles(evidence, 95)[0] if evidence else 0.0,
        "quoted_p95_s": _report.percentiles(quoted, 95)[0] if quoted else 0.0,
        "waited_p50_s": _report.percentiles(waited, 50)[0] if waited else 0.0,
        "by_model": by_model,
        "clients": clients,
        "seconds": seconds,
        "answered": len(latencies),
        "refused": refused,
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "throughput_qps": len(latencies) / wall if wall else 0.0,
        "p50_s": p50,
        "p95_s": p95,
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--variants", default="llamacpp:0,llamacpp:10")
    parser.add_argument("--request-timeout", type=float, default=600)
    parser.add_argument(
        "--title", default="Load: concurrent chat users", help="the docs/benchmarks.md section it writes"
    )
    args = parser.parse_args()
    load_start = _report.banner("load")
    store = Path(tempfile.mkdtemp(prefix="newsqa-load-")) / "store"
    subprocess.run(
        [str(Path(sys.executable).with_name("newsqa")), "ingest", str(ROOT / "data" / "articles"), "--store",
         str(store), "--quiet"],
        check=True,
    )  # fmt: skip
    rows, results = [], []
    for variant in args.variants.split(","):
        r = run_load(variant, store, args.clients, args.seconds, args.request_timeout)
        results.append(r)
        print(r, flush=True)
        rows.append(
            [
                r["backend"], r["clients"], f"{r['seconds']:.0f}", r["answered"], r["refused"], r["errors"],
                f"{r['by_model'] / max(1, r['answered']):.2f}", f"{r['throughput_qps']:.2f}",
                f"{r['p50_s']:.2f}", f"{r['p95_s']:.2f}", f"{r['quoted_p95_s']:.2f}",
                f"{r['waited_p50_s']:.2f}", f"{r['evidence_p95_s']:.2f}", f"{r['wall_s']:.0f}",
            ]
        )  # fmt: skip
    load_end = _report.banner("load")
    md = (
        "Concurrent `gradio_client` users calling `/ask` on one `newsqa serve` process (queue concurrency 4) "
        "over the sample articles, loopback only. Questions in flight when the time is up are awaited, so "
        "`answered + errors` is every question asked; `wall s` includes that drain. p50/p95: a verified "
        "answer (the model's or quoted), as the client waits for it; evidence p95: the server's retrieval "
        "and evidence time (`retrieve_s`); quoted p95: the answers quoted from the evidence alone; queued "
        "p50: the client's wait less the server's time on the question (`total_s`), i.e. time in Gradio's "
        "queue and transport; by model: the share of answers the model wrote (the rest quoted "
        "because it was busy or its draft failed the check, or refused).\n\n"
        + _report.table(
            [
                "backend",
                "clients",
                "s",
                "answered",
                "refused",
                "errors",
                "by model",
                "answers/s",
                "p50 s",
                "p95 s",
                "quoted p95 s",
                "queued p50 s",
                "evidence p95 s",
                "wall s",
            ],
            rows,
        )
    )
    for r in results:
        if r["error_examples"]:
            md += f"\n\nErrors ({r['backend']}): " + "; ".join(r["error_examples"])
    _report.write_section(args.title, md, load=(load_start, load_end))


if __name__ == "__main__":
    main()
