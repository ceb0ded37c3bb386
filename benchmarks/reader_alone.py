"""The reader alone on each question's own (gold) passage, report split: the SQuAD 2.0 figures.

    python benchmarks/reader_alone.py [--limit N]    # writes docs/benchmarks.md "Reader on gold passages"

For each example of benchmarks/reader_data.py (report split, no hard negatives): the reader's best span of
the passage (``qa.reader.read``, the ONNX model the service runs) and its span-vs-null margin. A question is
refused when the margin, as a probability, is under the null threshold: calibrated here on the tune split's
held-out questions (``ce_holdout``, never trained on) per question language, as the largest share of
unanswerable questions refused at most 10% of answerable ones refused. EM/F1 are SQuAD's (lower case, no
punctuation, whitespace-normalised; a refused answerable question scores 0).
"""

from __future__ import annotations

import argparse
import random
import re
import string
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _report as rep  # noqa: E402
from _calibration import MAX_FALSE_REFUSALS, refusal_threshold  # noqa: E402
from reader_data import Example, load_examples  # noqa: E402

from qa.evaluation import ce_holdout  # noqa: E402
from qa.reader import answer_probability, load_reader, read  # noqa: E402
from qa.settings import get_settings  # noqa: E402

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}«»“”‘’]")


def normal(text: str) -> str:
    text = _PUNCT.sub(" ", text.lower())
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def f1(pred: str, gold: str) -> float:
    p, g = normal(pred).split(), normal(gold).split()
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g:
        return float(p == g)
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def predict(reader, examples: list[Example]) -> list[tuple[str, float]]:  # noqa: ANN001
    """(best span text, P(answer)) per example."""
    out = []
    for e in examples:
        spans = read(reader, e.question, [e.context], limit=1)[0]
        if spans:
            out.append((e.context[spans[0].start : spans[0].end], answer_probability(spans[0].score)))
        else:
            out.append(("", 0.0))
    return out


def null_threshold(examples: list[Example], preds: list[tuple[str, float]]) -> float:
    p = np.array([x[1] for x in preds])
    return refusal_threshold(p, np.array([bool(e.answers) for e in examples]), max_false=MAX_FALSE_REFUSALS)


def scores(examples: list[Example], preds: list[tuple[str, float]], tau: dict[str, float]) -> list[object]:
    ans = [(e, p) for e, p in zip(examples, preds, strict=True) if e.answers]
    una = [(e, p) for e, p in zip(examples, preds, strict=True) if not e.answers]

    def refused(e: Example, p: tuple[str, float]) -> bool:
        return p[1] < tau.get(e.language, tau["id"])

    em = [
        0.0 if refused(e, p) else max(float(normal(p[0]) == normal(a)) for _, a in e.answers) for e, p in ans
    ]
    f = [0.0 if refused(e, p) else max(f1(p[0], a) for _, a in e.answers) for e, p in ans]
    f_span = [max(f1(p[0], a) for _, a in e.answers) for e, p in ans]

    def share(xs: list[float]) -> str:
        return f"{np.mean(xs):.3f}" if xs else "–"

    return [
        len(ans),
        len(una),
        share(em),
        share(f),
        share(f_span),
        share([float(refused(e, p)) for e, p in una]),
        share([float(refused(e, p)) for e, p in ans]),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=rep.ROOT.parent / "shared")
    ap.add_argument("--limit", type=int, default=600, help="examples per source")
    args = ap.parse_args()
    load_start = rep.banner("reader_alone")
    reader = load_reader(get_settings().model_cache)
    rng = random.Random(0)

    def sample(split: str, keep) -> dict[str, list[Example]]:  # noqa: ANN001
        by: dict[str, list[Example]] = {}
        for e in load_examples(args.shared, split, negative_share=0.0):
            if keep(e):
                by.setdefault(e.source, []).append(e)
        return {k: rng.sample(v, min(args.limit, len(v))) for k, v in sorted(by.items())}

    holdout = [e for v in sample("tune", lambda e: ce_holdout(e.id)).values() for e in v]
    hold_preds = predict(reader, holdout)
    tau = {
        lang: null_threshold([e for e in holdout if e.language == lang],
                             [p for e, p in zip(holdout, hold_preds, strict=True) if e.language == lang])
        for lang in ("id", "en")
    }  # fmt: skip
    rows = []
    started = time.perf_counter()
    n = 0
    for source, examples in sample("report", lambda e: True).items():
        preds = predict(reader, examples)
        n += len(examples)
        rows.append([source, *scores(examples, preds, tau)])
        print(" | ".join(str(c) for c in rows[-1]), flush=True)
    per_question = (time.perf_counter() - started) / max(1, n)
    headers = [
        "report split",
        "answerable",
        "unanswerable",
        "EM",
        "F1",
        "F1 of the best span (no refusal)",
        "unanswerable refused",
        "answerable refused",
    ]
    text = (
        f"Each question over its own passage (report split, at most {args.limit} per source; the ONNX "
        "model the service runs). Null threshold (P(answer) under which the reader says 'no answer'), "
        f"calibrated on {len(holdout)} held-out tune questions: id {tau['id']:.4f}, en {tau['en']:.4f}. "
        f"{per_question * 1000:.0f} ms per question (one passage, 2 cores, while other work ran).\n\n"
        + rep.table(headers, rows)
    )
    rep.write_section("Reader on gold passages", text, load=(load_start, rep.banner("reader_alone")))


if __name__ == "__main__":
    main()
