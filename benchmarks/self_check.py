"""Would a self-check turn catch the answers the local model should not have given?

The idea (as in "LLMs know what they know" / P(IK)-style self-evaluation): after the model answers, the same
conversation gets one more user turn, "Does the text inside <sources> answer the question? Reply yes or no.",
and the probability of "yes" at the first token is an answerability score. llama.cpp reuses the KV cache of
the prompt and the answer, so the check costs only its own ~30 tokens. The score is useful only if it
separates answered unanswerable questions (idkmrc's adversarial ones) from answered answerable ones, and
wrong answers from right ones; the model's P(NO_ANSWER) at its first token (already recorded, left off as a
refusal rule) is the baseline from the same run.

Usage: python benchmarks/self_check.py SET_DIR [SET_DIR ...] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report as rep  # noqa: E402
from tune_prompt import sample  # noqa: E402

from qa.backends.llamacpp import LlamaCppBackend, load_model  # noqa: E402
from qa.evaluation import contains_answer, percentile, store_for_corpus  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.prompt import chatml_prompt, prompt_style  # noqa: E402
from qa.settings import Settings, get_settings  # noqa: E402
from qa.types import Evidence, Language  # noqa: E402

CHECK: dict[str, str] = {
    "id": "Apakah teks di dalam <sources> menjawab pertanyaan itu? Jawab ya atau tidak.",
    "en": "Does the text inside <sources> answer the question? Reply yes or no.",
}
YES, NO = ("yes", "Yes", "ya", "Ya"), ("no", "No", "tidak", "Tidak")
THRESHOLDS = (0.5, 0.6, 0.7, 0.8)


class RecordingBackend(LlamaCppBackend):
    """The real llama.cpp backend, keeping what it was last given and what it wrote."""

    last: tuple[str, list[Evidence], Language, str] | None = None

    def generate(self, question: str, evidence: Sequence[Evidence], language: Language) -> Iterator[str]:
        text = ""
        for piece in super().generate(question, evidence, language):
            text += piece
            yield piece
        self.last = (question, list(evidence), language, text)


def p_yes(
    settings: Settings, question: str, evidence: list[Evidence], language: Language, reply: str
) -> float:
    """P(yes) / (P(yes) + P(no)) at the first token of the check turn, in the conversation as it happened."""
    import numpy as np
    from llama_cpp import LogitsProcessorList

    loaded = load_model(settings)
    llm = loaded.llm
    prompt = (
        chatml_prompt(question, evidence, language, prompt_style(settings))
        + reply.strip()
        + f"<|im_end|>\n<|im_start|>user\n{CHECK[language]}<|im_end|>\n<|im_start|>assistant\n"
    )
    ids = {w: llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in YES + NO}
    seen: dict[str, float] = {}

    def watch(_ids: Any, scores: Any) -> Any:
        if not seen:
            logits = np.asarray(scores, dtype=np.float64)
            weights = np.exp(logits - logits.max())
            seen.update({w: float(weights[t] / weights.sum()) for w, t in ids.items()})
        return scores

    with loaded.lock:
        llm.create_completion(
            prompt=prompt, max_tokens=1, temperature=0, logits_processor=LogitsProcessorList([watch])
        )
    yes, no = sum(seen[w] for w in YES), sum(seen[w] for w in NO)
    return yes / (yes + no) if yes + no else 0.5


def auc(pos: list[float], neg: list[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half); NaN when a
    group is empty, where scikit-learn would raise."""
    if not pos or not neg:
        return float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([1] * len(pos) + [0] * len(neg), pos + neg))


def run_set(settings: Settings, set_dir: Path, limit: int) -> list[dict[str, Any]]:
    engine = RecordingBackend(settings)
    service = QAService(settings, _backends={"llamacpp": engine})
    service.warm_up("llamacpp")
    records = []
    for q in sample(set_dir, limit):
        engine.last, engine.last_no_answer_probability = None, None
        a = service.answer(q.question, backend="llamacpp")
        record: dict[str, Any] = {
            "answerable": q.answerable,
            "answered": not a.refused,
            "correct": q.answerable and not a.refused and contains_answer(a.text, q.answers),
            "p_yes": None,
            "p_no_answer": engine.last_no_answer_probability,
        }
        if engine.last is not None and not a.refused:
            started = time.perf_counter()
            record["p_yes"] = p_yes(settings, *engine.last)
            record["check_s"] = time.perf_counter() - started
        records.append(record)
    return records


