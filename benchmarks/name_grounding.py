"""Measure the name-grounding refusal rule (qa/grounding.py) on the dev sets, without generation.

For each question: retrieval as the service runs it (hybrid, k passages), then the question's names, acronyms
and numbers that the retrieved text does not contain. The rule refuses when any is missing. Reported per set
and question language, for two choices of "the retrieved text": the k passages themselves, or the whole
articles they come from; and for the evidence-strength threshold alone and the two together, so the rule's
own gain is visible beside the baseline from the same run.

Usage: python benchmarks/name_grounding.py SET_DIR [SET_DIR ...] [--limit N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report as rep  # noqa: E402

from qa.context import ARTICLE_TEXTS  # noqa: E402
from qa.evaluation import load_questions, store_for_corpus  # noqa: E402
from qa.grounding import missing_names  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.settings import get_settings  # noqa: E402

POOLS = ("passages", "articles")


def evaluate(set_dir: Path, limit: int) -> tuple[list[list[object]], list[str]]:
    settings = store_for_corpus(get_settings(), rep.corpus_of(set_dir), progress=False)
    # The rule is applied here, by hand, so that ``gathered.weak`` is the evidence threshold alone.
    settings = settings.model_copy(update={"refuse_missing_names": False})
    questions = load_questions(set_dir / "questions.jsonl")
    random.Random(0).shuffle(questions)
    questions = questions[:limit]
    service = QAService(settings)
    stats: dict[tuple[str, bool], dict[str, int]] = {}
    examples: list[str] = []
    started = time.perf_counter()
    for q in questions:
        gathered = service.gather(q.question)
        texts = {
            "passages": [p.text for p in gathered.passages],
            "articles": [ARTICLE_TEXTS.get(service.store, d) for d in {p.doc_id for p in gathered.passages}],
        }
        row = stats.setdefault((gathered.language, q.answerable), {"n": 0, "weak": 0})
        row["n"] += 1
        row["weak"] += gathered.weak
        for pool in POOLS:
            missing = missing_names(q.question, texts[pool])
            row[pool] = row.get(pool, 0) + bool(missing)
            row[f"{pool}+weak"] = row.get(f"{pool}+weak", 0) + (bool(missing) or gathered.weak)
            if pool == "passages" and missing and len(examples) < 6:
                kind = "answerable" if q.answerable else "unanswerable"
                examples.append(f"{kind}: {q.question!r}: missing {missing}")
    elapsed = time.perf_counter() - started
    rows: list[list[object]] = []
    for (language, answerable), row in sorted(stats.items()):
        share = {k: f"{v / row['n']:.3f}" for k, v in row.items() if k != "n"}
        what = "false refusals (answerable)" if answerable else "refusals (unanswerable)"
        rows.append(
            [
                f"{set_dir.name} ({elapsed:.0f} s)",
                language,
                what,
                row["n"],
                share["weak"],
                *(share[p] for p in POOLS),
                *(share[f"{p}+weak"] for p in POOLS),
            ]
        )
    return rows, examples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    load_start = rep.banner("name_grounding")
    headers = [
        "set",
        "question language",
        "share refused among",
        "questions",
        "evidence threshold alone",
        *(f"names missing from the {p}" for p in POOLS),
        *(f"threshold or names missing ({p})" for p in POOLS),
    ]
    rows: list[list[object]] = []
    notes: list[str] = []
    for set_dir in args.sets:
        set_rows, examples = evaluate(set_dir, args.limit)
        for row in set_rows:
            print(" | ".join(str(c) for c in row), flush=True)
        rows += set_rows
        notes += [f"- {set_dir.name}, {e}" for e in examples]
    text = (
        f"Retrieval as the service runs it (hybrid, k passages), no generation; of each set a fixed random "
        f"sample of {args.limit} questions. A question is refused by the rule when one of its names, "
        "acronyms or numbers (qa/grounding.py) occurs nowhere in the retrieved text.\n\n"
        + rep.table(headers, rows)
        + "\n\nFlagged questions (first few, passages pool):\n"
        + "\n".join(notes)
    )
    rep.write_section("Name grounding", text, load=(load_start, rep.banner("name_grounding")))


if __name__ == "__main__":
    main()
