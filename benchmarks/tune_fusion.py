"""Tune the BM25 weight of the hybrid retriever per question language on the dev retrieval sets.

Each question's query vector is encoded once; the sweep then re-runs only the cheap fusion step. Prints
recall@5 / MRR@10 for every weight, with dense-only and BM25-only baselines from the same run, as markdown
tables; docs/benchmarks.md keeps them (one run per set, pasted with its command) beside the choice they
support. Usage:
    python benchmarks/tune_fusion.py data/eval/xling-en-id-dev [more set dirs] --limit 600
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa.evaluation import load_questions, rank_metrics, store_for_corpus  # noqa: E402
from qa.language import detect_language  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.settings import get_settings  # noqa: E402

WEIGHTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6)


def evaluate(set_dir: Path, limit: int) -> tuple[str, list[str]]:
    settings = store_for_corpus(get_settings(), set_dir / "corpus.jsonl")
    questions = [q for q in load_questions(set_dir / "questions.jsonl") if q.answerable and q.gold_articles]
    random.Random(0).shuffle(questions)
    questions = questions[:limit]
    service = QAService(settings)
    searcher = service.searcher()
    runs: dict[str, list[list[str]]] = {f"hybrid w={w}": [] for w in WEIGHTS}
    runs["dense"], runs["bm25"] = [], []
    golds = []
    started = time.perf_counter()
    for q in questions:
        lang = detect_language(q.question)
        qvec = service.embedder.encode_queries([q.question])[0]
        for mode in ("dense", "bm25"):
            ranked = searcher.search(q.question, lang, 10, mode=mode, query_vector=qvec)
            runs[mode].append([p.doc_id for p in ranked])
        for w in WEIGHTS:
            searcher.bm25_weights = {lang: w}
            ranked = searcher.search(q.question, lang, 10, query_vector=qvec)
            runs[f"hybrid w={w}"].append([p.doc_id for p in ranked])
        golds.append(q.gold_articles)
    elapsed = time.perf_counter() - started
    rows = []
    for name, rankings in runs.items():
        m = rank_metrics(rankings, golds)
        cells = " | ".join(f"{m[key]:.3f}" for key in ("recall@1", "recall@5", "recall@10", "mrr@10"))
        rows.append(f"| {name} | {cells} |")
    title = f"{set_dir.name}: {len(questions)} answerable questions ({elapsed:.0f}s)"
    return title, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=600)
    args = parser.parse_args()
    for set_dir in args.sets:
        title, rows = evaluate(set_dir, args.limit)
        print(f"### {title}\n| retriever | recall@1 | recall@5 | recall@10 | MRR@10 |\n|---|---|---|---|---|")
        print("\n".join(rows), flush=True)


if __name__ == "__main__":
    main()
