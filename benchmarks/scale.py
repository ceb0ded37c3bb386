"""Query latency of the real hybrid retrieval as the store grows (real indosum chunks + SYNTHETIC fill).

Starts from a copy of the real indosum store (the one ``benchmarks/ingest.py`` keeps at
.newsqa/bench/indosum; ingested here if missing), then adds SYNTHETIC chunks to reach each size:

* vectors: a random real chunk vector plus Gaussian noise (``--noise`` x a random unit vector), normalised,
  so the synthetic points lie near real ones (cosine to their seed ~0.85) the way news chunks crowd together
  in e5 space, instead of being spread uniformly on the sphere (which would make HNSW's job easier);
* texts: 3-6 real sentences drawn at random from the real chunks and shuffled, under a real title, so BM25
  sees a real vocabulary and realistic term statistics;
* metadata: like real chunks (doc_id, story_id, title, ...), 4 chunks per synthetic article; no article
  records are written (retrieval does not read them).

At each size, over ~50 real questions from tydiqa-id-dev (query vectors computed once beforehand; query
encoding is a constant reported apart): dense-only, BM25-only and hybrid ``HybridSearcher.search`` p50/p95,
the BM25 index (re)build time of the real ``KEYWORD_CACHE`` path (read chunks from Chroma + analyse + index
+ save), process RSS and disk per chunk. Latencies are also given as ratios to the real store's, measured in
the same run.

Growth stops when one step (add + BM25 rebuild + queries) took longer than ``--step-limit`` seconds, when the
next step is predicted (from the rates measured so far) to exceed it or the remaining ``--budget``, and the
report says which.

Usage: .venv/bin/python benchmarks/scale.py [--sizes 10000,50000,...] [--budget 2400] [--step-limit 600]

``--existing`` grows nothing: on the store a run with ``--keep`` left, it compares the hybrid search before
(re-run by ``BaselineSearcher``: sequential, bm25s, texts of every candidate) and after, same run, profiles
where a query's time goes, times one ``--ingest-articles`` ingest until BM25 finds the new articles (before:
a full keyword rebuild), optionally checks recall@5/MRR before/after on ``--recall-sets``, and writes the
section "Scale: hybrid search and a 100-article ingest at 1M chunks".
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import argparse
import functools
import gc
import json
import random
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report as rep  # noqa: E402

import qa.keyword as keyword_mod  # noqa: E402
import qa.retrieval as retrieval_mod  # noqa: E402
import vectorstore.store as store_mod  # noqa: E402
from qa.evaluation import load_questions  # noqa: E402
from qa.language import detect_language  # noqa: E402
from qa.retrieval import KEYWORD_CACHE, HybridSearcher, KeywordIndexCache  # noqa: E402
from qa.settings import Settings  # noqa: E402
from vectorstore.embeddings import get_embedder  # noqa: E402
from vectorstore.service import ingest_paths, open_store  # noqa: E402
from vectorstore.store import PAGE, NewsStore  # noqa: E402

LAT_HEADERS = [
    "chunks",
    "contents",
    "dense p50 / p95",
    "BM25 p50 / p95",
    "hybrid p50 / p95",
    "first dense ms",
]
DEFAULT_SIZES = "10000,50000,100000,250000,500000,1000000"
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")

# Timers around the BM25 build/save so the rebuild splits into read / analyse+index / save.
BM25_TIMES: dict[str, float] = {}


def _timed(name: str, fn: Any) -> Any:
    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            BM25_TIMES[name] = BM25_TIMES.get(name, 0.0) + time.perf_counter() - start

    return inner


keyword_mod.KeywordIndex.build = classmethod(_timed("build", keyword_mod.KeywordIndex.build.__func__))  # type: ignore[method-assign]
keyword_mod.KeywordIndex.save = _timed("save", keyword_mod.KeywordIndex.save)  # type: ignore[method-assign]


class Synthesiser:
    """SYNTHETIC chunks near the real ones (see the module docstring)."""

    def __init__(self, store: NewsStore, noise: float, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.pyrng = random.Random(seed)
        self.noise = noise
        vecs, sentences, titles = [], [], []
        for offset in range(0, store.count(), PAGE):
            got = store.chunks.get(
                include=["documents", "metadatas", "embeddings"], limit=PAGE, offset=offset
            )
            vecs.append(np.asarray(got["embeddings"], dtype=np.float32))
            for doc, meta in zip(got["documents"], got["metadatas"], strict=True):
                sentences.extend(s for s in _SENTENCE.split(doc.replace("\n", " ")) if len(s) > 20)
                titles.append(str(meta.get("title", "")))
        self.real = np.concatenate(vecs)
        self.sentences = sentences
        self.titles = [t for t in titles if t] or ["Berita"]
        self.made = 0

    def batch(self, n: int) -> tuple[list[str], np.ndarray, list[str], list[dict[str, Any]]]:
        seeds = self.real[self.rng.integers(0, len(self.real), n)]
        noise = self.rng.standard_normal((n, self.real.shape[1])).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        vecs = seeds + self.noise * noise
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        ids, docs, metas = [], [], []
        for _ in range(n):
            i = self.made
            self.made += 1
            doc_id = f"synthetic-{i // 4:07d}"
            text = " ".join(self.pyrng.sample(self.sentences, self.pyrng.randint(3, 6)))
            ids.append(f"{doc_id}::{i % 4:04d}::synthetic")
            docs.append(text)
            metas.append(
                {
                    "doc_id": doc_id,
                    "title": self.titles[i // 4 % len(self.titles)],
                    "outlet": "SYNTHETIC",
                    "published": "",
                    "published_day": 0,
                    "url": "",
                    "story_id": doc_id,
                    "start": 0,
                    "end": len(text),
                    "paragraph": 0,
                    "sentences": "[]",
                    "language": "id",
                }
            )
        return ids, vecs.astype(np.float32), docs, metas


def add_synthetic(store: NewsStore, synth: Synthesiser, n: int, batch: int) -> float:
    start = time.perf_counter()
    done = 0
    while done < n:
        m = min(batch, n - done)
        ids, vecs, docs, metas = synth.batch(m)
        store.chunks.add(ids=ids, embeddings=vecs, documents=docs, metadatas=metas)
        done += m
    store.bump_revision()
    return time.perf_counter() - start


def measure_queries(
    searcher: HybridSearcher, questions: list[tuple[str, str, np.ndarray]], k: int
) -> dict[str, list[float]]:
    """Per question, the three modes back to back (so load drift hits them alike); milliseconds."""
    out: dict[str, list[float]] = {"dense": [], "bm25": [], "hybrid": []}
    for text, lang, qvec in questions:
        for mode in ("dense", "bm25", "hybrid"):
            start = time.perf_counter()
            searcher.search(text, lang, k, mode=mode, query_vector=qvec)  # type: ignore[arg-type]
            out[mode].append((time.perf_counter() - start) * 1000)
    return out


def encode_questions(
    args: argparse.Namespace, embedder: Any
) -> tuple[list[tuple[str, str, np.ndarray]], list[float]]:
    """Real questions, encoded once (query encoding is constant in store size; reported apart)."""
    qs = load_questions(args.questions)
    random.Random(args.seed).shuffle(qs)
    qs = qs[: args.n_questions]
    encode_ms: list[float] = []
    questions = []
    embedder.encode_queries(["pemanasan"])
    for q in qs:
        start = time.perf_counter()
        vec = embedder.encode_queries([q.question])[0]
        encode_ms.append((time.perf_counter() - start) * 1000)
        questions.append((q.question, detect_language(q.question), vec))
    return questions, encode_ms


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["chunks"] for r in rows]
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for mode, color in (("dense", "tab:blue"), ("bm25", "tab:orange"), ("hybrid", "tab:green")):
        ax.plot(sizes, [r[mode]["p50"] for r in rows], "o-", color=color, label=f"{mode} p50")
        ax.plot(sizes, [r[mode]["p95"] for r in rows], "s--", color=color, alpha=0.6, label=f"{mode} p95")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in store (first point real indosum, the rest adds SYNTHETIC chunks)")
    ax.set_ylabel("query latency (ms)")
    ax.set_title("Retrieval latency vs store size (2 shared cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --- --existing: hybrid latency and one ingest on a store grown earlier (`--keep`) ----------------------
EXISTING_SECTION = "Scale: hybrid search and a 100-article ingest at 1M chunks"


class Bm25sBaseline:
    """Today's index before segments (bm25s with precomputed scores, numpy backend), same analysis: the
    same-run baseline for BM25 latency. Built from the same chunk texts as the segmented index."""

    def __init__(self, ids: list[str], token_lists: list[list[str]]) -> None:
        import bm25s

        self.ids = ids
        self.bm25 = bm25s.BM25()
        self.bm25.index(token_lists, show_progress=False)

    def search(self, query: str, k: int, language: str | None = None) -> list[tuple[str, float]]:
        term_ids = self.bm25.get_tokens_ids(keyword_mod.analyse_query(query, language or "id"))  # type: ignore[arg-type]
        if not term_ids:
            return []
        scores = np.asarray(self.bm25.get_scores_from_ids(term_ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]


class BaselineSearcher(HybridSearcher):
    """The hybrid search as it was before this change, for same-run baselines: BM25 from ``Bm25sBaseline``,
    the dense query then the BM25 one, texts and metadata fetched for every candidate (the Chroma query
    with documents + metadata after a count, and documents + metadata + vectors for keyword-only hits)."""

    baseline: Bm25sBaseline

    def _bm25(self, query: str, language: Any, where: Any) -> dict[str, float]:
        # the revision check KEYWORD_CACHE.get made per query, as it was (counter + a chunk count)
        self.store.client.get_collection(self.store.name)
        self.store.chunks.count()
        return dict(self.baseline.search(query, self.fetch_k * 2, language)[: self.fetch_k])

    def search(  # type: ignore[override]
        self, query: str, language: Any, k: int, mode: str = "hybrid", query_vector: Any = None, **_: Any
    ) -> list[Any]:
        qvec = query_vector
        dense: dict[str, float] = {}
        texts: dict[str, tuple[str, dict[str, Any]]] = {}
        if mode in ("hybrid", "dense"):
            n = min(self.fetch_k, self.store.count())
            for cid, text, meta, sim in self.store.query(qvec, n):
                dense[cid], texts[cid] = sim, (text, meta)
        bm25 = self._bm25(query, language, None) if mode in ("hybrid", "bm25") else {}
        missing = [cid for cid in bm25 if cid not in texts]
        if missing:
            for cid, text, meta, vec in self.store.get_with_embeddings(missing):
                texts[cid] = (text, meta)
                dense[cid] = float(np.dot(vec, qvec))
        if mode == "dense":
            fused = dict(dense)
        elif mode == "bm25":
            fused = dict(bm25)
        else:
            w = self.bm25_weights[language] if bm25 else 0.0
            lo, hi = min(dense.values(), default=0.0), max(dense.values(), default=1.0)
            dn = {c: (v - lo) / (hi - lo) if hi - lo > 1e-9 else 1.0 for c, v in dense.items()}
            top = max(bm25.values()) if bm25 else 1.0
            fused = {c: (1 - w) * dn.get(c, 0.0) + w * bm25.get(c, 0.0) / top for c in texts}
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)
        out: list[str] = []
        taken: dict[str, int] = {}
        owner: dict[str, str] = {}
        for cid in ranked:  # the diversification, as before (chunk ids only: that is what is compared)
            meta = texts[cid][1]
            doc_id = str(meta.get("doc_id", ""))
            story = str(meta.get("story_id", doc_id)) or doc_id
            if owner.setdefault(story, doc_id) != doc_id or taken.get(doc_id, 0) >= self.max_per_article:
                continue
            taken[doc_id] = taken.get(doc_id, 0) + 1
            json.loads(meta.get("sentences", "[]"))
            out.append(cid)
            if len(out) >= k:
                break
        return out


def read_and_index(store: NewsStore, with_baseline: bool) -> tuple[dict[str, float], Bm25sBaseline | None]:
    """Read every chunk once; build + save the segmented index through KEYWORD_CACHE's own steps (what a
    rebuild costs: the pre-segments path, minus bm25s's slower build) and the bm25s baseline."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    ids, texts, metas = [], [], []
    for cid, text, meta in store.iter_chunks():
        ids.append(cid)
        texts.append(f"{meta.get('title', '')}\n{text}")
        metas.append(meta)
    times["read"] = time.perf_counter() - start
    start = time.perf_counter()
    index = keyword_mod.KeywordIndex.build(ids, texts, retrieval_mod._columns(metas))
    times["build"] = time.perf_counter() - start
    folder = retrieval_mod._index_folder(store)
    assert folder is not None
    start = time.perf_counter()
    KEYWORD_CACHE._save(folder, store.revision(), index)
    times["save"] = time.perf_counter() - start
    start = time.perf_counter()
    KEYWORD_CACHE.get(store)
    times["load"] = time.perf_counter() - start
    baseline = None
    if with_baseline:
        start = time.perf_counter()
        baseline = Bm25sBaseline(ids, [keyword_mod.analyse_indonesian(t) for t in texts])
        times["bm25s_build"] = time.perf_counter() - start
    del texts, metas
    gc.collect()
    return times, baseline


