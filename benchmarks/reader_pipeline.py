"""The reader in the pipeline: calibrate its thresholds on the tune split, and report it against the feature
scorer on the report split, in the same run.

    python benchmarks/reader_pipeline.py calibrate [--limit N]  # -> qa/models/reader_config.json "thresholds"
    python benchmarks/reader_pipeline.py report [--limit N]  # -> docs/benchmarks.md "Reader in the pipeline"

For every question: the service's own ``gather`` (hybrid retrieval, the evidence sentences it selects, the
names check), no generation. Recorded: the best evidence score (what refusal reads), whether the first
evidence sentence holds an accepted answer in a gold article, whether any of the first three does, and the
evidence time.

Calibration reads only tune-split questions the reader never trained on (``qa.evaluation.ce_holdout``).
First the margin-to-probability map (``qa.reader.answer_probability``): a logistic regression of "this
passage answers" on the reader's best margin, over those questions' own passages and retrieval hard
negatives (benchmarks/reader_data.py). Then, over the service's evidence for the same questions, as
benchmarks/train_scorer.py does for the scorer: per question language the refusal threshold that
refuses the most unanswerable questions at most ``MAX_FALSE_REFUSALS`` of answerable ones; the quote
threshold above which the best sentence holds the answer at least ``QUOTE_PRECISION`` of the time; the
support threshold that ``SUPPORT_RECALL`` of answer-holding sentences among the best three pass.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _report as rep  # noqa: E402
from _calibration import MAX_FALSE_REFUSALS, QUOTE_PRECISION, quote_threshold, refusal_threshold  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from qa import reader as reader_module  # noqa: E402
from qa.evaluation import ce_holdout, contains_answer, load_questions, store_for_corpus  # noqa: E402
from qa.language import detect_language  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.reader import CONFIG_FILE, MODELS_DIR, load_reader, read  # noqa: E402
from qa.refusal import answers  # noqa: E402
from qa.settings import Settings, get_settings  # noqa: E402

SHARED = rep.ROOT.parent / "shared" / "data" / "eval"
SETS = {
    "news-bi": rep.ROOT / "benchmarks" / "sets" / "news-bi",
    "idkmrc-id-dev": SHARED / "idkmrc-id-dev",
    "tydiqa-id-dev": SHARED / "tydiqa-id-dev",
    "xling-en-id-dev": SHARED / "xling-en-id-dev",
}
SUPPORT_RECALL = 0.95


@dataclass
class Row:
    """One question as the service's evidence stage saw it."""

    set: str
    english: bool
    answerable: bool
    missing: bool  # names of the question the articles never mention (refused regardless of scores)
    best: float  # best evidence score (-1: no evidence)
    first_right: bool  # the first evidence sentence holds an answer, in a gold article
    top3_right: bool
    hit: bool  # a gold article among the retrieved passages
    right_scores: list[float]  # scores of answer-holding sentences among the best three
    seconds: float


def collect(name: str, settings: Settings, split: str, limit: int, seed: int = 0) -> list[Row]:
    """The evidence stage over a fixed random sample of ``limit`` questions of a set's ``split``
    (``calibrate``: only its ``ce_holdout`` questions)."""
    folder = SETS[name]
    questions = load_questions(folder / "questions.jsonl", split="tune" if split == "calibrate" else split)
    if split == "calibrate":
        questions = [q for q in questions if ce_holdout(q.id)]
    random.Random(seed).shuffle(questions)
    questions = questions[:limit]
    service = QAService(store_for_corpus(settings, rep.corpus_of(folder), progress=False))
    service.warm_up("extractive")
    rows: list[Row] = []
    for q in questions:
        started = time.perf_counter()
        g = service.gather(q.question)
        seconds = time.perf_counter() - started
        ev = g.evidence

        def right(e, q=q) -> bool:  # noqa: ANN001
            gold = not q.gold_articles or e.doc_id in q.gold_articles
            return q.answerable and gold and contains_answer(e.quote, q.answers)

        top3 = sorted(ev, key=lambda e: e.score, reverse=True)[:3]
        rows.append(
            Row(
                set=name,
                english=detect_language(q.question) == "en",
                answerable=q.answerable,
                missing=bool(g.missing_names),
                best=max((e.score for e in ev), default=-1.0),
                first_right=bool(ev) and right(ev[0]),
                top3_right=any(right(e) for e in top3),
                hit=any(p.doc_id in q.gold_articles for p in g.passages) if q.gold_articles else True,
                right_scores=[e.score for e in top3 if right(e)],
                seconds=seconds,
            )
        )
    return rows


