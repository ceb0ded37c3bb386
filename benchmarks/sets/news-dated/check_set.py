"""Validate questions.jsonl against corpus.jsonl for the news-dated set (stdlib only).

    python benchmarks/sets/news-dated/check_set.py

Why: the set is hand-written, so typos in ids, dates or answer strings would silently turn a question into
noise. This checks that every answerable question can be answered from its gold article text, that timelines
are well-formed and in order, and that refusals point at a real near article. It also prints the counts and
the tune/report split quoted in README.md. Exit status 1 if any check fails.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = {"point", "period", "relative", "timeline", "date-unanswerable"}
LANGUAGES = {"id", "en"}
REQUIRED = ("id", "question", "language", "answerable", "gold_articles", "answers", "kind", "today")


def iso(value: object) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def split_of(question_id: str) -> str:
    """The project's split rule: first byte of sha1(id) below 128 is tune, else report."""
    return "tune" if hashlib.sha1(question_id.encode("utf-8")).digest()[0] < 128 else "report"


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check(questions: list[dict], corpus: dict[str, dict]) -> list[str]:
    errors: list[str] = []
    seen: set[str] = set()

    def err(qid: str, msg: str) -> None:
        errors.append(f"{qid}: {msg}")

    def occurs(answers: list[str], doc_ids: list[str]) -> bool:
        texts = [corpus[d]["text"].lower() for d in doc_ids if d in corpus]
        return any(a.lower() in t for a in answers for t in texts)

    for q in questions:
        qid = str(q.get("id", "?"))
        missing = [k for k in REQUIRED if k not in q]
        if missing:
            err(qid, f"missing fields {missing}")
            continue
        if qid in seen:
            err(qid, "duplicate id")
        seen.add(qid)
        if q["kind"] not in KINDS:
            err(qid, f"invalid kind {q['kind']!r}")
        if q["language"] not in LANGUAGES:
            err(qid, f"invalid language {q['language']!r}")
        today = iso(q["today"])
        if today is None:
            err(qid, f"today is not an ISO date: {q['today']!r}")
        if not all(isinstance(a, str) and a.strip() for a in q["answers"]):
            err(qid, "answers must be non-empty strings")
        for doc_id in q["gold_articles"]:
            if doc_id not in corpus:
                err(qid, f"gold article {doc_id} not in corpus")
            elif today and iso(corpus[doc_id].get("published")) and iso(corpus[doc_id]["published"]) > today:
                err(qid, f"gold article {doc_id} published after today {today}")

        if q["kind"] == "date-unanswerable":
            if q["answerable"] is not False or q["gold_articles"] or q["answers"]:
                err(qid, "date-unanswerable needs answerable=false, no gold articles, no answers")
            near = q.get("near_article")
            if not near or near not in corpus:
                err(qid, f"near_article {near!r} missing or not in corpus")
            if "timeline" in q:
                err(qid, "timeline on an unanswerable question")
            continue

        if q["answerable"] is not True:
            err(qid, "answerable must be true for this kind")
        if not q["gold_articles"]:
            err(qid, "answerable question without gold articles")
        if "near_article" in q:
            err(qid, "near_article on an answerable question")

        if q["kind"] == "timeline":
            events = q.get("timeline")
            if not isinstance(events, list) or not 3 <= len(events) <= 5:
                err(qid, "timeline needs 3 to 5 events")
                continue
            dates = [iso(e.get("date")) for e in events]
            if None in dates:
                err(qid, "timeline event date is not an ISO date")
                continue
            if dates != sorted(dates):
                err(qid, "timeline dates not ascending")
            if today and dates[-1] > today:
                err(qid, "timeline event after today")
            for n, event in enumerate(events, 1):
                article = event.get("article")
                if article not in corpus:
                    err(qid, f"timeline event {n}: article {article} not in corpus")
                elif not event.get("answers") or not occurs(event["answers"], [article]):
                    err(qid, f"timeline event {n}: no answer string occurs in {article}")
            if set(q["gold_articles"]) != {e.get("article") for e in events}:
                err(qid, "gold_articles must be exactly the timeline articles")
            if q["answers"] and not occurs(q["answers"], q["gold_articles"]):
                err(qid, "no answer string occurs in any gold article")
        else:
            if "timeline" in q:
                err(qid, "timeline field on a non-timeline question")
            if not q["answers"]:
                err(qid, "answerable question without answers")
            elif not occurs(q["answers"], q["gold_articles"]):
                err(qid, "no answer string occurs in any gold article")
    return errors


def report(questions: list[dict]) -> None:
    by_kind = Counter((q["kind"], q["language"]) for q in questions)
    print(f"{'kind':<18} {'id':>4} {'en':>4} {'all':>4}")
    for kind in ("point", "period", "relative", "timeline", "date-unanswerable"):
        i, e = by_kind[(kind, "id")], by_kind[(kind, "en")]
        print(f"{kind:<18} {i:>4} {e:>4} {i + e:>4}")
    langs = Counter(q["language"] for q in questions)
    print(f"{'total':<18} {langs['id']:>4} {langs['en']:>4} {len(questions):>4}")
    splits = Counter((split_of(q["id"]), q["answerable"]) for q in questions)
    for part in ("tune", "report"):
        a, u = splits[(part, True)], splits[(part, False)]
        print(f"{part}: {a + u} questions ({a} answerable, {u} unanswerable)")


def main() -> int:
    corpus = {d["id"]: d for d in load_jsonl(HERE / "corpus.jsonl")}
    questions = load_jsonl(HERE / "questions.jsonl")
    errors = check(questions, corpus)
    report(questions)
    for e in errors:
        print("ERROR", e)
    print("OK" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