def time_modes(
    searchers: dict[str, tuple[HybridSearcher, str]], questions: list[tuple[str, str, np.ndarray]], k: int
) -> dict[str, dict[str, float]]:
    """Every variant per question, back to back, so load drift hits them alike; p50/p95 ms per variant."""
    out: dict[str, list[float]] = {name: [] for name in searchers}
    for text, lang, qvec in questions:
        for name, (searcher, mode) in searchers.items():
            start = time.perf_counter()
            searcher.search(text, lang, k, mode=mode, query_vector=qvec)  # type: ignore[arg-type]
            out[name].append((time.perf_counter() - start) * 1000)
    return {
        name: dict(zip(("p50", "p95"), rep.percentiles(v, 50, 95), strict=True)) for name, v in out.items()
    }


def profile_parts(
    store: NewsStore, questions: list[tuple[str, str, np.ndarray]], fetch_k: int
) -> dict[str, float]:
    """Where a query's time goes (p50 ms): Chroma's HNSW search alone (ids + distances), the same with
    documents and metadata fetched, the chunk count (per query in the revision check before), the revision
    check every BM25 query makes now, the BM25 scoring, and
    the two fetches a search now makes (texts of 10 candidates, vectors of 30 keyword-only hits)."""
    index, _ = KEYWORD_CACHE.get(store)
    parts: dict[str, list[float]] = {
        "hnsw ids+distances": [],
        "query with texts+metadata": [],
        "count()": [],
        "revision()": [],
        "BM25 search": [],
        "texts of 10": [],
        "vectors of 30": [],
    }
    for text, lang, qvec in questions:
        emb = [np.asarray(qvec, dtype=np.float32).tolist()]
        hits = [cid for cid, _ in index.search(text, 40, language=lang)] or list(index.ids[:40])
        calls: list[tuple[str, Any, tuple[Any, ...], dict[str, Any]]] = [
            (
                "hnsw ids+distances",
                store.chunks.query,
                (),
                {"query_embeddings": emb, "n_results": fetch_k, "include": ["distances"]},
            ),
            ("query with texts+metadata", store.query, (qvec, fetch_k), {}),
            ("count()", store.chunks.count, (), {}),
            ("revision()", store.revision, (), {}),
            ("BM25 search", index.search, (text, fetch_k * 2), {"language": lang}),
            ("texts of 10", store.get_texts, (hits[:10],), {}),
            ("vectors of 30", store.get_embeddings, (hits[10:40],), {}),
        ]
        for name, fn, fargs, fkwargs in calls:
            start = time.perf_counter()
            fn(*fargs, **fkwargs)
            parts[name].append((time.perf_counter() - start) * 1000)
    return {name: rep.percentiles(v, 50)[0] for name, v in parts.items()}


