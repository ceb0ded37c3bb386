"""Train the two-stage evidence scorer on the dev sets' tune split, calibrate its thresholds, report on the
other split.

- Stage 1 data: every candidate sentence of the passages retrieved for each tune-split question
  (benchmarks/scorer_data.py), label 1 when it is in a gold article and holds an accepted answer. IDK-MRC's
  unanswerable questions contribute only negatives: that is what teaches "about the same thing" from
  "answers it". Model: scikit-learn logistic regression on standardised features.
- Stage 2: the cross-encoder (qa/models/ce_adapter.safetensors, trained on the GPU machine by
  benchmarks/ce_train_device.py on tune-split questions) scores stage 1's best RERANK_K; a logistic
  regression combines the two logits. It is fitted on tune questions the cross-encoder never trained on
  (``scorer_data.ce_holdout``), so it does not learn to over-trust a model on its own training questions.
- Thresholds, per question language, from the final probabilities on those held-out tune questions: the
  refusal threshold maximises refusals of unanswerable questions minus false refusals with at most
  MAX_FALSE_REFUSALS of answerable ones refused; the quote threshold is the lowest best-sentence probability
  at which quoting that sentence is right at least QUOTE_PRECISION of the time.
- Everything goes to ``qa/models/evidence_scorer.json`` (a few KB); the report (docs/benchmarks.md) is on
  the report split only, with the cosine baseline and stage 1 alone on the same questions.

Usage: python benchmarks/train_scorer.py SET_DIR [SET_DIR ...] [--limit N] [--ce-limit N] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _report as rep  # noqa: E402
import scorer_data  # noqa: E402
from _calibration import MAX_FALSE_REFUSALS, QUOTE_PRECISION, quote_threshold, refusal_threshold  # noqa: E402

from qa.cross_encoder import load_cross_encoder  # noqa: E402
from qa.refusal import thresholds as thresholds_in_force  # noqa: E402
from qa.scorer import FEATURES, MODEL_PATH, EvidenceScorer, Logistic, rerank_inputs, sigmoid  # noqa: E402
from qa.settings import get_settings  # noqa: E402

SUPPORT_RECALL = 0.95  # share of answer-holding sentences in the best three that the support check accepts
C = 1.0
RERANK_K = 8  # first-stage candidates the cross-encoder reads (~20 ms each on 2 cores)


def fit(X: np.ndarray, y: np.ndarray) -> Logistic:
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=C, max_iter=2000).fit((X - mean) / scale, y)
    return Logistic(mean, scale, model.coef_[0], float(model.intercept_[0]))


def final_scores(d: scorer_data.SetData, scorer: EvidenceScorer) -> np.ndarray:
    """What ``EvidenceScorer.score`` gives each cached candidate, question by question (``combine``)."""
    assert d.first is not None and d.ce is not None
    out = np.empty(len(d.first))
    for g in np.unique(d.group):
        rows = d.group == g
        out[rows] = scorer.combine(d.first[rows], d.ce[rows], bool(d.q_english[g]))
    return out


def per_question(data: scorer_data.SetData, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best score, whether the best-scored sentence holds the answer) for each question."""
    n = len(data.q_ids)
    best = np.full(n, -np.inf)
    top_right = np.zeros(n, dtype=bool)
    for g in range(n):
        rows = np.flatnonzero(data.group == g)
        if len(rows):
            i = rows[np.argmax(scores[rows])]
            best[g], top_right[g] = scores[i], bool(data.y[i])
    return best, top_right


def reads(data: scorer_data.SetData, scores: np.ndarray, n: int, budget: int) -> np.ndarray:
    """Per question: an answer sentence is among what the LLM reads (best ``n`` within ``budget`` chars,
    skipping one that would overflow, as qa.context.within_budget does)."""
    hits = np.zeros(len(data.q_ids), dtype=bool)
    for g in range(len(data.q_ids)):
        rows = np.flatnonzero(data.group == g)
        used, taken = 0, 0
        for i in rows[np.argsort(-scores[rows], kind="stable")][:n]:
            if taken and used + data.length[i] > budget:
                continue
            used, taken = used + data.length[i], taken + 1
            hits[g] |= bool(data.y[i])
    return hits


