"""Candidate sentences, their features and labels for the evidence scorer, per dev set and split (cached).

For each question: the passages the service retrieves for it (same settings as production), every sentence of
those passages as a candidate with the scorer's features (qa.scorer.features), and a label: 1 when the
sentence is in a gold article and contains an accepted answer, else 0 (all 0 for an unanswerable question).
What is kept per question also lets benchmarks replay the pipeline's decisions without an LLM: article hit in
the top k, names the articles never mention, sentence lengths (for the LLM's character budget) and the
cosine baseline's scores.

Usage: python benchmarks/scorer_data.py SET_DIR [SET_DIR ...] [--limit N]   (fills the cache for both splits)
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _report as rep  # noqa: E402

from qa.context import ARTICLE_TEXTS, candidate_sentences, candidate_signals  # noqa: E402
from qa.cross_encoder import ADAPTER_FILE, MODELS_DIR
from qa.evaluation import SPLITS, ce_holdout, contains_answer, load_questions, store_for_corpus  # noqa: E402
from qa.grounding import missing_names  # noqa: E402
from qa.language import detect_language  # noqa: E402
from qa.pipeline import QAService  # noqa: E402
from qa.scorer import FEATURES, EvidenceScorer, Logistic, QueryVectors, context_of, features  # noqa: E402
from qa.settings import get_settings  # noqa: E402

CACHE = rep.ROOT / ".newsqa" / "scorer-data"
ADAPTER = MODELS_DIR / ADAPTER_FILE


@dataclass
class SetData:
    """Arrays over all candidates of a set's split, with ``group`` giving each row's question index."""

    name: str
    X: np.ndarray
    y: np.ndarray
    group: np.ndarray
    cosine: np.ndarray  # e5 cosine of each candidate (the baseline's main term)
    baseline: np.ndarray  # cosine + rank weight x passage score (the pre-scorer evidence score)
    length: np.ndarray  # characters of each candidate
    doc_gold: np.ndarray  # the candidate's article is gold
    q_answerable: np.ndarray
    q_english: np.ndarray
    q_hit5: np.ndarray  # a gold article among the retrieved passages
    q_missing: np.ndarray  # names of the question the retrieved articles never mention (Indonesian only)
    q_ids: np.ndarray
    first: np.ndarray | None = None  # the first stage's logit (with a cross-encoder pass only)
    ce: np.ndarray | None = None  # the cross-encoder's logit for the first stage's top k, NaN elsewhere


@dataclass
class Rerank:
    """With these, ``extract`` also runs the two-stage scorer's cross-encoder on the first stage's top k."""

    prefilter: Logistic
    reranker: Any
    k: int
    holdout_only: bool


def extract(set_dir: Path, split: str, limit: int, rerank: Rerank | None = None) -> SetData:
    settings = store_for_corpus(get_settings(), rep.corpus_of(set_dir), progress=False)
    questions = load_questions(set_dir / "questions.jsonl", split=split)  # type: ignore[arg-type]
    if rerank is not None and rerank.holdout_only:
        questions = [q for q in questions if ce_holdout(q.id)]
    random.Random(0).shuffle(questions)
    questions = questions[:limit]
    service = QAService(settings)
    searcher, embedder, store = service.searcher(), service.embedder, service.store
    cols: dict[str, list] = {
        k: [] for k in ("X", "y", "group", "cosine", "baseline", "length", "doc_gold", "first", "ce")
    }
    qcols: dict[str, list] = {k: [] for k in ("answerable", "english", "hit5", "missing", "ids")}
    for qi, q in enumerate(questions):
        lang = detect_language(q.question)
        query = QueryVectors(*embedder.encode_query_with_tokens(q.question))
        passages = searcher.search(q.question, lang, settings.k, query_vector=query.vector)
        cands = candidate_sentences(store, passages)
        texts = [ARTICLE_TEXTS.get(store, d) for d in dict.fromkeys(p.doc_id for p in passages)]
        qcols["answerable"].append(q.answerable)
        qcols["english"].append(lang == "en")
        qcols["hit5"].append(any(p.doc_id in q.gold_articles for p in passages))
        qcols["missing"].append(lang == "id" and bool(passages) and bool(missing_names(q.question, texts)))
        qcols["ids"].append(q.id)
        if not cands:
            continue
        signals = candidate_signals(embedder, query, cands)
        sims = signals.cosine
        best = max(c.passage.score for c in cands) or 1.0
        rows = features(q.question, lang, signals, cands)
        cols["X"].append(rows)
        if rerank is not None:
            first = rerank.prefilter.logits(rows)
            ce = np.full(len(cands), np.nan)
            top = EvidenceScorer(rerank.prefilter, None, rerank.k).reranked(first)
            ce[top] = rerank.reranker.score(q.question, [context_of(cands[i]) for i in top])
            cols["first"].extend(first.tolist())
            cols["ce"].extend(ce.tolist())
        for i, c in enumerate(cands):
            gold = c.passage.doc_id in q.gold_articles
            cols["y"].append(int(q.answerable and gold and contains_answer(c.text, q.answers)))
            cols["group"].append(qi)
            cols["cosine"].append(float(sims[i]))
            cols["baseline"].append(float(sims[i]) + settings.evidence_rank_weight * c.passage.score / best)
            cols["length"].append(len(c.text))
            cols["doc_gold"].append(gold)
    return SetData(
        set_dir.name,
        np.vstack(cols["X"]),
        *(np.asarray(cols[k]) for k in ("y", "group", "cosine", "baseline", "length", "doc_gold")),
        *(np.asarray(qcols[k]) for k in ("answerable", "english", "hit5", "missing", "ids")),
        first=np.asarray(cols["first"]) if rerank is not None else None,
        ce=np.asarray(cols["ce"]) if rerank is not None else None,
    )


def cache_path(set_dir: Path, split: str, limit: int, rerank: Rerank | None = None) -> Path:
    """Keyed by the feature list, the sample size and (with a cross-encoder pass) the first stage's weights
    and k, so a changed scorer never reads stale features."""
    key = "|".join(FEATURES) + f"|{limit}"
    if rerank is not None:
        key += f"|{rerank.prefilter.coef.tolist()}|{rerank.k}|{rerank.holdout_only}|{ADAPTER.stat().st_size}"
    return CACHE / f"{set_dir.name}-{split}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.npz"


def load(set_dir: Path, split: str, limit: int = 600, rerank: Rerank | None = None) -> SetData:
    """The set's split from the cache, extracted first when it is not there."""
    path = cache_path(set_dir, split, limit, rerank)
    if not path.exists():
        data = extract(set_dir, split, limit, rerank)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **{k: v for k, v in vars(data).items() if k != "name" and v is not None})
    arrays = np.load(path, allow_pickle=False)
    return SetData(set_dir.name, **{k: arrays[k] for k in arrays.files})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=600, help="questions per set and split")
    args = parser.parse_args()
    for set_dir in args.sets:
        for split in SPLITS:
            started = time.perf_counter()
            data = load(set_dir, split, args.limit)
            print(
                f"{set_dir.name} {split}: {len(data.q_ids)} questions, {len(data.y)} candidates, "
                f"{int(data.y.sum())} positive, {time.perf_counter() - started:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
