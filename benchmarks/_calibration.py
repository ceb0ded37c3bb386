"""How a threshold on an evidence score is chosen from held-out questions: one rule for every model's
calibration (benchmarks/train_scorer.py, benchmarks/reader_pipeline.py, benchmarks/reader_alone.py)."""

from __future__ import annotations

import numpy as np

MAX_FALSE_REFUSALS = 0.10
QUOTE_PRECISION = 0.80


def refusal_threshold(
    best: np.ndarray,
    answerable: np.ndarray,
    missing: np.ndarray | None = None,
    max_false: float = MAX_FALSE_REFUSALS,
) -> float:
    """The cut on each question's best score that refuses the largest share of unanswerable questions
    (minus answerable ones refused) while refusing at most ``max_false`` of the answerable ones; questions
    with ``missing`` names are refused whatever their score."""
    missing = np.zeros(len(best), dtype=bool) if missing is None else missing
    chosen, gain = 0.0, -1.0
    for t in np.unique(np.round(best[np.isfinite(best) & (best >= 0)], 4)):
        refused = missing | (best < t)
        false = refused[answerable].mean() if answerable.any() else 0.0
        caught = refused[~answerable].mean() if (~answerable).any() else 0.0
        if false <= max_false and caught - false > gain:
            chosen, gain = float(t), caught - false
    return chosen


def quote_threshold(best: np.ndarray, right: np.ndarray, precision: float = QUOTE_PRECISION) -> float:
    """The lowest cut above which the best sentence holds the answer at least ``precision`` of the time."""
    for t in np.unique(np.round(best[np.isfinite(best) & (best >= 0)], 4)):
        if right[best >= t].mean() >= precision:
            return float(t)
    return 1.0
