"""Metrics for ``newsqa eval``: retrieval (recall@k, MRR@10 vs BM25-only and dense-only baselines in the same
run), answers (accuracy, citation precision/recall, refusals, language) and latency.

Definitions follow the eval issue: retrieval is judged at the article level over answerable questions (a hit
when a retrieved chunk belongs to a gold article); answer accuracy needs one of the accepted short answers in
a non-refused answer (case-insensitive, spaces and digit separators normalised).
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from qa.citations import parse_markers, split_answer, strip_markers
from qa.context import llm_evidence
from qa.facts import unsupported_facts
from qa.language import answer_language
from qa.settings import Settings
from qa.types import Answer, Citation
from vectorstore.onnx_encoder import encoder_fingerprint

KS = (1, 5, 10)
MODES = ("hybrid", "bm25", "dense")
_DIGIT_SEP = re.compile(r"(?<=\d)[.,](?=\d{3}\b)")


@dataclass
class Question:
    id: str
    question: str
    language: str
    answerable: bool
    gold_articles: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)


def question_set(path: Path, corpus: Path | None = None) -> tuple[Path, Path | None]:
    """(questions file, corpus or None) for a set given as its folder or as its questions file.

    Why: data/eval/README.md defines a set as a folder holding ``questions.jsonl`` and, except for sets over
    the ingested articles, ``corpus.jsonl``; naming the folder alone is how such a set is run. An explicit
    ``corpus`` wins; without one, a set whose folder has no corpus is asked of the configured store.
    """
    if path.is_dir():
        questions = path / "questions.jsonl"
        if not questions.is_file():
            raise FileNotFoundError(f"{path} is a folder without questions.jsonl (see data/eval/README.md)")
        own = path / "corpus.jsonl"
        if corpus is None and own.is_file():
            corpus = own
        return questions, corpus
    return path, corpus


Split = Literal["tune", "report"]
SPLITS: tuple[Split, ...] = ("tune", "report")


def split_of(question_id: str) -> Split:
    """The fixed split of a dev question: 'tune' when the first byte of sha1(id) is below 128, else 'report'.

    Why a hash of the id: it never changes when a set is reordered, sampled or grows, so what was tuned or
    trained on (the tune half) can never leak into what is reported (the other half). docs/benchmarks.md
    states the rule; every tuning script and ``newsqa eval --split`` use this function.
    """
    return "tune" if hashlib.sha1(question_id.encode("utf-8")).digest()[0] < 128 else "report"


def ce_holdout(question_id: str) -> bool:
    """Within the tune split, the questions the cross-encoder never trains on (sha1(id) second byte < 40):
    its early stopping, and what the scorer's second stage and thresholds are fitted on
    (benchmarks/ce_pack.py, benchmarks/train_scorer.py)."""
    return hashlib.sha1(question_id.encode("utf-8")).digest()[1] < 40


def load_questions(path: Path, limit: int | None = None, split: Split | None = None) -> list[Question]:
    out: list[Question] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                out.append(
                    Question(
                        id=str(rec.get("id", lineno)),
                        question=rec["question"],
                        language=rec.get("language", ""),
                        answerable=bool(rec.get("answerable", True)),
                        gold_articles=list(rec.get("gold_articles") or []),
                        answers=list(rec.get("answers") or []),
                    )
                )
            except (json.JSONDecodeError, KeyError) as exc:
                raise ValueError(f"{path}:{lineno}: not a question record ({exc})") from None
            if split is not None and split_of(out[-1].id) != split:
                out.pop()
            if limit and len(out) >= limit:
                break
    return out


def normalise(text: str) -> str:
    return " ".join(_DIGIT_SEP.sub("", text.lower()).split())


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    norm = normalise(text)
    return any(normalise(a) and normalise(a) in norm for a in answers)


def rank_metrics(rankings: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """recall@k and MRR@10 over ranked lists of article ids (one per retrieved chunk)."""
    n = len(rankings)
    if n == 0:
        return {**{f"recall@{k}": 0.0 for k in KS}, "mrr@10": 0.0}
    out: dict[str, float] = {}
    for k in KS:
        out[f"recall@{k}"] = sum(bool(set(r[:k]) & set(g)) for r, g in zip(rankings, golds, strict=True)) / n
    rr = 0.0
    for r, g in zip(rankings, golds, strict=True):
        for i, doc in enumerate(r[:10], start=1):
            if doc in g:
                rr += 1.0 / i
                break
    out["mrr@10"] = rr / n
    return out


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1])


def corpus_store(settings: Settings, corpus: Path) -> Path:
    """A store folder keyed by the corpus content and the settings that shape the index."""
    h = hashlib.sha256()
    files = sorted(corpus.rglob("*")) if corpus.is_dir() else [corpus]
    for f in files:
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    h.update(
        f"{settings.embedding_model}|{encoder_fingerprint(settings.encoder)}|{settings.chunk_tokens}|"
        f"{settings.chunk_overlap_sentences}".encode()
    )
    return settings.store.parent / "eval-stores" / h.hexdigest()[:16]


def store_for_corpus(settings: Settings, corpus: Path, progress: bool = True) -> Settings:
    """Settings pointing at the local store of ``corpus``, ingested (or brought up to date) first."""
    from vectorstore.service import ingest_paths

    settings = settings.model_copy(update={"store": corpus_store(settings, corpus), "chroma_host": None})
    ingest_paths(settings, [corpus], progress=progress)
    return settings


def run_eval(
    settings: Settings,
    questions_path: Path,
    *,
    corpus: Path | None = None,
    retrieval_only: bool = False,
    limit: int | None = None,
    progress: bool = True,
    split: Split | None = None,
) -> dict[str, Any]:
    from qa.language import detect_language
    from qa.pipeline import AnswerEvent, EvidenceEvent, QAService

    if corpus is not None:
        settings = store_for_corpus(settings, corpus, progress)
    questions = load_questions(questions_path, limit, split)
    if not questions:
        raise ValueError(f"{questions_path} holds no questions")
    service = QAService(settings)
    searcher = service.searcher()
    embedder = service.embedder

    if not retrieval_only:
        service.warm_up()  # latency is measured as a running service sees it, not with model loading
    rankings: dict[str, list[list[str]]] = {m: [] for m in MODES}
    golds: list[list[str]] = []
    evidence_ranks: list[int | None] = []
    reads_answer: list[bool] = []  # an accepted answer is in what an LLM backend reads (llm_evidence)
    records: list[dict[str, Any]] = []
    for q in tqdm(questions, desc="eval", unit="q", disable=not progress):
        lang = detect_language(q.question)
        if q.answerable and q.gold_articles:
            qvec = embedder.encode_queries([q.question])[0]
            for mode in MODES:
                passages = searcher.search(q.question, lang, 10, mode=mode, query_vector=qvec)
                rankings[mode].append([p.doc_id for p in passages])
            golds.append(q.gold_articles)
        # The evidence is read off the answer's own stream (its first event) rather than gathered a second
        # time, so evidence recall describes exactly what the generator was given.
        a, evidence = None, None
        if retrieval_only:
            if q.answerable and q.answers:
                evidence = service.gather(q.question).evidence
        else:
            for event in service.stream(q.question):
                if isinstance(event, EvidenceEvent):
                    evidence = event.evidence
                elif isinstance(event, AnswerEvent):
                    a = event.answer
        if q.answerable and q.answers:
            found = (e.n for e in evidence or () if contains_answer(e.quote, q.answers))
            evidence_ranks.append(next(found, None))
            read = llm_evidence(evidence or [], settings.llm_context_sentences, settings.llm_context_chars)
            reads_answer.append(any(contains_answer(e.quote, q.answers) for e in read))
        if a is None:
            continue
        cited = [c.doc_id for c in a.citations]
        expected = q.language or lang
        records.append(
            {
                "id": q.id,
                "question": q.question,
                "language": expected,
                "answerable": q.answerable,
                "refused": a.refused,
                "correct": q.answerable and not a.refused and contains_answer(a.text, q.answers),
                "cited": cited,
                "gold_cited": sum(d in q.gold_articles for d in cited),
                "language_ok": a.refused or answer_language(a.text, expected) == expected,
                # Shown sentences stating a name, number or date their own citations do not contain.
                "unsupported_sentences": unsupported_sentences(a),
                "shown_sentences": 0 if a.refused else len(cited_sentences(a)),
                "backend": a.backend,
                # Why a model's answer was replaced by quotes (unverified, wrong language, LLM down).
                "notice": a.notice,
                # Why it was refused, and the best evidence score the decision read (qa.refusal).
                "refusal_reason": a.refusal_reason,
                "best_score": a.best_score,
                "total_s": a.timings.get("total_s", 0.0),
                "first_token_s": a.timings.get("first_token_s", 0.0),
                "retrieve_s": a.timings.get("retrieve_s", 0.0),
                "text": a.text,
            }
        )

    result: dict[str, Any] = {"questions": len(questions), "answerable": sum(q.answerable for q in questions)}
    result.update(rank_metrics(rankings["hybrid"], golds))
    # Evidence recall@n: an accepted answer is in the first n evidence sentences (what a generator reads).
    # It roughly caps answer accuracy and tunes sentence selection without paying for an LLM.
    for n in range(1, settings.context_sentences + 1):
        result[f"evidence_recall@{n}"] = _mean(r is not None and r <= n for r in evidence_ranks)
    result["evidence_recall_llm"] = _mean(reads_answer)
    result["baselines"] = {
        m: {k: v for k, v in rank_metrics(rankings[m], golds).items() if k in ("recall@5", "mrr@10")}
        for m in ("bm25", "dense")
    }
    if records:
        answerable = [r for r in records if r["answerable"]]
        unanswerable = [r for r in records if not r["answerable"]]
        all_cited = sum(len(r["cited"]) for r in records)
        result.update(
            {
                "answer_accuracy": _mean(r["correct"] for r in answerable),
                "citation_precision": sum(r["gold_cited"] for r in records) / all_cited if all_cited else 0.0,
                "citation_recall": _mean(r["gold_cited"] > 0 for r in answerable),
                "refusal_accuracy": _mean(r["refused"] for r in unanswerable),
                "false_refusal_rate": _mean(r["refused"] for r in answerable),
                "language_match": _mean(r["language_ok"] for r in records),
                "latency_p50_s": percentile([r["total_s"] for r in records], 50),
                "latency_p95_s": percentile([r["total_s"] for r in records], 95),
                "first_token_p50_s": percentile([r["first_token_s"] for r in records], 50),
                "first_token_p95_s": percentile([r["first_token_s"] for r in records], 95),
                "unsupported_sentence_rate": (
                    sum(r["unsupported_sentences"] for r in records)
                    / max(1, sum(r["shown_sentences"] for r in records))
                ),
                # Refusals before generation take milliseconds and pull the p50 down; not counted here.
                "first_token_p50_answered_s": percentile(
                    [r["first_token_s"] for r in records if not r["refused"]], 50
                ),
                "evidence_p50_s": percentile([r["retrieve_s"] for r in records], 50),
                "backend": sorted({r["backend"] for r in records}),
            }
        )
        result["answers"] = records
    return result


def cited_sentences(a: Answer) -> list[tuple[str, list[Citation]]]:
    """The answer's sentences that carry [n] markers, each with the citations it points at."""
    by_n = {c.n: c for c in a.citations}
    out = []
    for sentence in split_answer(a.text, a.language):
        cited = [by_n[n] for n in parse_markers(sentence) if n in by_n]
        if cited:
            out.append((strip_markers(sentence).strip("«»"), cited))
    return out