def ingest_new_articles(
    settings: Settings, store: NewsStore, embedder: Any, corpus: Path, skip: int, n: int
) -> dict[str, Any]:
    """One ``n``-article ingest of real articles not in the store yet (lines ``skip``.. of ``corpus``), timed
    until a BM25 query finds them, then what a replica (another process) pays to see that revision."""
    folder = Path(".newsqa/bench/ingest-100")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "articles.jsonl"
    with corpus.open(encoding="utf-8") as fh:
        lines = [line for i, line in enumerate(fh) if skip <= i < skip + n]
    path.write_text("".join(lines), encoding="utf-8")
    new_titles = {json.loads(line)["id"]: json.loads(line).get("title", "") for line in lines}
    # The SYNTHETIC chunks have no article records, so ingest's orphan sweep (a read of every chunk's
    # metadata) would delete them all: it is switched off here and its cost reported apart (the read).
    store.remove_orphan_chunks = lambda complete: 0  # type: ignore[method-assign]
    hook = {"s": 0.0}
    apply = KEYWORD_CACHE.apply

    def timed_apply(*a: Any) -> None:
        start = time.perf_counter()
        apply(*a)
        hook["s"] = time.perf_counter() - start

    store_mod._CHANGE_HOOKS[:] = [timed_apply]
    start = time.perf_counter()
    report = ingest_paths(settings, [path], store=store, progress=False)
    ingest_s = time.perf_counter() - start
    searcher = HybridSearcher(store, embedder, bm25_weights={"id": 0.3, "en": 0.1})
    doc_id, title = next(iter(new_titles.items()))
    start = time.perf_counter()
    found = searcher.search(title, "id", 5, mode="bm25")
    first_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    replica = open_store(settings, create=False)
    KeywordIndexCache().get(replica)  # a new process: loads the saved index of this revision
    replica_s = time.perf_counter() - start
    return {
        "articles": report.new,
        "chunks": report.chunks,
        "ingest_s": ingest_s,
        "hook_s": hook["s"],
        "first_query_ms": first_ms,
        "found": any(p.doc_id == doc_id for p in found),
        "replica_load_s": replica_s,
        "segments": len(KEYWORD_CACHE.get(store)[0].segments),
    }


