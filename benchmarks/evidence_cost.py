"""What the evidence scorer costs per question: ``QAService.gather`` time (retrieval, candidate encoding,
scoring, refusal decision) with the cosine baseline, stage 1 alone and both stages, same questions.

Each variant starts from empty sentence caches (a question about articles nobody asked about yet) after one
warm-up question, so model loading is not counted; the variants run in turn over the same questions.

Usage: python benchmarks/evidence_cost.py SET_DIR [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _report as rep  # noqa: E402

from qa.context import ARTICLE_TEXTS, SENTENCE_VECTORS  # noqa: E402
from qa.evaluation import load_questions, store_for_corpus  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.settings import get_settings  # noqa: E402

VARIANTS: dict[str, dict[str, object]] = {
    "stage 1 + cross-encoder, both on PyTorch (before ONNX)": {"encoder": "torch"},
    "cosine + rank (baseline)": {"evidence_scorer": False},
    "stage 1 (features)": {"evidence_cross_encoder": False},
    "stage 1 + cross-encoder (in force: e5 and the cross-encoder on ONNX Runtime, fp32)": {},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set_dir", type=Path)
    parser.add_argument("--limit", type=int, default=60)
    args = parser.parse_args()
    base = store_for_corpus(get_settings(), rep.corpus_of(args.set_dir), progress=False)
    questions = load_questions(args.set_dir / "questions.jsonl", args.limit, split="report")
    load_start = rep.loadavg()
    rows = []
    for name, update in VARIANTS.items():
        service = QAService(base.model_copy(update=update))
        service.gather("berita hari ini")  # loads the models
        SENTENCE_VECTORS.clear()
        ARTICLE_TEXTS.clear()
        times = []
        for q in questions:
            started = time.perf_counter()
            service.gather(q.question)
            times.append(time.perf_counter() - started)
        p50, p95 = rep.percentiles(times, 50, 95)
        rows.append([name, len(times), f"{p50 * 1000:.0f}", f"{p95 * 1000:.0f}", rep.loadavg()])
        print(rows[-1], flush=True)
    md = (
        f"`QAService.gather` on the first {len(questions)} report-split questions of `{args.set_dir.name}`, "
        "sentence caches emptied before each variant (after one warm-up question), so every first look at "
        "an article pays for encoding its sentences.\n\n"
        + rep.table(["evidence order", "questions", "gather p50 ms", "p95 ms", "load avg after"], rows)
    )
    rep.write_section("Evidence scorer cost", md, load=(load_start, rep.loadavg()))
    print(md)


if __name__ == "__main__":
    main()