def unsupported_sentences(a: Answer) -> int:
    """How many shown sentences state a name, number or date that none of their citations contains (the
    question may supply names it restates): what the support check promises never to show."""
    if a.refused:
        return 0
    return sum(
        1
        for body, cited in cited_sentences(a)
        if all(unsupported_facts(body, c.quote, a.standalone_question or a.question) for c in cited)
    )


def _mean(values: Any) -> float:
    items = [float(v) for v in values]
    return sum(items) / len(items) if items else 0.0


def format_table(result: dict[str, Any]) -> str:
    rows = [("questions", result["questions"])]
    for key in ("recall@1", "recall@5", "recall@10", "mrr@10"):
        rows.append((key, f"{result.get(key, 0.0):.3f}"))
    rows += [(key, f"{value:.3f}") for key, value in result.items() if key.startswith("evidence_recall")]
    for name, vals in result.get("baselines", {}).items():
        rows.append((f"{name} recall@5 / mrr@10", f"{vals['recall@5']:.3f} / {vals['mrr@10']:.3f}"))
    for key in (
        "answer_accuracy",
        "citation_precision",
        "citation_recall",
        "refusal_accuracy",
        "false_refusal_rate",
        "language_match",
        "latency_p50_s",
        "latency_p95_s",
        "first_token_p50_s",
        "first_token_p95_s",
        "first_token_p50_answered_s",
        "unsupported_sentence_rate",
        "evidence_p50_s",
    ):
        if key in result:
            rows.append((key, f"{result[key]:.3f}"))
    if "backend" in result:
        rows.append(("backend", ", ".join(result["backend"])))
    width = max(len(str(k)) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


_TIMELINE_LINE = re.compile(r"^- (?P<when>[^:]+): (?P<body>.*)$")


def timeline_scores(text: str, events: Sequence[dict[str, Any]]) -> dict[str, float]:
    """How well a timeline answer covers a question's gold ``events`` ({"date": ISO day, "answers": [...]}):
    found (share of events some line mentions), dates right (of those found, the share whose line carries
    the event's date: its day, or its month for a month line), order right (1 when the found events' lines
    are in the gold order), all cited (1 when every line has a citation marker).

    An answer that is not a timeline (no '- DATE: ...' lines) finds an event only where its text mentions
    it, with no date or order credit."""
    from qa.dates import MONTH_NAMES, format_day

    lines = [m for line in text.splitlines() if (m := _TIMELINE_LINE.match(line.strip()))]
    found_at: list[int] = []
    dated = 0
    for event in events:
        where = [i for i, m in enumerate(lines) if contains_answer(m["body"], event["answers"])]
        if not where:
            if not lines and contains_answer(text, event["answers"]):
                found_at.append(-1)
            continue
        found_at.append(where[0])
        day = date.fromisoformat(event["date"])
        when = lines[where[0]]["when"].strip().lower()
        labels = {
            format_day(day, lang).lower()
            for lang in ("id", "en")  # type: ignore[arg-type]
        } | {f"{MONTH_NAMES[lang][day.month - 1]} {day.year}".lower() for lang in ("id", "en")}  # type: ignore[index]
        dated += when in labels
    n = len(events) or 1
    located = [i for i in found_at if i >= 0]
    return {
        "found": len(found_at) / n,
        "dates_right": dated / len(found_at) if found_at else 0.0,
        "order_right": float(bool(located) and located == sorted(located) and len(located) == len(found_at)),
        "all_cited": float(bool(lines) and all(parse_markers(m["body"]) for m in lines)),
    }
