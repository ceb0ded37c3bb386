"""Reading-comprehension examples for the reader (benchmarks/train_reader.py), tune or report split.

Sources, each split by ``qa.evaluation.split_of`` of the question id (the same halves as every dev figure):
- ``train/idkmrc-train.json``, ``train/tydiqa-train.json``, ``train/facqa-train.json`` (SQuAD 2.0 JSON with
  answer offsets; IDK-MRC's unanswerable questions were written against the same passages as answerable
  ones, so they teach the null score what a near miss looks like);
- ``eval/xling-en-id-dev`` (English questions over Indonesian passages: the cross-lingual case), offsets
  found by searching the accepted answers in the gold passage;
- ``benchmarks/sets/news-bi`` (news articles, both languages; an unanswerable question's ``near_article`` is
  the article it was written against, read as a no-answer passage);
- retrieval hard negatives: for a share of the questions, the passage BM25 ranks first among those that do
  not hold any accepted answer, as a no-answer example (the service reads retrieved passages, not the gold
  one).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from qa.evaluation import split_of

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Example:
    """One question over one passage; ``answers`` are (start, text) in ``context``, empty for no answer."""

    id: str
    question: str
    context: str
    answers: list[tuple[int, str]] = field(default_factory=list)
    language: str = "id"
    source: str = ""


def _squad(path: Path, source: str, split: str) -> list[Example]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                if split_of(qa["id"]) != split:
                    continue
                answers = (
                    [] if qa.get("is_impossible") else [(a["answer_start"], a["text"]) for a in qa["answers"]]
                )
                out.append(Example(qa["id"], qa["question"], para["context"], answers, "id", source))
    return out


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def find_answers(context: str, answers: list[str]) -> list[tuple[int, str]]:
    """Where the accepted answers occur in ``context`` (case-insensitive, whole words), first match each."""
    found = []
    for a in answers:
        m = re.search(rf"(?<!\w){re.escape(a.strip())}(?!\w)", context, re.I)
        if a.strip() and m:
            found.append((m.start(), context[m.start() : m.end()]))
    return found


def _eval_set(folder: Path, source: str, split: str) -> list[Example]:
    corpus = {d["id"]: d for d in _jsonl(folder / "corpus.jsonl")}
    out = []
    for q in _jsonl(folder / "questions.jsonl"):
        if split_of(q["id"]) != split:
            continue
        if q["answerable"]:
            for doc in q["gold_articles"][:1]:
                text = corpus[doc]["text"]
                found = find_answers(text, q["answers"])
                if found:
                    out.append(Example(q["id"], q["question"], text, found[:1], q["language"], source))
        elif q.get("near_article") in corpus:
            text = corpus[q["near_article"]]["text"]
            out.append(Example(q["id"], q["question"], text, [], q["language"], source))
    return out


def hard_negatives(examples: list[Example], passages: list[str], share: float, seed: int) -> list[Example]:
    """For ``share`` of the answerable ``examples``, the best BM25 passage that holds none of its answers
    (and is not its own passage), as a no-answer example."""
    import bm25s

    rng = random.Random(seed)
    chosen = [e for e in examples if e.answers and rng.random() < share]
    if not chosen or not passages:
        return []
    index = bm25s.BM25()
    index.index(bm25s.tokenize(passages, show_progress=False), show_progress=False)
    hits, _ = index.retrieve(
        bm25s.tokenize([e.question for e in chosen], show_progress=False), k=5, show_progress=False
    )
    out = []
    for e, row in zip(chosen, hits, strict=True):
        for i in row:
            text = passages[int(i)]
            if text == e.context or any(a.lower() in text.lower() for _, a in e.answers):
                continue
            out.append(Example(e.id + "#neg", e.question, text, [], e.language, e.source + "-neg"))
            break
    return out


def load_examples(shared: Path, split: str, negative_share: float = 0.35, seed: int = 0) -> list[Example]:
    """Every source above for ``split`` ('tune' or 'report')."""
    train, evals = shared / "data" / "train", shared / "data" / "eval"
    out: list[Example] = []
    for name in ("idkmrc", "tydiqa", "facqa"):
        out += _squad(train / f"{name}-train.json", name, split)
    out += _eval_set(evals / "xling-en-id-dev", "xling", split)
    out += _eval_set(ROOT / "benchmarks" / "sets" / "news-bi", "news-bi", split)
    for name, folder in (
        ("idkmrc", "idkmrc-id-dev"),
        ("tydiqa", "tydiqa-id-dev"),
        ("xling", "xling-en-id-dev"),
    ):
        passages = [d["text"] for d in _jsonl(evals / folder / "corpus.jsonl")]
        out += hard_negatives([e for e in out if e.source == name], passages, negative_share, seed)
    return out