def support_threshold(sets: list[scorer_data.SetData], scores: list[np.ndarray]) -> float:
    """The score a cited sentence needs to count as answering: the SUPPORT_RECALL quantile from below of the
    scores of answer-holding sentences among each question's best three (what an LLM may cite). The
    refusal threshold is set on a question's *best* sentence; the second and third sentence score lower
    even when they hold the answer, and a claim citing them must not be thrown away for that."""
    found: list[float] = []
    for d, p in zip(sets, scores, strict=True):
        for g in np.unique(d.group):
            rows = np.flatnonzero(d.group == g)
            found += [float(p[i]) for i in rows[np.argsort(-p[rows], kind="stable")][:3] if d.y[i]]
    return float(np.round(np.quantile(found, 1.0 - SUPPORT_RECALL), 4)) if found else 0.0


def calibrate(sets: list[scorer_data.SetData], scores: list[np.ndarray]) -> dict[str, float]:
    """Per-language refusal thresholds, the quote threshold and the support threshold."""
    best, right = zip(*(per_question(d, p) for d, p in zip(sets, scores, strict=True)), strict=True)
    best_all, right_all = np.concatenate(best), np.concatenate(right)
    answerable = np.concatenate([d.q_answerable for d in sets])
    english = np.concatenate([d.q_english for d in sets])
    missing = np.concatenate([d.q_missing for d in sets])
    out = {
        "quote": quote_threshold(best_all, right_all & answerable),
        "support": support_threshold(sets, scores),
    }
    for lang, mask in (("id", ~english), ("en", english)):
        if mask.any():
            out[lang] = refusal_threshold(best_all[mask], answerable[mask], missing[mask])
    return out


def auc(labels: np.ndarray, scores: np.ndarray) -> str:
    ok = np.isfinite(scores)
    return f"{roc_auc_score(labels[ok], scores[ok]):.3f}" if len(set(labels[ok])) == 2 else "–"


def report_row(d: scorer_data.SetData, label: str, scores: np.ndarray, refused: np.ndarray, best: np.ndarray):
    s = get_settings()
    ans = d.q_answerable

    def share(hits: np.ndarray) -> str:
        return f"{hits[ans].mean():.3f}" if ans.any() else "–"

    return [
        d.name,
        label,
        len(d.q_ids),
        share(d.q_hit5),
        share(reads(d, scores, 1, 10**6)),
        share(reads(d, scores, 3, 10**6)),
        share(reads(d, scores, s.llm_context_sentences, s.llm_context_chars)),
        auc(ans, best),
        f"{refused[~ans].mean():.3f}" if (~ans).any() else "–",
        f"{refused[ans].mean():.3f}" if ans.any() else "–",
    ]


def report_rows(
    d: scorer_data.SetData, prefilter: Logistic, rerank: Logistic, thresholds: dict[str, float]
) -> list[list]:
    """Same questions, three evidence orders: the cosine baseline (with the pre-scorer cosine refusal
    thresholds), the first stage alone and the two-stage scorer (both with the calibrated thresholds)."""
    cosine_best, _ = per_question(d, d.cosine)
    rows = [
        report_row(
            d,
            "cosine + rank (baseline)",
            d.baseline,
            d.q_missing | (cosine_best < np.where(d.q_english, 0.78, 0.79)),
            cosine_best,
        )
    ]
    t = np.where(d.q_english, thresholds.get("en", 0.0), thresholds.get("id", 0.0))
    first = sigmoid(prefilter.logits(d.X))
    best, _ = per_question(d, first)
    rows.append(report_row(d, "stage 1 (features)", first, d.q_missing | (best < t), best))
    final = final_scores(d, EvidenceScorer(prefilter, rerank, RERANK_K))
    best, _ = per_question(d, final)
    rows.append(report_row(d, "stage 1 + cross-encoder", final, d.q_missing | (best < t), best))
    return rows


