"""Encoder: torch vs ONNX Runtime (fp32, int8) — speed, threads and retrieval quality, all in one run.

Every encoder is measured in the same process, back to back, so each ratio has a same-run baseline (torch):

* ingest: the real ``ingest_paths`` of the first ``--ingest-articles`` IndoSum articles into a fresh store per
  encoder (chunks/s, model load and a warm-up excluded);
* query encode: one question at a time (``encode_queries``), p50/p95 over ``--queries`` dev questions;
* threads: single-question and 32-passage-batch encode with 1 thread and one per core, on a quiet machine
  and a busy one (one CPU-bound process per core running beside it, as when the local model generates);
* quality: each encoder's own store of the set's corpus, dense-only and hybrid retrieval, recall@5 and MRR@10
  on the first ``--tydi-limit`` answerable tydiqa-id-dev questions and all answerable xling-en-id-dev ones.

Usage: .venv/bin/python benchmarks/encoder.py [--encoders torch,onnx,onnx-int8]
       [--parts ingest,query,threads,quality] [--quality-encoders torch,onnx-int8] [--title "Encoder: ..."]
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import argparse
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report as rep  # noqa: E402

from qa.evaluation import load_questions, rank_metrics, store_for_corpus  # noqa: E402
from qa.language import detect_language  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.settings import Settings, get_settings  # noqa: E402
from vectorstore.embeddings import Embedder, get_embedder  # noqa: E402
from vectorstore.service import ingest_paths  # noqa: E402

EVAL = Path("data/eval")
TITLE = "Encoder: torch vs ONNX Runtime"


def _embedder(settings: Settings, encoder: str, threads: int = 0) -> Embedder:
    return get_embedder(
        settings.embedding_model, settings.model_cache, settings.embed_batch_size, encoder, threads
    )  # type: ignore[arg-type]


def _set_torch_threads(encoder: str, threads: int) -> None:
    """torch's thread count is process-wide, so it is set again before every torch measurement."""
    if encoder == "torch":
        import torch

        torch.set_num_threads(threads or os.cpu_count() or 1)


def _timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def measure_ingest(settings: Settings, encoders: list[str], n_articles: int) -> list[list[object]]:
    lines = Path("data/indosum-news/articles.jsonl").read_text(encoding="utf-8").splitlines()[:n_articles]
    work = Path(tempfile.mkdtemp(prefix="enc-ingest-"))
    corpus = work / "articles.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows, base = [], None
    try:
        for encoder in encoders:
            _set_torch_threads(encoder, 0)
            emb = _embedder(settings, encoder)
            emb.encode_passages(["passage warm-up " * 40] * 8)
            s = settings.model_copy(update={"store": work / f"store-{encoder}", "encoder": encoder})
            start = time.perf_counter()
            report = ingest_paths(s, [corpus], progress=False)
            elapsed = time.perf_counter() - start
            chunks = report.chunks
            rate = chunks / elapsed
            base = base or rate
            rows.append(
                [encoder, chunks, f"{elapsed:.1f}", f"{rate:.1f}", f"{rate / base:.2f}×", rep.loadavg()]
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def measure_queries(settings: Settings, encoders: list[str], questions: list[str]) -> list[list[object]]:
    rows, base = [], None
    for encoder in encoders:
        _set_torch_threads(encoder, 0)
        emb = _embedder(settings, encoder)
        emb.encode_queries(questions[:3])
        times = []
        for q in questions:
            start = time.perf_counter()
            emb.encode_queries([q])
            times.append(time.perf_counter() - start)
        p50, p95 = rep.percentiles([t * 1000 for t in times], 50, 95)
        base = base or p50
        rows.append(
            [encoder, len(questions), f"{p50:.1f}", f"{p95:.1f}", f"{base / p50:.1f}×", rep.loadavg()]
        )
    return rows


def _burn() -> None:
    while True:
        pass


def measure_threads(
    settings: Settings, encoders: list[str], questions: list[str], passages: list[str]
) -> list[list[object]]:
    cores = os.cpu_count() or 1
    rows = []
    for busy in (False, True):
        burners = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(cores if busy else 0)]
        for p in burners:
            p.start()
        try:
            for encoder in encoders:
                for threads in sorted({1, cores}):
                    _set_torch_threads(encoder, threads)
                    emb = _embedder(settings, encoder, threads)
                    emb.encode_queries(questions[:2])
                    single = []
                    for q in questions[:40]:
                        start = time.perf_counter()
                        emb.encode_queries([q])
                        single.append((time.perf_counter() - start) * 1000)
                    batch = _timed(lambda e=emb: e.encode_passages(passages[:32], batch_size=32), 3)
                    p50, p95 = rep.percentiles(single, 50, 95)
                    rate = 32 / min(batch)
                    rows.append(
                        [
                            "busy" if busy else "quiet",
                            encoder,
                            threads,
                            f"{p50:.1f}",
                            f"{p95:.1f}",
                            f"{rate:.1f}",
                        ]
                    )
        finally:
            for p in burners:
                p.terminate()
    _set_torch_threads("torch", 0)
    return rows


