"""Tune evidence-sentence selection on the dev sets: evidence recall@n for a sweep of lexical weights.

Evidence recall@n = answerable questions with an accepted answer inside the first n selected sentences, i.e.
what a generator that reads n sentences could possibly get right. Retrieval runs once per question; only the
cheap sentence scoring is repeated per weight (sentence vectors are cached). It also reports the mean length
of the first n sentences, because every character the local LLM reads delays its first token.

Usage: python benchmarks/tune_evidence.py SET_DIR [SET_DIR ...] [--limit N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report as rep  # noqa: E402

from qa.context import select_evidence, trim_evidence, within_budget  # noqa: E402
from qa.evaluation import contains_answer, load_questions, store_for_corpus  # noqa: E402
from qa.keyword import analyse_query  # noqa: E402
from qa.language import detect_language  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.settings import get_settings  # noqa: E402
from qa.types import Evidence  # noqa: E402

WEIGHTS = (0.0, 0.05, 0.1, 0.2)
NS = (1, 2, 3, 4)
LLM_SENTENCES = get_settings().llm_context_sentences
BUDGETS = (300, 400, 500, 600)  # characters of evidence an LLM reads (sentences in order, at least one)
TRIMS = (0, 160, 220)  # longest sentence an LLM reads before it is cut to its best clauses (0: never)
MARGINS = (0.01, 0.02, 0.03, 0.05)  # keep a sentence only within this e5 score of the best one
RANK_WEIGHTS = (0.05, 0.1, 0.2)  # weight of the passage's retrieval score in a sentence's score
RANK_BUDGET = 600
DEFAULT_RANK = get_settings().evidence_rank_weight


def stop_at_misfit(evidence: list[Evidence], max_chars: int) -> list[Evidence]:
    """The earlier budget (the baseline): the strongest sentences in order, up to the first that overflows."""
    out: list[Evidence] = []
    used = 0
    for ev in evidence:
        if out and used + len(ev.quote) > max_chars:
            break
        out.append(ev)
        used += len(ev.quote)
    return out


def evaluate(set_dir: Path, limit: int) -> tuple[str, list[list[object]]]:
    settings = store_for_corpus(get_settings(), rep.corpus_of(set_dir))
    questions = [q for q in load_questions(set_dir / "questions.jsonl") if q.answerable and q.answers]
    random.Random(0).shuffle(questions)
    questions = questions[:limit]
    service = QAService(settings)
    searcher = service.searcher()
    ranks: dict[float, list[int | None]] = {w: [] for w in WEIGHTS}
    chars: dict[float, dict[int, list[int]]] = {w: {n: [] for n in NS} for w in WEIGHTS}
    margin_hits: dict[float, list[bool]] = {m: [] for m in MARGINS}
    margin_chars: dict[float, list[int]] = {m: [] for m in MARGINS}
    budget_hits: dict[tuple[int, int], list[bool]] = {(t, b): [] for t in TRIMS for b in BUDGETS}
    budget_chars: dict[tuple[int, int], list[int]] = {(t, b): [] for t in TRIMS for b in BUDGETS}
    # (rank weight, sentences, fill the budget past a misfit) -> hits, chars
    rank_keys = [(r, LLM_SENTENCES, f) for r in RANK_WEIGHTS for f in (False, True)]
    rank_keys.append((DEFAULT_RANK, LLM_SENTENCES + 1, True))
    rank_hits: dict[tuple[float, int, bool], list[bool]] = {key: [] for key in rank_keys}
    rank_chars: dict[tuple[float, int, bool], list[int]] = {key: [] for key in rank_keys}
    started = time.perf_counter()
    for q in questions:
        lang = detect_language(q.question)
        qvec = service.embedder.encode_queries([q.question])[0]
        passages = searcher.search(q.question, lang, settings.k, query_vector=qvec)
        terms = analyse_query(q.question, lang)
        for r, n_given, fill in rank_keys:
            ev = select_evidence(service.store, service.embedder, qvec, passages, n_given, rank_weight=r)
            given = within_budget(ev, RANK_BUDGET) if fill else stop_at_misfit(ev, RANK_BUDGET)
            rank_hits[r, n_given, fill].append(any(contains_answer(e.quote, q.answers) for e in given))
            rank_chars[r, n_given, fill].append(sum(len(e.quote) for e in given))
        for w in WEIGHTS:
            ev = select_evidence(
                service.store,
                service.embedder,
                qvec,
                passages,
                max(NS),
                query_terms=terms,
                lexical_weight=w,
                rank_weight=DEFAULT_RANK,
            )
            ranks[w].append(next((e.n for e in ev if contains_answer(e.quote, q.answers)), None))
            for n in NS:
                chars[w][n].append(sum(len(e.quote) for e in ev[:n]))
            if w == 0.0:
                for m in MARGINS:
                    given = [e for e in ev[:LLM_SENTENCES] if e.score >= ev[0].score - m]
                    margin_hits[m].append(any(contains_answer(e.quote, q.answers) for e in given))
                    margin_chars[m].append(sum(len(e.quote) for e in given))
                for t in TRIMS:
                    trimmed = trim_evidence(ev[:LLM_SENTENCES], service.embedder, qvec, t)
                    for b in BUDGETS:
                        given = within_budget(trimmed, b)
                        hit = any(contains_answer(e.quote, q.answers) for e in given)
                        budget_hits[t, b].append(hit)
                        budget_chars[t, b].append(sum(len(e.quote) for e in given))
    elapsed = time.perf_counter() - started
    rows: list[list[object]] = []
    for w in WEIGHTS:
        recall = [sum(r is not None and r <= n for r in ranks[w]) / len(ranks[w]) for n in NS]
        mean_chars = [sum(chars[w][n]) / len(chars[w][n]) for n in NS]
        rows.append([f"{w:g}", *(f"{r:.3f}" for r in recall), *(f"{c:.0f}" for c in mean_chars)])
    for (t, b), hits in budget_hits.items():
        mean = sum(budget_chars[t, b]) / len(budget_chars[t, b])
        label = f"0, first {LLM_SENTENCES}, budget {b}" + (f", trim > {t}" if t else "")
        recall = f"{sum(hits) / len(hits):.3f} (all given)"
        rows.append([label, recall, "", "", "", f"{mean:.0f}", "", "", ""])
    for m, hits in margin_hits.items():
        mean = sum(margin_chars[m]) / len(margin_chars[m])
        recall = f"{sum(hits) / len(hits):.3f} (all given)"
        rows.append(
            [f"0, first {LLM_SENTENCES} within {m:g} of the best", recall, "", "", "", f"{mean:.0f}"]
            + [""] * 3
        )
    for (r, n_given, fill), hits in rank_hits.items():
        mean = sum(rank_chars[r, n_given, fill]) / len(rank_chars[r, n_given, fill])
        how = "skipping what overflows" if fill else "stopping at the first that overflows"
        label = f"0, rank weight {r:g}, first {n_given}, budget {RANK_BUDGET}, {how}"
        recall = f"{sum(hits) / len(hits):.3f} (all given)"
        rows.append([label, recall, "", "", "", f"{mean:.0f}", "", "", ""])
    title = f"{set_dir.name}: {len(questions)} answerable questions with answers ({elapsed:.0f} s)"
    return title, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=400)
    args = parser.parse_args()
    load_start = rep.loadavg()
    headers = ["lexical weight", *(f"recall@{n}" for n in NS), *(f"chars@{n}" for n in NS)]
    parts = [
        "Evidence recall@n: share of answerable questions whose accepted answer appears in the first n "
        "evidence sentences (what the generator reads; the LLM gets "
        f"{get_settings().llm_context_sentences}). chars@n: mean characters of those n sentences (prompt "
        "cost). Sentence score = e5 similarity + rank weight x the passage's retrieval score relative to "
        f"the best passage's (rank weight {DEFAULT_RANK:g} unless a row says otherwise) + lexical weight x "
        "share of the question's stemmed terms in the sentence. Same retrieval (hybrid, k passages) for "
        "every weight. Budget rows: sentences in order within the budget, at least one; the rows that say "
        "so compare stopping at the first sentence that overflows (the earlier rule) with skipping it."
    ]
    for set_dir in args.sets:
        title, rows = evaluate(set_dir, args.limit)
        block = f"### {title}\n{rep.table(headers, rows)}"
        print(block, flush=True)
        parts.append(block)
    rep.write_section("Evidence sentence selection", "\n\n".join(parts), load=(load_start, rep.loadavg()))


if __name__ == "__main__":
    main()
