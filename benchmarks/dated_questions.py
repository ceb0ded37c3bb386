"""Dated questions, with and without date handling, same run: benchmarks/sets/news-dated (80 questions over
the sample articles and 300 dated IndoSum articles: absolute, period and relative dates, timelines, and
dated questions the corpus cannot answer).

Each question is asked "on" its own ``today`` (relative dates count from it), with the extractive backend
(quotes, so the figures measure retrieval, evidence and the date mechanism rather than the local model).
Reported on the report split (qa.evaluation.split_of); the tune split is shown for reference only.

Metrics: answerable non-timeline questions: right (an accepted answer in a non-refused answer) and citation
precision (cited articles that are gold); unanswerable: refused; timelines: qa.evaluation.timeline_scores
(events found, dates right, order right, all cited).

Usage: python benchmarks/dated_questions.py [SET_DIR] [--split report|tune|all]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _report as rep  # noqa: E402

from qa.evaluation import contains_answer, split_of, store_for_corpus, timeline_scores  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.settings import get_settings  # noqa: E402

DEFAULT_SET = Path("benchmarks/sets/news-dated")
VARIANTS = {"without date handling": {"date_handling": False}, "with date handling (in force)": {}}


def score(service: QAService, q: dict[str, Any]) -> dict[str, float]:
    a = service.answer(q["question"], backend="extractive", as_of=q.get("today"))
    if q["kind"] == "timeline":
        return {f"tl_{k}": v for k, v in timeline_scores(a.text, q["timeline"]).items()} | {
            "tl_is_timeline": float(bool(a.timeline))
        }
    if not q["answerable"]:
        return {"refused": float(a.refused)}
    cited = [c.doc_id for c in a.citations]
    precision = sum(d in q["gold_articles"] for d in cited) / len(cited) if cited else 0.0
    return {"right": float(not a.refused and contains_answer(a.text, q["answers"])), "cite_p": precision}


def summary(rows: list[dict[str, float]]) -> dict[str, str]:
    keys = sorted({k for r in rows for k in r})
    out = {}
    for k in keys:
        vals = [r[k] for r in rows if k in r]
        out[k] = f"{statistics.fmean(vals):.2f} (n={len(vals)})"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set_dir", type=Path, nargs="?", default=DEFAULT_SET)
    parser.add_argument("--split", choices=["report", "tune", "all"], default="report")
    args = parser.parse_args()
    load_start = rep.loadavg()
    base = store_for_corpus(get_settings(), args.set_dir / "corpus.jsonl", progress=False)
    questions = [json.loads(line) for line in (args.set_dir / "questions.jsonl").open(encoding="utf-8")]
    if args.split != "all":
        questions = [q for q in questions if split_of(q["id"]) == args.split]
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for name, overrides in VARIANTS.items():
        service = QAService(base.model_copy(update=overrides))
        for q in questions:
            results.setdefault(name, {}).setdefault(q["kind"], []).append(score(service, q))
    kinds = sorted({q["kind"] for q in questions})
    metrics = {
        "point": ["right", "cite_p"],
        "period": ["right", "cite_p"],
        "relative": ["right", "cite_p"],
        "date-unanswerable": ["refused"],
        "timeline": ["tl_is_timeline", "tl_found", "tl_dates_right", "tl_order_right", "tl_all_cited"],
    }
    rows = []
    for kind in kinds:
        for metric in metrics.get(kind, ["right", "cite_p"]):
            cells = []
            for name in VARIANTS:
                vals = [r[metric] for r in results[name][kind] if metric in r]
                cells.append(f"{statistics.fmean(vals):.2f}" if vals else "-")
            base_v, new_v = cells
            ratio = f"{float(new_v) / float(base_v):.2f}x" if base_v not in ("-", "0.00") else "-"
            rows.append([kind, metric, len(results[name][kind]), *cells, ratio])
    md = (
        f"Set: `{args.set_dir}`, **{args.split}** split ({len(questions)} questions), extractive backend, "
        "each question asked on its own `today`. Same run, same store; the only difference is "
        "`date_handling`.\n\n"
        + rep.table(["kind", "metric", "questions", *VARIANTS, "ratio"], rows)
        + "\n\nright: an accepted answer in a non-refused answer; cite_p: share of cited articles that are "
        "gold; "
        "refused: dated questions the corpus cannot answer that were refused; timeline: the answer is a "
        "timeline, events found, dates right (of those found), order right, every line cited "
        "(qa.evaluation.timeline_scores)."
    )
    title = f"Dated questions ({args.split} split)"
    rep.write_section(title, md, load=(load_start, rep.loadavg()))
    print(md)


if __name__ == "__main__":
    main()