def recall_same_run(set_dir: Path, limit: int, k: int = 10) -> list[list[str]]:
    """Recall@5 / MRR@10 of the search before and after on a dev set's own (real) store, same query vectors:
    the changes must not move them (BM25 scores equal bm25s's; fetching and concurrency change no ranking)."""
    from qa.evaluation import rank_metrics, store_for_corpus
    from qa.settings import get_settings

    settings = store_for_corpus(get_settings(), set_dir / "corpus.jsonl", progress=False)
    embedder = get_embedder(settings.embedding_model, settings.model_cache, settings.embed_batch_size)
    store = open_store(settings, create=False)
    qs = [q for q in load_questions(set_dir / "questions.jsonl") if q.answerable and q.gold_articles][:limit]
    _, baseline = read_and_index(store, with_baseline=True)
    kw: dict[str, Any] = {
        "fetch_k": settings.fetch_k,
        "bm25_weights": {"id": settings.bm25_weight_id, "en": settings.bm25_weight_en},
        "max_per_article": settings.max_chunks_per_article,
    }
    before, after = (
        BaselineSearcher(store, embedder, parallel=False, **kw),
        HybridSearcher(store, embedder, **kw),
    )
    before.baseline = baseline  # type: ignore[assignment]
    runs: dict[str, list[list[str]]] = {}
    for q in qs:
        lang, qvec = detect_language(q.question), embedder.encode_queries([q.question])[0]
        for mode in ("hybrid", "dense", "bm25"):
            old = before.search(q.question, lang, k, mode=mode, query_vector=qvec)
            new = after.search(q.question, lang, k, mode=mode, query_vector=qvec)
            runs.setdefault(f"{mode} before", []).append([c.rsplit("::", 2)[0] for c in old])
            runs.setdefault(f"{mode} after", []).append([p.doc_id for p in new])
    golds = [q.gold_articles for q in qs]
    rows = []
    for name, rankings in runs.items():
        m = rank_metrics(rankings, golds)
        rows.append([f"{set_dir.name} ({len(qs)} q)", name, f"{m['recall@5']:.3f}", f"{m['mrr@10']:.3f}"])
    return rows


