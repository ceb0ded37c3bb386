"""Compare LLM prompt variants end to end on the dev sets: answers, citations, refusals, first token.

Evidence recall (benchmarks/tune_evidence.py) says what a generator *could* answer; this measures what the
local model *does* answer from the same evidence under each prompt. Every variant is a set of settings
overrides; all of them run over the same questions (articles-dev whole, a fixed random sample of the others,
answerable and unanswerable as they come) in one process, one variant after the other, each after a warm-up
that evaluates its own cached prompt prefix, so first-token times compare like with like.

Usage: python benchmarks/tune_prompt.py SET_DIR [SET_DIR ...] [--limit N] [--backend llamacpp] [--dump F]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report as rep  # noqa: E402

from qa.evaluation import Question, contains_answer, load_questions, percentile, store_for_corpus  # noqa: E402
from qa.language import answer_language  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.settings import Settings, get_settings  # noqa: E402

# Abstention thresholds evaluated offline from the recorded first-token probabilities (the runs use 1.0).
THRESHOLDS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
# preset -> (its docs/benchmarks.md section, {variant name -> settings overrides}); in each preset the first
# variant is the baseline the others are compared with.
PRESETS: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "prompt": (
        "Prompt variants",
        {
            "zero-shot (earlier prompt)": {"prompt_examples": False, "prompt_reminder": False},
            "worked examples in the cached prefix": {"prompt_examples": True, "prompt_reminder": False},
            "worked examples + abstention rule restated in the question turn": {
                "prompt_examples": True,
                "prompt_reminder": True,
            },
        },
    ),
    "contrast": (
        "Contrast examples in the prompt",
        {
            "four worked examples": {"prompt_contrast_examples": False},
            "+ two contrast examples (second candidate name, translated phrase)": {
                "prompt_contrast_examples": True
            },
        },
    ),
    "language-check": (
        "Answer-language check",
        {
            "model answers shown in whatever language": {"answer_language_check": False},
            "wrong-language answers replaced by quotes of their cited sources": {
                "answer_language_check": True
            },
        },
    ),
    # Evidence recall@4 is 1.6-3.2 points above @3 on the dev sets (benchmarks/tune_evidence.py): does the
    # model turn a fourth sentence into answers, and what does it cost in first-token time?
    "sentences": (
        "Evidence sentences given to the local model",
        {
            "3 sentences, 600 chars": {"llm_context_sentences": 3},
            "4 sentences, 600 chars": {"llm_context_sentences": 4},
            "4 sentences, 800 chars": {"llm_context_sentences": 4, "llm_context_chars": 800},
        },
    ),
    "budget": (
        "Source budget for the local model",
        {
            "3 sentences, 800 chars (no time budget)": {"llm_first_token_s": 0.0, "llm_context_chars": 800},
            "… within a first-token budget of 3 s": {"llm_first_token_s": 3.0, "llm_context_chars": 800},
            "… within a first-token budget of 2.5 s": {"llm_first_token_s": 2.5, "llm_context_chars": 800},
            "… and 600 chars (no time budget)": {"llm_first_token_s": 0.0, "llm_context_chars": 600},
        },
    ),
    # A slower host simulated by giving llama.cpp one thread instead of two (about half the prompt speed,
    # close to the 41-48 tokens/s of shared/MODELS.md): what the time budget buys where it binds.
    "slow-host": (
        "Source budget on a slower host",
        {
            "600 chars, 2 threads": {"llm_first_token_s": 0.0, "llm_context_chars": 600},
            "600 chars, 2 threads, first-token budget 3 s": {
                "llm_first_token_s": 3.0,
                "llm_context_chars": 600,
            },
            "600 chars, 1 thread": {
                "llm_first_token_s": 0.0,
                "llm_context_chars": 600,
                "llamacpp_threads": 1,
            },
            "600 chars, 1 thread, first-token budget 3 s": {
                "llm_first_token_s": 3.0,
                "llm_context_chars": 600,
                "llamacpp_threads": 1,
            },
        },
    ),
}


def sample(set_dir: Path, limit: int) -> list[Question]:
    questions = load_questions(set_dir / "questions.jsonl")
    if len(questions) <= limit:
        return questions
    random.Random(0).shuffle(questions)
    return questions[:limit]


def run_variant(settings: Settings, questions: list[Question], backend: str) -> dict[str, Any]:
    service = QAService(settings)
    service.warm_up(backend)
    engine = service.backend(backend)
    given: list[int] = []  # characters of sources the generator was given, per question it was called for
    generate = engine.generate

    def counting(question: str, evidence: Any, language: Any) -> Any:
        given.append(sum(len(ev.quote) for ev in evidence))
        return generate(question, evidence, language)

    engine.generate = counting  # type: ignore[method-assign]
    records = []
    for q in questions:
        engine.last_no_answer_probability = None  # only llama.cpp reports it; None: refused before the LLM
        calls = len(given)
        a = service.answer(q.question, backend=backend)
        cited = [c.doc_id for c in a.citations]
        expected = q.language or a.language
        records.append(
            {
                "id": q.id,
                "answerable": q.answerable,
                "refused": a.refused,
                "correct": q.answerable and not a.refused and contains_answer(a.text, q.answers),
                "cited": len(cited),
                "gold_cited": sum(d in q.gold_articles for d in cited),
                "backend": a.backend,
                "language_ok": a.refused or answer_language(a.text, expected) == expected,
                "first_token_s": a.timings.get("first_token_s", 0.0),
                "source_chars": given[calls] if len(given) > calls else None,
                "p_no_answer": getattr(engine, "last_no_answer_probability", None),
                "text": a.text,
                "answers": q.answers,
            }
        )
    return summarise(records, backend)


def with_abstention(records: list[dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    """The records as they would be had questions with P(NO_ANSWER) >= threshold been refused."""
    out = []
    for r in records:
        p = r["p_no_answer"]
        if p is not None and p >= threshold and not r["refused"]:
            r = {**r, "refused": True, "correct": False, "cited": 0, "gold_cited": 0, "backend": "refusal"}
        out.append(r)
    return out


def summarise(records: list[dict[str, Any]], backend: str) -> dict[str, Any]:
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    cited = sum(r["cited"] for r in records)

    def mean(rows: list[dict[str, Any]], key: str) -> float:
        return sum(bool(r[key]) for r in rows) / len(rows) if rows else float("nan")

    return {
        "accuracy": mean(answerable, "correct"),
        "citation_precision": sum(r["gold_cited"] for r in records) / cited if cited else float("nan"),
        "refusal_accuracy": mean(unanswerable, "refused"),
        "false_refusals": mean(answerable, "refused"),
        "quoted_fallback": sum(r["backend"] == "extractive" for r in answerable) / max(1, len(answerable)),
        "language_match": mean(records, "language_ok"),
        "first_token_p50": percentile([r["first_token_s"] for r in records if not r["refused"]], 50),
        "source_chars": percentile([r["source_chars"] for r in records if r["source_chars"] is not None], 50),
        "n": (len(answerable), len(unanswerable)),
        "records": records,
    }


def metric_cells(result: dict[str, Any]) -> list[str]:
    keys = (
        "accuracy",
        "citation_precision",
        "refusal_accuracy",
        "false_refusals",
        "quoted_fallback",
        "language_match",
    )
    return [f"{result[k]:.3f}" for k in keys]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=40, help="questions per set (articles-dev: all)")
    parser.add_argument("--backend", default="llamacpp")
    parser.add_argument("--dump", type=Path, default=None, help="write every answer here (JSON)")
    parser.add_argument("--variants", choices=sorted(PRESETS), default="prompt")
    args = parser.parse_args()
    section, variants = PRESETS[args.variants]
    load_start = rep.banner("tune_prompt")
    headers = [
        "set (answerable / not)",
        "variant",
        "answer accuracy",
        "citation precision",
        "refusal accuracy",
        "false refusals",
        "quoted fallback",
        "language match",
        "first token p50 (answered)",
        "source chars p50",
    ]
    rows: list[list[object]] = []
    dump: dict[str, Any] = {}
    started = time.perf_counter()
    for set_dir in args.sets:
        base = store_for_corpus(get_settings(), rep.corpus_of(set_dir), progress=False)
        questions = sample(set_dir, args.limit)
        for name, overrides in variants.items():
            settings = base.model_copy(update={**overrides, "llm_abstain_probability": 1.0})
            result = run_variant(settings, questions, args.backend)
            dump[f"{set_dir.name} / {name}"] = result.pop("records")
            n_ans, n_un = result["n"]
            row = [
                f"{set_dir.name} ({n_ans} / {n_un})",
                name,
                *metric_cells(result),
                f"{result['first_token_p50']:.2f} s",
                f"{result['source_chars']:.0f}",
            ]
            print(" | ".join(str(c) for c in row), flush=True)
            rows.append(row)
            for t in THRESHOLDS:
                sim = summarise(with_abstention(dump[f"{set_dir.name} / {name}"], t), args.backend)
                label = f"… and refuse when P(NO_ANSWER) at the first token >= {t:g}"
                if args.variants == "prompt":
                    rows.append(["", label, *metric_cells(sim), "", ""])
    elapsed = time.perf_counter() - started
    if args.dump:
        args.dump.write_text(json.dumps(dump, ensure_ascii=False, indent=1), encoding="utf-8")
    text = (
        f"Backend `{args.backend}`, the same questions for every variant (articles-dev whole; of the other "
        f"sets a fixed random sample of {args.limit}), one variant after the other in one process "
        f"({elapsed:.0f} s in all). Accuracy: an accepted short answer in a non-refused answer. Quoted "
        "fallback: answerable questions where the model's own sentences failed citation checks and the "
        "sources it pointed at were quoted instead (or its answer, in the other language, was replaced "
        "by them). Language match: answers in the question's language (`qa.language.answer_language`). "
        "First token: question in → first answer text out, answered questions only.\n\n"
        + rep.table(headers, rows)
    )
    rep.write_section(section, text, load=(load_start, rep.banner("tune_prompt")))


if __name__ == "__main__":
    main()