def summary_row(name: str, records: list[dict[str, Any]]) -> list[object]:
    scored = [r for r in records if r["p_yes"] is not None]
    ans = [r for r in scored if r["answerable"]]
    una = [r for r in scored if not r["answerable"]]
    right = [r for r in scored if r["correct"]]
    wrong = [r for r in scored if not r["correct"]]

    def base_auc(pos: list[dict[str, Any]], neg: list[dict[str, Any]]) -> float:
        # P(NO_ANSWER) is high for "should refuse": scored as 1 - p so that both AUCs read the same way.
        def scores(rows: list[dict[str, Any]]) -> list[float]:
            return [1 - r["p_no_answer"] for r in rows if r["p_no_answer"] is not None]

        return auc(scores(pos), scores(neg))

    fmt = lambda x: "n/a" if x != x else f"{x:.2f}"  # noqa: E731 - NaN when a group is empty
    return [
        f"{name} ({len(ans)} / {len(una)})",
        fmt(auc([r["p_yes"] for r in ans], [r["p_yes"] for r in una])),
        fmt(base_auc(ans, una)),
        fmt(auc([r["p_yes"] for r in right], [r["p_yes"] for r in wrong])),
        fmt(base_auc(right, wrong)),
        f"{percentile([r['check_s'] for r in scored], 50):.2f} s" if scored else "n/a",
    ]


def threshold_rows(name: str, records: list[dict[str, Any]]) -> list[list[object]]:
    """What refusing answered questions with P(yes) < t would do to each set."""
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    rows = []
    for t in THRESHOLDS:
        caught = sum(r["p_yes"] is not None and r["p_yes"] < t for r in una)
        lost = sum(r["correct"] and r["p_yes"] < t for r in ans)
        refused_before = sum(not r["answered"] for r in una)
        rows.append(
            [
                name,
                f"{t:g}",
                f"{refused_before}/{len(una)} → {refused_before + caught}/{len(una)}" if una else "n/a",
                f"{lost}/{sum(r['correct'] for r in ans)}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=80, help="questions per set (articles-dev: all)")
    args = parser.parse_args()
    load_start = rep.banner("self_check")
    started = time.perf_counter()
    summary: list[list[object]] = []
    sweep: list[list[object]] = []
    for set_dir in args.sets:
        settings = store_for_corpus(get_settings(), rep.corpus_of(set_dir), progress=False)
        records = run_set(settings, set_dir, args.limit)
        summary.append(summary_row(set_dir.name, records))
        sweep += threshold_rows(set_dir.name, records)
        print(" | ".join(str(c) for c in summary[-1]), flush=True)
    elapsed = time.perf_counter() - started
    text = (
        "After each answer the local model is asked, in the same conversation, whether the sources answer "
        "the question; P(yes) at its first token is the score. AUC: the chance that a random question of "
        "the first group scores higher than one of the second (0.5 = no information); answered questions "
        "only (answerable / unanswerable counts in the first column). Baseline from the same run: "
        "1 − P(NO_ANSWER) at the answer's first token. Fixed random sample of "
        f"{args.limit} per set, {elapsed:.0f} s in all.\n\n"
        + rep.table(
            [
                "set (answered: answerable / not)",
                "AUC P(yes): answerable vs unanswerable",
                "baseline AUC",
                "AUC P(yes): right vs wrong answer",
                "baseline AUC",
                "check p50",
            ],
            summary,
        )
        + "\n\nRefusing answered questions whose P(yes) is under a threshold:\n\n"
        + rep.table(["set", "P(yes) <", "unanswerable refused", "right answers lost"], sweep)
    )
    rep.write_section("Self-check turn", text, load=(load_start, rep.banner("self_check")))


if __name__ == "__main__":
    main()
