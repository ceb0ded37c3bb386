"""Questions of the undated (Wikipedia) dev sets that name a date: extractive answers with and without date
handling, same run. Checks that dates in questions cost no answers where articles carry no dates
(docs/benchmarks.md, "Dates in questions over undated stores").

Usage: python benchmarks/dates_undated.py xling-en-id-dev idkmrc-id-dev tydiqa-id-dev
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.dates import question_scope  # noqa: E402
from qa.evaluation import contains_answer, load_questions, store_for_corpus  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.settings import get_settings  # noqa: E402


def main() -> None:
    for name in sys.argv[1:]:
        folder = Path("data/eval") / name
        questions = load_questions(folder / "questions.jsonl")
        dated = [q for q in questions if question_scope(q.question, date.today())]
        base = store_for_corpus(get_settings(), folder / "corpus.jsonl", progress=False)
        for label, update in (("without", {"date_handling": False}), ("with", {})):
            service = QAService(base.model_copy(update=update))
            right = refused = answerable = 0
            for q in dated:
                a = service.answer(q.question, backend="extractive")
                answerable += q.answerable
                right += q.answerable and not a.refused and contains_answer(a.text, q.answers)
                refused += not q.answerable and a.refused
            print(
                f"{name} {label} date handling: answerable right {right}/{answerable}, "
                f"unanswerable refused {refused}/{len(dated) - answerable}",
                flush=True,
            )


if __name__ == "__main__":
    main()