HEADERS = [
    "set (report split)",
    "evidence order",
    "questions",
    "article recall@5",
    "sentence recall@1",
    "@3",
    "LLM reads",
    "answerability AUC",
    "unanswerable refused",
    "false refusals",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=700, help="questions per set and split (first stage)")
    parser.add_argument(
        "--ce-limit", type=int, default=300, help="questions per set and split (second stage)"
    )
    parser.add_argument("--no-write", action="store_true", help="report only; keep the committed weights")
    args = parser.parse_args()
    load_start = rep.loadavg()
    started = time.perf_counter()
    tune = [scorer_data.load(s, "tune", args.limit) for s in args.sets]
    prefilter = fit(np.vstack([d.X for d in tune]), np.concatenate([d.y for d in tune]))
    reranker = load_cross_encoder(get_settings().model_cache)
    holdout = scorer_data.Rerank(prefilter, reranker, RERANK_K, holdout_only=True)
    tune_ce = [scorer_data.load(s, "tune", args.ce_limit, holdout) for s in args.sets]
    everyone = scorer_data.Rerank(prefilter, reranker, RERANK_K, holdout_only=False)
    report = [scorer_data.load(s, "report", args.ce_limit, everyone) for s in args.sets]
    extract_s = time.perf_counter() - started
    X2 = np.vstack([rerank_inputs(d.first, d.ce, d.q_english[d.group]) for d in tune_ce])
    y2 = np.concatenate([d.y for d in tune_ce])
    has = ~np.isnan(X2[:, 1])
    rerank = fit(X2[has], y2[has])
    scorer = EvidenceScorer(prefilter, rerank, RERANK_K)
    thresholds = calibrate(tune_ce, [final_scores(d, scorer) for d in tune_ce])
    if not args.no_write:
        data = {**scorer.to_json(), "thresholds": thresholds}
        MODEL_PATH.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(thresholds))
    rows = [row for d in report for row in report_rows(d, prefilter, rerank, thresholds)]
    write_report(tune, tune_ce, prefilter, rerank, thresholds, rows, extract_s, load_start)


def write_report(tune, tune_ce, prefilter, rerank, thresholds, rows, extract_s, load_start) -> None:  # noqa: ANN001
    s = get_settings()
    weights = sorted(zip(FEATURES, prefilter.coef, strict=True), key=lambda fw: -abs(fw[1]))
    sizes = ", ".join(f"{d.name} {len(d.q_ids)}" for d in tune)
    sizes_ce = ", ".join(f"{d.name} {len(d.q_ids)}" for d in tune_ce)
    candidates, positives = sum(len(d.y) for d in tune), sum(int(d.y.sum()) for d in tune)
    second = ", ".join(
        f"{n} {w:+.2f}"
        for n, w in zip(("stage-1 logit", "CE logit", "english", "english x CE"), rerank.coef, strict=True)
    )
    md = (
        "Split: `qa.evaluation.split_of` (sha1 of the question id, first byte < 128 -> tune); everything "
        "below is on the report split only, the same questions for every row of a set.\n\n"
        f"- Stage 1 (features, logistic regression) trained on the tune split ({sizes} questions; "
        f"{candidates:,} candidate sentences of the retrieved passages, {positives:,} holding the answer).\n"
        "- Stage 2: the cross-encoder (LoRA on e5, trained on the GPU machine on tune-split questions, "
        "`qa/models/README.md`) reads the first stage's best "
        f"{RERANK_K}; a logistic regression over [{second}] (standardised weights) was fitted on tune "
        f"questions the cross-encoder never saw (sha1 second byte < 40: {sizes_ce}).\n"
        "- Thresholds calibrated on those same held-out tune questions: refusal "
        f"id {thresholds.get('id', 0):.3f}, "
        f"en {thresholds.get('en', 0):.3f} (at most {MAX_FALSE_REFUSALS:.0%} false refusals), quote "
        f"{thresholds['quote']:.3f} (best sentence right >= {QUOTE_PRECISION:.0%}), support "
        f"{thresholds['support']:.4f} ({SUPPORT_RECALL:.0%} of answer sentences among the best three pass). "
        f"Thresholds in force: {thresholds_in_force(s.model_copy(update={'evidence_reader': False}))}.\n"
        f"- 'LLM reads' = an answer sentence among the best {s.llm_context_sentences} within "
        f"{s.llm_context_chars} characters. Refusals are the pre-generation policy (a name the articles "
        "never mention, or a best score under the threshold): what the extractive backend does. The "
        "baseline uses the pre-scorer cosine thresholds 0.79 (id) / 0.78 (en). Features and cross-encoder "
        f"logits were extracted in {extract_s:.0f} s (cached in .newsqa/scorer-data).\n\n"
        + rep.table(HEADERS, rows)
        + "\n\nLargest standardised stage-1 weights: "
        + ", ".join(f"{f} {w:+.2f}" for f, w in weights[:8])
        + "."
    )
    print(md)
    rep.write_section("Evidence scorer", md, load=(load_start, rep.loadavg()))


if __name__ == "__main__":
    main()