def fit_probability(settings: Settings, limit: int) -> dict[str, float]:
    """(scale, bias) of P(answer) = sigmoid(scale * margin + bias), fitted on held-out tune passages."""
    from reader_data import load_examples
    from sklearn.linear_model import LogisticRegression

    examples = [
        e
        for e in load_examples(rep.ROOT.parent / "shared", "tune", negative_share=0.35)
        if ce_holdout(e.id.split("#")[0])
    ]
    random.Random(0).shuffle(examples)
    by: dict[str, list] = {}
    for e in examples:
        by.setdefault(e.source, []).append(e)
    chosen = [e for group in by.values() for e in group[:limit]]
    reader = load_reader(settings.model_cache)
    margins = []
    for e in chosen:
        spans = read(reader, e.question, [e.context], limit=1)[0]
        margins.append(spans[0].score if spans else -30.0)
    y = np.array([bool(e.answers) for e in chosen])
    model = LogisticRegression(C=100.0).fit(np.array(margins)[:, None], y)
    auc = roc_auc_score(y, margins)
    print(f"margin AUC on {len(chosen)} held-out passages: {auc:.3f}", flush=True)
    return {
        "scale": round(float(model.coef_[0, 0]), 5),
        "bias": round(float(model.intercept_[0]), 5),
        "passages": len(chosen),
        "answerable": int(y.sum()),
        "margin_auc": round(float(auc), 4),
    }


def write_config(**items: object) -> None:
    path = MODELS_DIR / CONFIG_FILE
    config = json.loads(path.read_text(encoding="utf-8"))
    config.update(items)
    path.write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    reader_module._calibration.cache_clear()


def refusal_cut(rows: list[Row]) -> float:
    best = np.array([r.best for r in rows])
    answerable = np.array([r.answerable for r in rows])
    return refusal_threshold(best, answerable, np.array([r.missing for r in rows]), MAX_FALSE_REFUSALS)


def calibrate(rows: list[Row]) -> dict[str, float]:
    answerable = [r for r in rows if r.answerable]
    best = np.array([r.best for r in answerable])
    right = np.array([r.first_right for r in answerable])
    quote = quote_threshold(best, right, QUOTE_PRECISION)
    found = [s for r in answerable for s in r.right_scores]
    out = {
        "quote": quote,
        "support": float(np.round(np.quantile(found, 1.0 - SUPPORT_RECALL), 4)) if found else 0.0,
    }
    for lang, english in (("id", False), ("en", True)):
        out[lang] = refusal_cut([r for r in rows if r.english == english])
    return out


def summary(rows: list[Row], settings: Settings) -> list[object]:
    ans = [r for r in rows if r.answerable]
    una = [r for r in rows if not r.answerable]

    def refused(r: Row) -> bool:
        return r.missing or r.best < 0 or not answers(r.best, "en" if r.english else "id", settings)

    labels = [r.answerable for r in rows]
    auc = f"{roc_auc_score(labels, [r.best for r in rows]):.3f}" if len(set(labels)) == 2 else "–"
    hit = [r for r in ans if r.hit]

    def share(xs: list[bool]) -> str:
        return f"{np.mean(xs):.3f}" if xs else "–"

    return [
        len(rows),
        share([r.first_right for r in hit]),
        share([r.top3_right for r in hit]),
        auc,
        share([refused(r) for r in una]),
        share([refused(r) for r in ans]),
        f"{np.percentile([r.seconds for r in rows], 50):.2f}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("calibrate", "report"))
    ap.add_argument("--limit", type=int, default=150, help="questions per set")
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    args = ap.parse_args()
    load_start = rep.banner("reader_pipeline")
    base = get_settings()
    if args.mode == "calibrate":
        base = base.model_copy(update={"evidence_reader": True})
        write_config(calibration=fit_probability(base, args.limit))
        rows = [r for name in args.sets for r in collect(name, base, "calibrate", args.limit)]
        thresholds = calibrate(rows)
        write_config(
            thresholds=thresholds,
            threshold_data={
                "questions": len(rows),
                "answerable": sum(r.answerable for r in rows),
                "english": sum(r.english for r in rows),
                "sets": args.sets,
                "rule": f"false refusals <= {MAX_FALSE_REFUSALS}, quote precision >= {QUOTE_PRECISION}, "
                f"support recall {SUPPORT_RECALL}",
            },
        )
        print(json.dumps(thresholds))
        return
    variants = {
        "reader": base.model_copy(update={"evidence_reader": True}),
        "scorer (baseline)": base.model_copy(update={"evidence_reader": False}),
    }
    headers = [
        "set",
        "evidence by",
        "questions",
        "answer is 1st sentence | gold@5",
        "answer in best 3 | gold@5",
        "answerability AUC",
        "unanswerable refused",
        "answerable refused",
        "evidence p50 s",
    ]
    table_rows: list[list[object]] = []
    for name in args.sets:
        for label, settings in variants.items():
            rows = collect(name, settings, "report", args.limit)
            table_rows.append([name, label, *summary(rows, settings)])
            print(" | ".join(str(c) for c in table_rows[-1]), flush=True)
    text = (
        "The service's evidence stage (``QAService.gather``: hybrid retrieval, sentence selection, names "
        f"check), no generation, on a fixed random sample of at most {args.limit} report-split questions per "
        "set. The reader and the feature scorer + cross-encoder it replaces run in the same process, each "
        "with its own calibrated thresholds (refusal: best evidence score below the per-language threshold, "
        "or a name the articles never mention). 'answer is 1st sentence': the first evidence sentence holds "
        "an accepted answer and is in a gold article, among answerable questions whose gold article was "
        "retrieved.\n\n" + rep.table(headers, table_rows)
    )
    rep.write_section("Reader in the pipeline", text, load=(load_start, rep.banner("reader_pipeline")))


if __name__ == "__main__":
    main()