def run_existing(args: argparse.Namespace) -> None:
    """``--existing``: the latency variants and one 100-article ingest on the store ``--keep`` left."""
    load_start = rep.banner("scale --existing")
    settings = Settings(store=args.store, chroma_host=None)
    embedder = get_embedder(settings.embedding_model, settings.model_cache, settings.embed_batch_size)
    store = open_store(settings, create=False)
    chunks = store.count()
    questions, encode_ms = encode_questions(args, embedder)
    print(f"{chunks:,} chunks; reading them and building the indexes ...", flush=True)
    times, baseline = read_and_index(store, with_baseline=True)
    print(times, flush=True)
    assert baseline is not None
    kw: dict[str, Any] = {
        "fetch_k": settings.fetch_k,
        "bm25_weights": {"id": settings.bm25_weight_id, "en": settings.bm25_weight_en},
        "max_per_article": settings.max_chunks_per_article,
    }
    seq, par = HybridSearcher(store, embedder, parallel=False, **kw), HybridSearcher(store, embedder, **kw)
    old_seq, old_par = (
        BaselineSearcher(store, embedder, parallel=False, **kw),
        BaselineSearcher(store, embedder, **kw),
    )
    old_seq.baseline = old_par.baseline = baseline
    same = sum(
        old_seq.search(t, lang, args.k, query_vector=v)
        == [p.chunk_id for p in par.search(t, lang, args.k, query_vector=v)]
        for t, lang, v in questions
    )
    variants = {
        "dense only (before)": (old_seq, "dense"),
        "dense only (after: ids first, texts of the shown ones)": (par, "dense"),
        "BM25 only (before: bm25s)": (old_seq, "bm25"),
        "BM25 only (after: segments)": (par, "bm25"),
        "hybrid (before: sequential, bm25s)": (old_seq, "hybrid"),
        "hybrid, after but sequential": (seq, "hybrid"),
        "hybrid (after: concurrent)": (par, "hybrid"),
    }
    lat = time_modes(variants, questions, args.k)
    parts = profile_parts(store, questions, settings.fetch_k)
    del baseline, old_seq
    gc.collect()
    ingest = ingest_new_articles(
        settings, store, embedder, args.corpus, args.ingest_skip, args.ingest_articles
    )
    recall: list[list[str]] = []
    for set_dir in [Path(p) for p in args.recall_sets.split(",") if p]:
        recall += recall_same_run(set_dir, args.recall_limit)
    load_end = rep.banner("scale --existing")
    md = existing_report(args, chunks, len(questions), encode_ms, times, lat, parts, same, ingest)
    if recall:
        md += (
            f"\nRetrieval quality before / after on the dev sets' own real stores (first {args.recall_limit}"
            " answerable questions of each; nothing was tuned, so no split applies), same run, same query"
            " vectors:\n\n" + rep.table(["set", "retriever", "recall@5", "MRR@10"], recall) + "\n"
        )
    print(md)
    Path(".newsqa/bench/scale-existing.json").write_text(
        json.dumps(
            {"times": times, "lat": lat, "parts": parts, "same": same, "ingest": ingest}, default=float
        )
    )
    if not args.no_write:
        rep.write_section(EXISTING_SECTION, md, load=(load_start, load_end))


