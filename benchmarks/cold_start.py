"""What a new process (a CLI call, a restarted server) pays before its first answer on a big store.

Opens an existing store (by default the one ``benchmarks/scale.py --keep`` leaves), then times: opening the
store, getting the BM25 index through the real ``KEYWORD_CACHE`` (loaded from the copy saved beside the store
when it matches the store's revision, which is the point of measuring this), the first hybrid query, and the
p50/p95 of the following ones. ``--rebuild`` also times the full read-all-chunks-and-index path in the same
run as the baseline (minutes at 1M chunks).

Usage: .venv/bin/python benchmarks/cold_start.py [--store .newsqa/bench/scale] [--rebuild]
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report as rep  # noqa: E402

from qa.evaluation import load_questions  # noqa: E402
from qa.language import detect_language  # noqa: E402
from qa.retrieval import KEYWORD_CACHE, HybridSearcher, KeywordIndexCache  # noqa: E402
from qa.settings import Settings  # noqa: E402
from vectorstore.embeddings import get_embedder  # noqa: E402
from vectorstore.service import open_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=Path(".newsqa/bench/scale"))
    parser.add_argument("--questions", type=Path, default=Path("data/eval/tydiqa-id-dev/questions.jsonl"))
    parser.add_argument("--n-questions", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true", help="also time the full rebuild (baseline)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--section", default="Cold start of a new process on a big store")
    args = parser.parse_args()
    load_start = rep.banner("cold start")

    settings = Settings(store=args.store, chroma_host=None)
    embedder = get_embedder(settings.embedding_model, settings.model_cache, settings.embed_batch_size)
    questions = load_questions(args.questions, args.n_questions)
    vectors = embedder.encode_queries([q.question for q in questions])

    start = time.perf_counter()
    store = open_store(settings, create=False)
    chunks = store.count()
    open_s = time.perf_counter() - start
    saved = (args.store / f"bm25-{store.name}" / "manifest.json").is_file()
    start = time.perf_counter()
    KEYWORD_CACHE.get(store)
    keyword_s = time.perf_counter() - start
    searcher = HybridSearcher(
        store,
        embedder,
        fetch_k=settings.fetch_k,
        bm25_weights={"id": settings.bm25_weight_id, "en": settings.bm25_weight_en},
    )
    times = []
    for q, vec in zip(questions, vectors, strict=True):
        start = time.perf_counter()
        searcher.search(q.question, detect_language(q.question), settings.k, query_vector=vec)
        times.append((time.perf_counter() - start) * 1000)
    first_ms, rest = times[0], times[1:]
    p50, p95 = rep.percentiles(rest, 50, 95)
    rows: list[list[object]] = [
        ["chunks in the store", f"{chunks:,}"],
        ["open the store (Chroma client + collections)", f"{open_s:.2f} s"],
        [f"BM25 index via KEYWORD_CACHE ({'saved copy' if saved else 'none saved'})", f"{keyword_s:.2f} s"],
        ["first hybrid query (Chroma loads its HNSW segment)", f"{first_ms:.0f} ms"],
        [f"next {len(rest)} hybrid queries p50 / p95", f"{p50:.0f} / {p95:.0f} ms"],
    ]
    if args.rebuild:
        start = time.perf_counter()
        KeywordIndexCache._build(store)
        rebuild_s = time.perf_counter() - start
        ratio = f"{rebuild_s:.1f} s ({rebuild_s / keyword_s:.0f}×)"
        rows.append(["baseline, same run: read every chunk + build BM25", ratio])
    load_end = rep.banner("cold start")
    md = (
        f"A new process on an existing store, `{args.store}` ({chunks:,} chunks; a store grown by\n"
        "`benchmarks/scale.py --keep` is SYNTHETIC beyond its real chunks, so figures on it are about index\n"
        "size, not answer quality). Query vectors are encoded beforehand.\n\n"
        + rep.table(["step", "time"], rows)
    )
    print(md)
    if not args.no_write:
        rep.write_section(args.section, md, load=(load_start, load_end))


if __name__ == "__main__":
    main()
