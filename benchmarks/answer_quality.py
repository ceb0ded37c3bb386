"""End-to-end answer quality on the report split: the extractive reader against the feature scorer it
replaced (and the older cosine baseline), measured in the same run with the same backend.

- "cosine": evidence ordered by e5 cosine + 0.1 x passage score, refusal on the best cosine (0.79 id /
  0.78 en, the thresholds calibrated before the scorer), never quoting when the model declines; the new
  support check (facts + answering citation) applies to both, with the cosine as the "answers" score.
- "scorer": the feature scorer + cross-encoder (qa/scorer.py) with its own thresholds.
- "reader": the extractive reader deciding (qa/reader.py), with its own thresholds.

Reported per set: answer accuracy, citation precision, refusal of unanswerable questions, false refusals,
evidence recall of what the LLM reads, shown sentences stating a name/number/date their citation lacks,
first-token p50/p95.

Usage: python benchmarks/answer_quality.py SET_DIR [SET_DIR ...] --backend llamacpp [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _report as rep  # noqa: E402

from qa.evaluation import question_set, run_eval  # noqa: E402
from qa.settings import get_settings  # noqa: E402

VARIANTS: dict[str, dict[str, object]] = {
    "cosine": {
        "evidence_reader": False,
        "evidence_scorer": False,
        "refusal_threshold_id": 0.79,
        "refusal_threshold_en": 0.78,
        "quote_threshold": 1.0,
    },
    "scorer": {"evidence_reader": False},
    "reader": {"evidence_reader": True},
}
METRICS = (
    ("answer_accuracy", "accuracy"),
    ("citation_precision", "citation precision"),
    ("refusal_accuracy", "unanswerable refused"),
    ("false_refusal_rate", "false refusals"),
    ("evidence_recall_llm", "LLM reads the answer"),
    ("unsupported_sentence_rate", "unsupported sentences"),
    ("first_token_p50_s", "first token p50 s"),
    ("first_token_p95_s", "p95 s"),
    ("evidence_p50_s", "evidence p50 s"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--backend", default="llamacpp", choices=["extractive", "llamacpp", "openai"])
    parser.add_argument("--limit", type=int, default=None, help="questions per set (report split)")
    parser.add_argument("--split", default="report", choices=["tune", "report"])
    parser.add_argument("--variants", default="scorer,reader")
    args = parser.parse_args()
    load_start = rep.loadavg()
    rows = []
    for set_dir in args.sets:
        questions, corpus = question_set(set_dir)
        if corpus is None:
            corpus = rep.corpus_of(set_dir)
        for variant in args.variants.split(","):
            settings = get_settings().model_copy(update={"backend": args.backend, **VARIANTS[variant]})
            result = run_eval(
                settings, questions, corpus=corpus, limit=args.limit, split=args.split, progress=False
            )
            n, unans = result["questions"], result["questions"] - result["answerable"]
            cells = [f"{result[key]:.3f}" if key in result else "–" for key, _ in METRICS]
            rows.append([set_dir.name, f"{n} ({unans} unans.)", variant, *cells])
            print(rows[-1], flush=True)
    md = (
        f"Backend `{args.backend}`, the {args.split} split of each set (`qa.evaluation.split_of`), "
        f"{'all' if not args.limit else f'the first {args.limit}'} questions of it in file order. "
        "Variants in the same run: `cosine` = evidence by e5 cosine + passage score and refusal on the best "
        "cosine (0.79 id / 0.78 en), no quoting when the model declines; `scorer` = the feature scorer + "
        "cross-encoder with its thresholds (the default); `reader` = the extractive reader, its thresholds. "
        "'unsupported sentences' = shown cited sentences with a name, number or date their citations do not "
        "contain.\n\n" + rep.table(["set", "questions", "variant", *(label for _, label in METRICS)], rows)
    )
    title = f"Answer quality on the report split ({args.backend})"
    rep.write_section(title, md, load=(load_start, rep.loadavg()))
    print(md)


if __name__ == "__main__":
    main()