def existing_report(
    args: argparse.Namespace,
    chunks: int,
    n_questions: int,
    encode_ms: list[float],
    times: dict[str, float],
    lat: dict[str, dict[str, float]],
    parts: dict[str, float],
    same: int,
    ingest: dict[str, Any],
) -> str:
    before_lat = lat["hybrid (before: sequential, bm25s)"]
    lat_rows = [
        [name, f"{v['p50']:.1f} / {v['p95']:.1f}", f"{v['p50'] / before_lat['p50']:.2f}×"]
        for name, v in lat.items()
    ]
    rebuild = times["read"] + times["build"] + times["save"]
    before = ingest["ingest_s"] - ingest["hook_s"] + rebuild
    ingest_rows = [
        [
            "ingest (load, clean, chunk, encode, Chroma writes)",
            f"{ingest['ingest_s'] - ingest['hook_s']:.1f} s",
            f"{ingest['ingest_s'] - ingest['hook_s']:.1f} s",
        ],
        [
            "keyword index brought up to date",
            f"{rebuild:.1f} s (read every chunk {times['read']:.1f} + build {times['build']:.1f} "
            f"+ save {times['save']:.1f})",
            f"{ingest['hook_s']:.2f} s (new segment + save, inside ingest)",
        ],
        [
            "first BM25 query after it (new article found: " + ("yes" if ingest["found"] else "NO") + ")",
            "",
            f"{ingest['first_query_ms']:.0f} ms",
        ],
        [
            "**until the next query is served**",
            f"**{before:.0f} s**",
            f"**{ingest['ingest_s'] + ingest['first_query_ms'] / 1000:.1f} s**",
        ],
        [
            "a replica (new process) on that revision: BM25 index ready",
            f"{rebuild:.1f} s (rebuild)",
            f"{ingest['replica_load_s']:.2f} s (loads the saved segments)",
        ],
    ]
    return f"""
The store `{args.store}` ({chunks:,} chunks: 728 real indosum chunks of the first 200 articles, the rest
**SYNTHETIC**, made by this script's `Synthesiser` + `add_synthetic` (seed 0, noise 0.6) in one go up to
1M, then earlier `--existing` ingests of real articles; figures are about index size, not answer quality).
{n_questions} real questions from `{args.questions}`, k={args.k}, query vectors encoded
beforehand (p50 {np.median(encode_ms):.1f} ms, to be added for end-to-end retrieval). Every variant runs
per question back to back, so load drift hits them alike.

"before" is the search as it was, re-run here (`BaselineSearcher` in this script): the dense query then the
BM25 one, a Chroma `count()` before the first and in the revision check of the second, texts + metadata
fetched for every candidate, and the bm25s keyword index (precomputed scores,
numpy backend) built in this run from the same chunk texts with the same analyser. "after" is
`HybridSearcher` now: `qa.keyword.KeywordIndex` (term frequencies in segments, global document frequencies
applied at query time), the Chroma query and the BM25 query at the same time (`parallel=True`, the
default), Chroma asked for ids + distances only and texts fetched for the candidates the result shows,
no `count()` per query (`NewsStore.revision()` reads it once per revision counter value).
Top-{args.k} chunk ids of "hybrid (before)" and "hybrid (after)": identical for {same} of {n_questions}
questions.

Latency p50 / p95 in ms (ratio of p50 to the "before" hybrid, same run):

{rep.table(["variant", "p50 / p95 ms", "p50 vs before"], lat_rows)}

Where the time goes (p50 ms per call, same questions): {", ".join(f"{k} {v:.1f}" for k, v in parts.items())}.

BM25 index at this size, same run: read every chunk from Chroma {times["read"]:.0f} s, build
(analyse + segment) {times["build"]:.0f} s, save {times["save"]:.1f} s, load the saved copy in a new
cache {times["load"]:.1f} s; the bm25s baseline's build (from analysed tokens)
{times.get("bm25s_build", 0):.0f} s.

**One {ingest["articles"]}-article ingest** ({ingest["chunks"]} chunks; real indosum articles not in the
store, lines {args.ingest_skip}.. of `{args.corpus}`) into this store. Before, a revision change made the
next query rebuild the whole keyword index (figures of this run's rebuild above); after, ingest adds a
segment and saves it beside the store.
Ingest's orphan sweep is switched off for this measurement (the SYNTHETIC chunks have no article
records, so it would delete them); it reads every chunk's metadata, about the "read" time above, in both
columns alike. Keyword segments afterwards: {ingest["segments"]}.

{rep.table(["step", "before (full rebuild)", "after (segment)"], ingest_rows)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source-store", type=Path, default=Path(".newsqa/bench/indosum"))
    parser.add_argument("--store", type=Path, default=Path(".newsqa/bench/scale"), help="wiped first")
    parser.add_argument("--corpus", type=Path, default=Path("data/indosum-news/articles.jsonl"))
    parser.add_argument("--questions", type=Path, default=Path("data/eval/tydiqa-id-dev/questions.jsonl"))
    parser.add_argument("--n-questions", type=int, default=50)
    parser.add_argument("--sizes", default=DEFAULT_SIZES)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--noise", type=float, default=0.6, help="noise norm added to a real unit vector")
    parser.add_argument("--batch", type=int, default=5000, help="chunks per Chroma add call")
    parser.add_argument("--step-limit", type=float, default=600.0, help="seconds; stop growing past this")
    parser.add_argument("--budget", type=float, default=2400.0, help="seconds for the whole run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the grown store")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--section", default="Scale: retrieval latency vs store size", help="docs/benchmarks.md section title"
    )
    parser.add_argument("--png", default="scale.png", help="plot file name in docs/")
    parser.add_argument(
        "--existing",
        action="store_true",
        help="no growth: on the store --keep left, compare hybrid variants and time one ingest (own section)",
    )
    parser.add_argument("--ingest-articles", type=int, default=100, help="--existing: articles to ingest")
    parser.add_argument("--ingest-skip", type=int, default=1000, help="--existing: corpus lines to skip")
    parser.add_argument("--recall-sets", default="", help="--existing: dev set dirs, comma-separated")
    parser.add_argument("--recall-limit", type=int, default=300)
    args = parser.parse_args()
    if args.existing:
        run_existing(args)
        return
    run_start = time.perf_counter()
    load_start = rep.banner("scale")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    src_settings = Settings(store=args.source_store, chroma_host=None)
    # Always brought up to date (idempotent: seconds when complete); another benchmark may have left only a
    # few of the articles at this path.
    print(f"bringing {args.source_store} up to date with {args.corpus} ...", flush=True)
    ingest_paths(src_settings, [args.corpus], progress=True)
    shutil.rmtree(args.store, ignore_errors=True)
    shutil.copytree(args.source_store, args.store)
    settings = Settings(store=args.store, chroma_host=None)
    embedder = get_embedder(settings.embedding_model, settings.model_cache, settings.embed_batch_size)
    store = open_store(settings, create=False)
    real_chunks = store.count()
    searcher = HybridSearcher(
        store,
        embedder,
        fetch_k=settings.fetch_k,
        bm25_weights={"id": settings.bm25_weight_id, "en": settings.bm25_weight_en},
        max_per_article=settings.max_chunks_per_article,
    )

    questions, encode_ms = encode_questions(args, embedder)
    synth = Synthesiser(store, args.noise, args.seed)
    print(
        f"real store: {real_chunks} chunks; {len(synth.sentences)} real sentences for synthetic text; "
        f"query encode p50 {np.median(encode_ms):.1f} ms",
        flush=True,
    )

    rows: list[dict[str, Any]] = []
    stop_reason = "all sizes done"
    with rep.PeakRSS(interval=0.2) as rss:
        targets = [real_chunks] + [s for s in sizes if s > real_chunks]
        for target in targets:
            step_start = time.perf_counter()
            rss.reset()
            current = store.count()
            add_s = add_synthetic(store, synth, target - current, args.batch) if target > current else 0.0
            added = target - current
            gc.collect()
            # BM25 rebuild through the real cache path (read all chunks from Chroma, analyse, index, save).
            BM25_TIMES.clear()
            start = time.perf_counter()
            KEYWORD_CACHE.get(store)
            bm25_total = time.perf_counter() - start
            bm25_build, bm25_save = BM25_TIMES.get("build", 0.0), BM25_TIMES.get("save", 0.0)
            # the first dense query after growth loads/refreshes Chroma's HNSW segment: reported apart
            start = time.perf_counter()
            searcher.search(
                questions[0][0], questions[0][1], args.k, mode="dense", query_vector=questions[0][2]
            )
            first_dense_ms = (time.perf_counter() - start) * 1000
            lat = measure_queries(searcher, questions, args.k)
            disk = rep.dir_size(args.store)
            bm25_disk = rep.dir_size(args.store / f"bm25-{store.name}")
            step_s = time.perf_counter() - step_start
            row: dict[str, Any] = {
                "chunks": store.count(),
                "synthetic": store.count() - real_chunks,
                "add_s": add_s,
                "add_per_s": added / add_s if add_s else 0.0,
                "bm25_total_s": bm25_total,
                "bm25_build_s": bm25_build,
                "bm25_save_s": bm25_save,
                "bm25_read_s": bm25_total - bm25_build - bm25_save,
                "first_dense_ms": first_dense_ms,
                "rss": rss.current(),
                "peak_rss": rss.peak,
                "disk": disk,
                "bm25_disk": bm25_disk,
                "step_s": step_s,
                "load": rep.loadavg(),
            }
            for mode, values in lat.items():
                p50, p95 = rep.percentiles(values, 50, 95)
                row[mode] = {"p50": p50, "p95": p95}
            rows.append(row)
            print(
                f"{row['chunks']:>9,} chunks | add {add_s:6.1f} s | bm25 rebuild {bm25_total:6.1f} s | "
                f"dense {row['dense']['p50']:7.1f}/{row['dense']['p95']:7.1f} ms | "
                f"bm25 {row['bm25']['p50']:7.1f}/{row['bm25']['p95']:7.1f} | "
                f"hybrid {row['hybrid']['p50']:7.1f}/{row['hybrid']['p95']:7.1f} | "
                f"RSS {rep.fmt_bytes(row['rss'])} | disk {disk / row['chunks']:,.0f} B/chunk | "
                f"step {step_s:.0f} s | load {row['load']}",
                flush=True,
            )
            if step_s > args.step_limit:
                stop_reason = (
                    f"the step to {row['chunks']:,} chunks took {step_s:.0f} s > {args.step_limit:.0f} s"
                )
                break
            nxt = next((t for t in targets if t > row["chunks"]), None)
            if nxt is None:
                break
            # predict the next step from this one's per-chunk rates (add per new chunk, rest per chunk held)
            per_added = add_s / added if added > 0 else 0.0
            if per_added == 0.0:
                per_added = 1 / 2000
            predicted = per_added * (nxt - row["chunks"]) + (step_s - add_s) * nxt / row["chunks"]
            left = args.budget - (time.perf_counter() - run_start)
            if predicted > args.step_limit or predicted > left:
                stop_reason = (
                    f"stopped before {nxt:,} chunks: predicted step {predicted:.0f} s "
                    f"(limit {args.step_limit:.0f} s, budget left {left:.0f} s)"
                )
                break
    if not args.keep:
        del searcher, store
        gc.collect()
        shutil.rmtree(args.store, ignore_errors=True)
    load_end = rep.banner("scale")
    print(f"stop: {stop_reason}")

    # --- report ---------------------------------------------------------------------------------------
    png = rep.DOCS / args.png if not args.no_write else Path(".newsqa/bench") / args.png
    png.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, png)
    base = rows[0]
    lat_rows, cost_rows = [], []
    for r in rows:
        kind = "real" if r["synthetic"] == 0 else f"real + {r['synthetic']:,} SYNTHETIC"
        lat_rows.append(
            [
                f"{r['chunks']:,}",
                kind,
                *(
                    f"{r[m]['p50']:.1f} / {r[m]['p95']:.1f} ({r[m]['p50'] / base[m]['p50']:.1f}×)"
                    for m in ("dense", "bm25", "hybrid")
                ),
                f"{r['first_dense_ms']:.0f}",
            ]
        )
        cost_rows.append(
            [
                f"{r['chunks']:,}",
                f"{r['add_s']:.0f}" + (f" ({r['add_per_s']:,.0f}/s)" if r["add_s"] else ""),
                f"{r['bm25_total_s']:.1f} (read {r['bm25_read_s']:.1f}, build {r['bm25_build_s']:.1f}, "
                f"save {r['bm25_save_s']:.1f})",
                rep.fmt_bytes(r["rss"]),
                rep.fmt_bytes(r["peak_rss"]),
                f"{rep.fmt_bytes(r['disk'])} ({r['disk'] / r['chunks']:,.0f} B/chunk; BM25 "
                f"{r['bm25_disk'] / r['chunks']:,.0f})",
                f"{r['step_s']:.0f}",
                r["load"],
            ]
        )
    md = f"""
