"""How many of the first stage's best sentences the evidence cross-encoder reads (``evidence_rerank_k``).

Why: under load the cross-encoder is most of what a quoted answer costs (docs/benchmarks.md, "Load"), and its
cost grows with the pairs it reads. Fewer pairs are only worth it if the evidence stays as good.

Quality: the committed two-stage scorer (``qa.scorer.load_scorer``) with the cross-encoder's logits for the
first stage's best 8 (benchmarks/scorer_data.py, cached); reading only the best k of those is the same run
with the logits of the rest dropped (stage-1 order is nested), so every k is scored on the same questions
and logits. Decisions use the settings in force (refusal, quote and support thresholds). The choice is made
on the tune split's held-out questions (``qa.evaluation.ce_holdout``, what the thresholds were fitted on);
the report split is then reported for the chosen and the current k.

Cost: ``QAService.gather`` (retrieval, sentence vectors, both stages) per question at each k, same questions,
sentence caches warm (one pass first), so the difference between rows is the cross-encoder.

Usage: python benchmarks/rerank_depth.py SET_DIR [SET_DIR ...] [--ks 8,6,5,4,3] [--limit 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _report as rep  # noqa: E402
import scorer_data  # noqa: E402
from train_scorer import HEADERS, auc, final_scores, per_question, reads  # noqa: E402

from qa.cross_encoder import load_cross_encoder  # noqa: E402
from qa.evaluation import load_questions, store_for_corpus  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.refusal import thresholds  # noqa: E402
from qa.scorer import EvidenceScorer, load_scorer  # noqa: E402
from qa.settings import get_settings  # noqa: E402

EXTRACT_K = 8


def scores_at(d: scorer_data.SetData, scorer: EvidenceScorer, k: int) -> np.ndarray:
    """Final scores with the cross-encoder reading each question's best ``k``: the cached logits kept for
    the candidates ``EvidenceScorer.reranked`` picks at that depth, the rest dropped, then ``combine``."""
    assert d.first is not None and d.ce is not None
    at_k = replace(scorer, rerank_k=k)
    ce = np.full(len(d.ce), np.nan)
    for g in np.unique(d.group):
        rows = np.flatnonzero(d.group == g)
        top = rows[at_k.reranked(d.first[rows])]
        ce[top] = d.ce[top]
    return final_scores(replace(d, ce=ce), at_k)


def quality_row(d: scorer_data.SetData, scorer: EvidenceScorer, k: int) -> list[object]:
    """Sentence recall, what the LLM reads, answerability AUC, refusals, quote precision and the support
    check's pass rate on answer sentences among the best three, with the settings' thresholds."""
    s = get_settings().model_copy(update={"evidence_reader": False})
    t = thresholds(s)
    p = scores_at(d, scorer, k)
    best, top_right = per_question(d, p)
    ans = d.q_answerable
    refused = d.q_missing | (best < np.where(d.q_english, t.refuse_en, t.refuse_id))
    quoted = ~refused & (best >= t.quote)
    passed: list[bool] = []
    for g in np.unique(d.group):
        rows = np.flatnonzero(d.group == g)
        best3 = rows[np.argsort(-p[rows], kind="stable")][:3]
        passed += [p[i] >= t.support for i in best3 if d.y[i]]

    def share(hits: np.ndarray, mask: np.ndarray = ans) -> str:
        return f"{hits[mask].mean():.3f}" if mask.any() else "–"

    return [
        d.name,
        k,
        len(d.q_ids),
        share(reads(d, p, 1, 10**6)),
        share(reads(d, p, 3, 10**6)),
        share(reads(d, p, s.llm_context_sentences, s.llm_context_chars)),
        auc(ans, best),
        share(refused, ~ans),
        share(refused),
        share(top_right, quoted) if quoted.any() else "–",
        f"{np.mean(passed):.3f}" if passed else "–",
    ]


QUALITY_HEADERS = ["set", "k", "questions", *HEADERS[4:], "quote right", "support passes answer"]


def cost_rows(set_dir: Path, ks: list[int], limit: int) -> list[list[object]]:
    """``gather`` p50/p95 per k on the set's first ``limit`` report questions, caches warm, ks interleaved
    per question so drift in the host's speed falls on every k alike."""
    base = store_for_corpus(get_settings(), rep.corpus_of(set_dir), progress=False)
    questions = load_questions(set_dir / "questions.jsonl", limit, split="report")
    services = {k: QAService(base.model_copy(update={"evidence_rerank_k": k})) for k in ks}
    for q in questions:  # warm: models loaded, sentence vectors cached
        services[ks[0]].gather(q.question)
    times: dict[int, list[float]] = {k: [] for k in ks}
    for q in questions:
        for k in ks:
            started = time.perf_counter()
            services[k].gather(q.question)
            times[k].append(time.perf_counter() - started)
    rows = []
    for k in ks:
        p50, p95 = rep.percentiles(times[k], 50, 95)
        rows.append([set_dir.name, k, len(questions), f"{p50 * 1000:.0f}", f"{p95 * 1000:.0f}"])
    base_p50 = float(rows[0][3])
    for row in rows:
        row.append(f"{float(row[3]) / base_p50:.2f}×")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--ks", default="8,6,5,4,3", help="depths to compare, the first is the baseline")
    parser.add_argument("--limit", type=int, default=300, help="questions per set and split")
    parser.add_argument("--cost-limit", type=int, default=40, help="questions timed per k (first set)")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    assert max(ks) <= EXTRACT_K
    load_start = rep.loadavg()
    scorer = load_scorer()
    reranker = load_cross_encoder(get_settings().model_cache)
    holdout = scorer_data.Rerank(scorer.prefilter, reranker, EXTRACT_K, holdout_only=True)
    everyone = scorer_data.Rerank(scorer.prefilter, reranker, EXTRACT_K, holdout_only=False)
    tune = [scorer_data.load(s, "tune", args.limit, holdout) for s in args.sets]
    report = [scorer_data.load(s, "report", args.limit, everyone) for s in args.sets]
    tune_rows = [quality_row(d, scorer, k) for d in tune for k in ks]
    report_rows = [quality_row(d, scorer, k) for d in report for k in ks]
    costs = cost_rows(args.sets[0], ks, args.cost_limit)
    md = (
        "The committed scorer with its cross-encoder reading the first stage's best k sentences; the "
        f"logits of the best {EXTRACT_K} are computed once and the rest dropped for smaller k (the first "
        "stage's order is nested), so each k is judged on the same questions and logits. Thresholds: the "
        "settings in force. 'quote right': the best sentence holds the answer, among answerable questions "
        "it would be quoted for; 'support passes answer': answer-holding sentences among the best three "
        "that the support check accepts.\n\n"
        "### Tune split (held-out tune questions, `ce_holdout`): where k is chosen\n\n"
        + rep.table(QUALITY_HEADERS, tune_rows)
        + "\n\n### Report split\n\n"
        + rep.table(QUALITY_HEADERS, report_rows)
        + "\n\n### Cost per question (`QAService.gather`, caches warm, ks interleaved)\n\n"
        + rep.table(["set", "k", "questions", "gather p50 ms", "p95 ms", "p50 vs first"], costs)
    )
    print(md)
    rep.write_section("Evidence cross-encoder depth", md, load=(load_start, rep.loadavg()))


if __name__ == "__main__":
    main()