def measure_quality(settings: Settings, encoders: list[str], tydi_limit: int) -> list[list[object]]:
    rows = []
    for name, limit in (("tydiqa-id-dev", tydi_limit), ("xling-en-id-dev", None)):
        set_dir = EVAL / name
        questions = [
            q for q in load_questions(set_dir / "questions.jsonl") if q.answerable and q.gold_articles
        ]
        questions = questions[:limit] if limit else questions
        base: dict[str, dict[str, float]] = {}
        for encoder in encoders:
            _set_torch_threads(encoder, 0)
            s = store_for_corpus(settings.model_copy(update={"encoder": encoder}), set_dir / "corpus.jsonl")
            service = QAService(s)
            searcher = service.searcher()
            runs: dict[str, list[list[str]]] = {"dense": [], "hybrid": []}
            for q in questions:
                lang = detect_language(q.question)
                qvec = service.embedder.encode_queries([q.question])[0]
                for mode in runs:
                    ranked = searcher.search(q.question, lang, 10, mode=mode, query_vector=qvec)
                    runs[mode].append([p.doc_id for p in ranked])
            golds = [q.gold_articles for q in questions]
            for mode, rankings in runs.items():
                m = rank_metrics(rankings, golds)
                ref = base.setdefault(mode, m)
                rows.append(
                    [
                        name,
                        len(questions),
                        mode,
                        encoder,
                        f"{m['recall@5']:.3f}",
                        f"{m['mrr@10']:.3f}",
                        f"{m['recall@5'] - ref['recall@5']:+.3f}",
                        f"{m['mrr@10'] - ref['mrr@10']:+.3f}",
                    ]
                )
    return rows


def _questions(n: int) -> list[str]:
    qs = load_questions(EVAL / "tydiqa-id-dev" / "questions.jsonl", limit=n // 2)
    qs += load_questions(EVAL / "xling-en-id-dev" / "questions.jsonl", limit=n - n // 2)
    return [q.question for q in qs]


def _passages(n: int) -> list[str]:
    out = []
    with open("data/indosum-news/articles.jsonl", encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line).get("text", "")
            out.append(" ".join(text.split()[:150]))
            if len(out) >= n:
                break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--encoders", default="torch,onnx,onnx-int8")
    parser.add_argument("--parts", default="ingest,query,threads,quality")
    parser.add_argument(
        "--quality-encoders",
        default="torch,onnx-int8",
        help="fp32 ONNX is left out by default: its vectors equal torch's to 1e-5 (tests/test_embeddings.py)",
    )
    parser.add_argument("--ingest-articles", type=int, default=150)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--tydi-limit", type=int, default=600)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--title", default=TITLE, help="the docs/benchmarks.md section it writes")
    args = parser.parse_args()
    encoders, parts = args.encoders.split(","), args.parts.split(",")
    settings = get_settings()
    load_start = rep.loadavg()
    out = [INTRO]
    if "ingest" in parts:
        rows = measure_ingest(settings, encoders, args.ingest_articles)
        out += [f"### Ingest ({args.ingest_articles} IndoSum articles)", "", rep.table(INGEST_HEAD, rows), ""]
        print(out[-2], flush=True)
    if "query" in parts:
        rows = measure_queries(settings, encoders, _questions(args.queries))
        out += ["### One question at a time", "", rep.table(QUERY_HEAD, rows), ""]
        print(out[-2], flush=True)
    if "threads" in parts:
        rows = measure_threads(settings, encoders, _questions(40), _passages(32))
        out += ["### Threads", "", THREADS_NOTE, "", rep.table(THREADS_HEAD, rows), ""]
        print(out[-2], flush=True)
    if "quality" in parts:
        rows = measure_quality(settings, args.quality_encoders.split(","), args.tydi_limit)
        out += ["### Retrieval quality", "", QUALITY_NOTE, "", rep.table(QUALITY_HEAD, rows), ""]
        print(out[-2], flush=True)
    if not args.no_write:
        rep.write_section(args.title, "\n".join(out), load=(load_start, rep.loadavg()))


INTRO = (
    "multilingual-e5-small run by sentence-transformers on PyTorch (`torch`), and by ONNX Runtime from a "
    "graph exported here from the same weights, in fp32 (`onnx`) and with dynamic int8 weights, per channel "
    "(`onnx-int8`; `vectorstore/onnx_encoder.py`, built at install time). Same process, back to back; ratios "
    "are to torch in this run. Load average at the end of each row in the last column."
)
INGEST_HEAD = ["encoder", "chunks", "ingest s", "chunks/s", "vs torch", "load avg"]
QUERY_HEAD = ["encoder", "questions", "p50 ms", "p95 ms", "p50 speed-up", "load avg"]
THREADS_HEAD = ["machine", "encoder", "threads", "1 question p50 ms", "p95 ms", "batch of 32 passages/s"]
THREADS_NOTE = (
    "Busy: one CPU-bound process per core runs beside the encoder (as when the local model generates)."
)
QUALITY_HEAD = ["set", "questions", "retrieval", "encoder", "recall@5", "MRR@10", "Δ recall@5", "Δ MRR@10"]
QUALITY_NOTE = (
    "Each encoder ingests the set's corpus into its own store (vectors and queries from that encoder); "
    "first answerable questions in file order; Δ against torch."
)


if __name__ == "__main__":
    main()
