"""Calibrate the evidence-strength refusal threshold on question sets with unanswerable questions.

For every question it runs retrieval + evidence selection (no generation) and records the best evidence
sentence's similarity; then it prints, for a sweep of thresholds, refusal accuracy on unanswerable questions
and false-refusal rate on answerable ones, and the threshold with the best balanced accuracy. The chosen
values go into ``Settings.refusal_threshold_id`` / ``_en`` (per question language); the sweep is
written to docs/benchmarks.md.

Usage: python benchmarks/calibrate_refusal.py SET_DIR [SET_DIR ...] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from qa.context import select_evidence
from qa.evaluation import load_questions, store_for_corpus
from qa.language import detect_language
from qa.pipeline import QAService
from qa.settings import get_settings


def top_scores(set_dir: Path, limit: int, seed: int = 0) -> list[tuple[bool, float]]:
    settings = get_settings()
    corpus = set_dir / "corpus.jsonl"
    if not corpus.exists():
        corpus = set_dir.parent.parent / "articles"
    settings = store_for_corpus(settings, corpus)
    questions = load_questions(set_dir / "questions.jsonl")
    random.Random(seed).shuffle(questions)
    answerable = [q for q in questions if q.answerable][: limit // 2]
    unanswerable = [q for q in questions if not q.answerable][: limit // 2]
    service = QAService(settings)
    searcher = service.searcher()
    out = []
    for q in answerable + unanswerable:
        qvec = service.embedder.encode_queries([q.question])[0]
        passages = searcher.search(q.question, detect_language(q.question), settings.k, query_vector=qvec)
        ev = select_evidence(
            service.store,
            service.embedder,
            qvec,
            passages,
            settings.context_sentences,
            rank_weight=settings.evidence_rank_weight,
        )
        out.append((q.answerable, max((e.score for e in ev), default=0.0)))
    return out


def sweep(scores: list[tuple[bool, float]]) -> tuple[float, list[str]]:
    ans = np.array([s for a, s in scores if a])
    una = np.array([s for a, s in scores if not a])
    best, best_t, rows = -1.0, 0.0, []
    for t in np.arange(0.70, 0.92, 0.01):
        refusal = float((una < t).mean()) if len(una) else 0.0
        false_refusal = float((ans < t).mean()) if len(ans) else 0.0
        balanced = (refusal + 1 - false_refusal) / 2
        rows.append(f"| {t:.2f} | {refusal:.3f} | {false_refusal:.3f} | {balanced:.3f} |")
        if balanced > best:
            best, best_t = balanced, float(t)
    return best_t, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=400)
    args = parser.parse_args()
    for set_dir in args.sets:
        scores = top_scores(set_dir, args.limit)
        best, rows = sweep(scores)
        print(f"## {set_dir.name}: {len(scores)} questions, best balanced threshold {best:.2f}")
        print("| threshold | refusal accuracy | false refusals | balanced |\n|---|---|---|---|")
        print("\n".join(rows))
        Path("docs").mkdir(exist_ok=True)
        Path(f"docs/calibration-{set_dir.name}.json").write_text(json.dumps(scores), encoding="utf-8")


if __name__ == "__main__":
    main()