Start: the real indosum store (`{args.source_store}`, {real_chunks:,} real chunks), copied; every larger size
adds **SYNTHETIC chunks** (random unit vectors near real ones: a real chunk vector + noise of norm
{args.noise}, renormalised; texts of 3-6 shuffled real sentences under real titles). Latency figures
are therefore about the index sizes, not about answer quality. Questions: {len(questions)} real questions
from `{args.questions}` (their passages are not in this store; that does not matter for latency), k={args.k},
fetch_k={settings.fetch_k}, through `HybridSearcher.search` with `mode=dense|bm25|hybrid` and a precomputed
query vector. Query encoding (constant in store size) p50 {np.median(encode_ms):.1f} ms, p95
{rep.percentiles(encode_ms, 95)[0]:.1f} ms, to be added to every figure below for the end-to-end retrieval
time.

**Where the growth stopped:** {stop_reason}.

![latency vs store size]({args.png})

Latency p50 / p95 in ms (ratio of p50 to the real store's, same run); "first dense" is the first query after
the growth step (Chroma loading/refreshing its HNSW segment), not counted in the percentiles:

{rep.table(LAT_HEADERS, lat_rows)}

Costs of each step: Chroma `add` of the new SYNTHETIC chunks, the BM25 index rebuild through the real
`KEYWORD_CACHE` path (read every chunk from Chroma + analyse + bm25s index + save next to the store; the
stem cache is warm, as the synthetic texts reuse real words), process RSS after the queries and its peak
during the step, disk:

{rep.table(["chunks", "add s", "BM25 rebuild s", "RSS", "peak RSS", "disk", "step s", "load avg"], cost_rows)}
"""
    (Path(".newsqa/bench")).mkdir(parents=True, exist_ok=True)
    Path(".newsqa/bench/scale.json").write_text(
        json.dumps({"rows": rows, "stop": stop_reason, "encode_ms": encode_ms}, default=float),
        encoding="utf-8",
    )
    print(md)
    if not args.no_write:
        rep.write_section(args.section, md, load=(load_start, load_end))
        print(f"wrote section to {rep.REPORT} and {png}")


if __name__ == "__main__":
    main()
