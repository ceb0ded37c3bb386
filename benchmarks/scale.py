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
from qa.evaluation import load_questions  # noqa: E402
from qa.language import detect_language  # noqa: E402
from qa.retrieval import KEYWORD_CACHE, HybridSearcher  # noqa: E402
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
    args = parser.parse_args()
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

    # Questions: real ones, encoded once (query encoding is constant in store size; reported apart).
    qs = load_questions(args.questions)
    random.Random(args.seed).shuffle(qs)
    qs = qs[: args.n_questions]
    encode_ms = []
    questions = []
    embedder.encode_queries(["pemanasan"])
    for q in qs:
        start = time.perf_counter()
        vec = embedder.encode_queries([q.question])[0]
        encode_ms.append((time.perf_counter() - start) * 1000)
        questions.append((q.question, detect_language(q.question), vec))
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
