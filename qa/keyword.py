"""BM25 keyword index over chunk texts, with an Indonesian analyser (Sastrawi stems, id+en stopwords).

Why these choices (BM25 alone, whole eval-corpus documents as units, answerable questions; numbers are
recall@1 / recall@5 / MRR@10):

* Stemmer. Sastrawi beats Snowball-Indonesian (PyStemmer) slightly but consistently: tydiqa-id-dev
  .575/.825/.683 vs .570/.823/.680, idkmrc-id-dev .616/.866/.723 vs .610/.864/.720, and it makes fewer
  linguistic mistakes (Snowball: "menteri" -> "teri" but "kementerian" -> "menteri", "perempuan" -> "empu").
  No stemming: .557/.816/.668. Sastrawi is pure Python and slow (~0.35 ms per unseen word), so words are
  stemmed once per process through a cache, and words that cannot carry an affix Sastrawi removes (digits,
  root-dictionary words, no di/ke/se/be/me/pe/te prefix and no -i/-an/-kan/-nya/... suffix) skip it: same
  retrieval quality, 2.1x faster. The cache is saved next to the index so a rebuild after ``load`` is warm.
* Stopwords. Sastrawi's Indonesian list plus bm25s's ``STOPWORDS_EN_PLUS``: removing English function
  words lifts English questions on xling-en-id-dev from MRR .290 to .362 and is neutral on Indonesian.
* English questions. The corpus is Indonesian, so documents and queries share the Indonesian analyser; for
  an English question the query also gets Snowball-English stems of its content words (names, numbers and
  loanwords match either way). That helps xling-en-id-dev (.324/.464/.381 vs .311/.437/.362) but hurts
  Indonesian questions (tydiqa MRR .683 -> .677), so it is applied only when the question is English.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from qa.language import detect_language
from qa.types import Language

__all__ = [
    "ANALYSER_VERSION",
    "KeywordIndex",
    "Segment",
    "read_manifest",
    "analyse_indonesian",
    "analyse_query",
    "stem_indonesian",
]

# Bump when analysis changes: an index saved under another analyser must be rebuilt, not silently reused.
ANALYSER_VERSION = "sastrawi-gated+stop-id-en_plus/v1"

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# Words with none of these prefixes/suffixes skip Sastrawi. On indosum's 36k distinct words this changes 57
# stems, all names Sastrawi over-strips through its -is/infix rules ("boris" -> "bor", "cinema" -> "cema").
_AFFIX = re.compile(r"^(?:di|ke|se|be|me|pe|te)|(?:i|kan|an|nya|lah|kah|tah|pun|ku|mu)$")
_MAX_CACHED_STEMS = 1_000_000

_STEMS_FILE = "stems.json"

# token -> stem, shared by all indexes in the process. A plain dict rather than ``lru_cache`` so it can be
# saved with an index and pre-filled on load; single dict reads/writes are atomic under the GIL.
_stems: dict[str, str] = {}
_sastrawi_lock = threading.Lock()
_sastrawi: tuple[Callable[[str], str], Callable[[str], bool]] | None = None
_local = threading.local()


def _get_sastrawi() -> tuple[Callable[[str], str], Callable[[str], bool]]:
    """Sastrawi's word stemmer and root-dictionary lookup, built once (reads a 30k-word dictionary)."""
    global _sastrawi
    if _sastrawi is None:
        with _sastrawi_lock:
            if _sastrawi is None:
                from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

                # The inner stemmer: its stem_word skips the text normalisation stem() does per call.
                inner = StemmerFactory().create_stemmer().delegatedStemmer
                _sastrawi = (inner.stem_word, inner.dictionary.contains)
    return _sastrawi


@cache
def indonesian_stopwords() -> frozenset[str]:
    """Sastrawi's Indonesian list plus bm25s's extended English list (English questions, loan phrases)."""
    import bm25s.stopwords
    from Sastrawi.StopWordRemover.StopWordRemoverFactory import StopWordRemoverFactory

    return frozenset(StopWordRemoverFactory().get_stop_words()) | frozenset(bm25s.stopwords.STOPWORDS_EN_PLUS)


@cache
def english_stopwords() -> frozenset[str]:
    import bm25s.stopwords

    return frozenset(bm25s.stopwords.STOPWORDS_EN_PLUS)


def _english_stemmer() -> Any:
    """A Snowball English stemmer per thread: PyStemmer objects must not be shared between threads."""
    stemmer = getattr(_local, "english", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.english = Stemmer.Stemmer("english")
    return stemmer


def stem_indonesian(token: str) -> str:
    """Sastrawi stem of one lowercase token, cached; tokens Sastrawi would leave alone skip it entirely."""
    stem = _stems.get(token)
    if stem is not None:
        return stem
    stem_word, in_dictionary = _get_sastrawi()
    if any(c.isdigit() for c in token) or in_dictionary(token) or not _AFFIX.search(token):
        stem = token
    else:
        stem = stem_word(token) or token
    if len(_stems) < _MAX_CACHED_STEMS:
        _stems[token] = stem
    return stem


def is_indonesian_word(token: str) -> bool:
    """Whether a lower-case token is in Sastrawi's 30k-word root dictionary, itself or once stemmed
    ("keamanan" -> "aman"): a common word, not a name, even when capitalised."""
    in_dictionary = _get_sastrawi()[1]
    return in_dictionary(token) or in_dictionary(stem_indonesian(token))


def _tokens(text: str) -> list[str]:
    """Lowercase word tokens; single letters are dropped (initials, list markers), single digits kept."""
    return [t for t in _TOKEN.findall(text.lower()) if len(t) > 1 or t.isdigit()]


def analyse_indonesian(text: str) -> list[str]:
    """The analyser used for documents and for every query: tokens, minus stopwords, Sastrawi-stemmed."""
    stopwords = indonesian_stopwords()
    return [stem_indonesian(t) for t in _tokens(text) if t not in stopwords]


def analyse_query(text: str, language: Language) -> list[str]:
    """Query terms: the Indonesian analysis, plus English stems (deduplicated) for an English question."""
    terms = analyse_indonesian(text)
    if language != "en":
        return terms
    stopwords = english_stopwords()
    english = _english_stemmer().stemWords([t for t in _tokens(text) if t not in stopwords])
    return list(dict.fromkeys(terms + english))


# BM25 parameters (bm25s's Lucene variant, what this index replaced; scores agree with it within float error).
K1, B = 1.5, 0.75
_FORMAT = "segments/v1"
_MANIFEST = "manifest.json"


def _new_name() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, eq=False)
class Segment:
    """An immutable run of documents: term frequencies grouped by term (CSC), never rescored.

    Why raw term frequencies and not precomputed BM25 scores (what bm25s stores): a score depends on the
    document frequencies and the mean length of the WHOLE index, which every ingest changes. Keeping tf and
    document lengths lets a small new segment and the big old one be scored with the same global statistics
    at query time, so adding a segment never rewrites the others.
    """

    name: str
    ids: tuple[str, ...]
    indptr: np.ndarray  # int64, len = vocabulary size when the segment was made + 1 (global term ids)
    docs: np.ndarray  # int32 local document positions, grouped by term
    tfs: np.ndarray  # uint16 term frequencies, aligned with docs
    lens: np.ndarray  # int32 analysed document lengths (tokens), aligned with ids
    columns: dict[str, list[Any]]  # the caller's per-document values (publication day, outlet)
    first_term: int  # global id of the first term this segment brought into the vocabulary
    terms: tuple[str, ...]  # the terms it brought, in id order

    def __len__(self) -> int:
        return len(self.ids)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for field in ("indptr", "docs", "tfs", "lens"):
            np.save(folder / f"{field}.npy", getattr(self, field))
        meta = {"ids": list(self.ids), "columns": self.columns, "first_term": self.first_term}
        (folder / "segment.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        (folder / "terms.json").write_text(json.dumps(list(self.terms), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, name: str) -> Segment:
        """Postings are memory-mapped: a replica starts without reading them, the page cache shares them."""
        meta = json.loads((folder / "segment.json").read_text(encoding="utf-8"))
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        arrays = {f: np.load(folder / f"{f}.npy", mmap_mode="r") for f in ("docs", "tfs")}
        return cls(
            name=name,
            ids=tuple(meta["ids"]),
            indptr=np.load(folder / "indptr.npy"),
            lens=np.load(folder / "lens.npy"),
            columns=meta["columns"],
            first_term=int(meta["first_term"]),
            terms=tuple(terms),
            **arrays,
        )


def _make_segment(
    ids: Sequence[str],
    token_lists: Sequence[list[str]],
    columns: dict[str, list[Any]],
    vocab: dict[str, int],
) -> Segment:
    """A segment over already-analysed documents; ``vocab`` (a private copy) gains the new terms."""
    first = len(vocab)
    setdefault = vocab.setdefault
    flat = np.fromiter((setdefault(t, len(vocab)) for toks in token_lists for t in toks), dtype=np.int64)
    lens = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    n = max(len(ids), 1)
    doc_of = np.repeat(np.arange(len(ids), dtype=np.int64), lens)
    keys, counts = np.unique(flat * n + doc_of, return_counts=True)  # sorted by term, then document
    terms_of = keys // n
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms_of, minlength=len(vocab)), out=indptr[1:])
    new_terms = tuple(sorted((t for t, i in vocab.items() if i >= first), key=vocab.__getitem__))
    return Segment(
        name=_new_name(),
        ids=tuple(ids),
        indptr=indptr,
        docs=(keys % n).astype(np.int32),
        tfs=np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16),
        lens=lens.astype(np.int32),
        columns={k: list(v) for k, v in columns.items()},
        first_term=first,
        terms=new_terms,
    )


def _merge(segments: Sequence[Segment], dead: Sequence[np.ndarray], n_terms: int) -> Segment:
    """One segment holding the live documents of a contiguous run of segments, in the same order."""
    ids: list[str] = []
    columns: dict[str, list[Any]] = {k: [] for k in segments[0].columns}
    term_parts, doc_parts, tf_parts, lens = [], [], [], []
    offset = 0
    for seg, gone in zip(segments, dead, strict=True):
        keep = ~gone
        new_pos = np.cumsum(keep) - 1 + offset
        terms = np.repeat(np.arange(len(seg.indptr) - 1, dtype=np.int64), np.diff(seg.indptr))
        live = keep[seg.docs]
        term_parts.append(terms[live])
        doc_parts.append(new_pos[seg.docs[live]])
        tf_parts.append(np.asarray(seg.tfs)[live])
        lens.append(seg.lens[keep])
        ids.extend(i for i, k in zip(seg.ids, keep, strict=True) if k)
        for key in columns:
            columns[key].extend(v for v, k in zip(seg.columns.get(key, []), keep, strict=False) if k)
        offset += int(keep.sum())
    terms, docs = np.concatenate(term_parts), np.concatenate(doc_parts)
    order = np.lexsort((docs, terms))
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=n_terms), out=indptr[1:])
    return Segment(
        name=_new_name(),
        ids=tuple(ids),
        indptr=indptr,
        docs=docs[order].astype(np.int32),
        tfs=np.concatenate(tf_parts)[order],
        lens=np.concatenate(lens).astype(np.int32),
        columns=columns,
        first_term=segments[0].first_term,
        terms=tuple(t for s in segments for t in s.terms),
    )


class KeywordIndex:
    """BM25 (Lucene variant, k1=1.5, b=0.75) over chunk texts, addressed by caller-given ids, in segments.

    An index is a value: ``add``/``delete``/``merged`` return a new index sharing the unchanged segments,
    so searches running on the old one in other threads are never disturbed. Adding documents appends a
    small segment; deleting marks tombstones. Document frequencies, the live document count and the mean
    length are kept for the whole index and applied to every segment at query time, so the scores equal a
    fresh build of the same documents (tested against bm25s, what this replaced). ``save`` writes only the
    segments a folder does not hold yet, so persisting a 100-article ingest into a 1M-chunk index writes
    kilobytes, and ``load`` reuses the segments an older loaded index already has.
    """

    def __init__(
        self,
        segments: Sequence[Segment] = (),
        dead: Sequence[np.ndarray] | None = None,
        *,
        _df: np.ndarray | None = None,
    ) -> None:
        self._segments = tuple(segments)
        self._dead = tuple(dead) if dead is not None else tuple(np.zeros(len(s), bool) for s in segments)
        self._vocab: dict[str, int] = {}
        for seg in self._segments:
            if seg.first_term != len(self._vocab):
                raise ValueError(
                    f"segment {seg.name} starts its terms at {seg.first_term}, not {len(self._vocab)}"
                )
            self._vocab.update((t, seg.first_term + i) for i, t in enumerate(seg.terms))
        sizes = [len(s) for s in self._segments]
        self._offsets = np.cumsum([0, *sizes]).astype(np.int64)
        self._n_live = sum(len(s) - int(d.sum()) for s, d in zip(self._segments, self._dead, strict=True))
        total = sum(int(s.lens[~d].sum()) for s, d in zip(self._segments, self._dead, strict=True))
        self._avgdl = total / self._n_live if self._n_live else 1.0
        self._df = _df if _df is not None else self._count_df()
        self._norms: dict[int, np.ndarray] = {}
        self._positions: dict[str, int] | None = None
        self._lock = threading.Lock()

    def _count_df(self) -> np.ndarray:
        """Live documents per term, over all segments (the dead ones' postings subtracted)."""
        df = np.zeros(len(self._vocab), dtype=np.int64)
        for seg, gone in zip(self._segments, self._dead, strict=True):
            df[: len(seg.indptr) - 1] += np.diff(seg.indptr)
            if gone.any():
                df -= _dead_df(seg, gone, len(df))
        return df

    # --- building --------------------------------------------------------------------------------
    @classmethod
    def build(
        cls, ids: Sequence[str], texts: Sequence[str], columns: dict[str, list[Any]] | None = None
    ) -> KeywordIndex:
        """Index ``texts[i]`` under ``ids[i]`` as one segment; ids must be unique."""
        return cls().add(ids, texts, columns)

    def add(
        self, ids: Sequence[str], texts: Sequence[str], columns: dict[str, list[Any]] | None = None
    ) -> KeywordIndex:
        """A new index with these documents appended as one segment; ids already present are replaced."""
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        if len(set(ids)) != len(ids):
            raise ValueError("chunk ids must be unique")
        columns = columns or {}
        if any(len(v) != len(ids) for v in columns.values()):
            raise ValueError("every column needs one value per id")
        base = self.delete([i for i in ids if i in self._position_map()]) if self._segments else self
        if not ids:
            return base
        vocab = dict(base._vocab)
        seg = _make_segment(ids, [analyse_indonesian(t) for t in texts], columns, vocab)
        df = np.zeros(len(vocab), dtype=np.int64)
        df[: len(base._df)] = base._df
        df += np.diff(seg.indptr)
        index = KeywordIndex((*base._segments, seg), (*base._dead, np.zeros(len(seg), bool)), _df=df)
        if base._positions is not None:  # carried over: rebuilding it costs ~0.5 s at 1M chunks
            positions = dict(base._positions)
            start = int(index._offsets[-2])
            positions.update((cid, start + i) for i, cid in enumerate(ids))
            index._positions = positions
        return index

    def delete(self, ids: Sequence[str]) -> KeywordIndex:
        """A new index without these ids (tombstones; unknown ids are ignored)."""
        positions = self._position_map()
        found = sorted({positions[i] for i in ids if i in positions})
        if not found:
            return self
        dead = list(self._dead)
        df = self._df.copy()
        hits = np.asarray(found, dtype=np.int64)
        segs = np.searchsorted(self._offsets, hits, side="right") - 1
        for s in np.unique(segs):
            gone = np.zeros(len(self._segments[s]), bool)
            gone[hits[segs == s] - self._offsets[s]] = True
            gone &= ~dead[s]
            df -= _dead_df(self._segments[s], gone, len(df))
            dead[s] = dead[s] | gone
        index = KeywordIndex(self._segments, dead, _df=df)
        remaining = dict(positions)
        for cid in ids:
            remaining.pop(cid, None)
        index._positions = remaining
        return index

    def merged(self, max_segments: int = 8) -> KeywordIndex:
        """Merge the small tail segments into one when there are more than ``max_segments``: a tiered merge
        (Lucene-style) keeps query cost flat over many small ingests without touching the big segment.
        Segments less than a tenth of the biggest are merged; the result scores exactly the same."""
        if len(self._segments) <= max_segments:
            return self
        biggest = max(len(s) for s in self._segments)
        start = len(self._segments)
        while start > 0 and len(self._segments[start - 1]) * 10 < biggest:
            start -= 1
        # merge at least two, and enough that at most max_segments remain
        start = max(0, min(start, max_segments - 1, len(self._segments) - 2))
        seg = _merge(self._segments[start:], self._dead[start:], len(self._vocab))
        return KeywordIndex((*self._segments[:start], seg), (*self._dead[:start], np.zeros(len(seg), bool)))

    # --- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n_live

    @property
    def ids(self) -> tuple[str, ...]:
        """Live ids in index order (segment order, then insertion order)."""
        return tuple(
            cid
            for seg, gone in zip(self._segments, self._dead, strict=True)
            for cid, g in zip(seg.ids, gone, strict=True)
            if not g
        )

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self._segments

    def _position_map(self) -> dict[str, int]:
        """Chunk id -> global position of its live copy, built once per index on first need."""
        if self._positions is None:
            with self._lock:
                if self._positions is None:
                    positions: dict[str, int] = {}
                    for start, seg, gone in zip(self._offsets, self._segments, self._dead, strict=False):
                        positions.update(
                            (cid, int(start) + i) for i, cid in enumerate(seg.ids) if not gone[i]
                        )
                    self._positions = positions
        return self._positions

    def value(self, cid: str, column: str, default: Any = None) -> Any:
        """The ``column`` value stored with a live chunk (``default`` when absent)."""
        pos = self._position_map().get(cid)
        if pos is None:
            return default
        s = int(np.searchsorted(self._offsets, pos, side="right")) - 1
        values = self._segments[s].columns.get(column)
        return values[pos - int(self._offsets[s])] if values is not None else default

    def _norm(self, s: int) -> np.ndarray:
        """k1 * (1 - b + b * len / avgdl) per document of segment ``s``, with this index's global avgdl."""
        norm = self._norms.get(s)
        if norm is None:
            lens = self._segments[s].lens
            norm = self._norms[s] = (K1 * (1 - B + B * lens / self._avgdl)).astype(np.float32)
        return norm

    def search(self, query: str, k: int, language: Language | None = None) -> list[tuple[str, float]]:
        """Best ``k`` chunks as (id, raw BM25 score), best first (ties in index order), only those sharing a
        term with the query.

        ``language`` is detected from the query when not given; it only decides whether English stems are
        added to the query terms. A repeated query term counts each time, as in bm25s.
        """
        if not self._n_live or k <= 0 or not query.strip():
            return []
        terms = analyse_query(query, language or detect_language(query))
        term_ids = np.asarray([self._vocab[t] for t in terms if t in self._vocab], dtype=np.int64)
        if not len(term_ids):
            return []
        df = self._df[term_ids].astype(np.float64)
        idf = np.log(1 + (self._n_live - df + 0.5) / (df + 0.5))
        scores, positions = [], []
        for s in range(len(self._segments)):
            seg_scores = self._segment_scores(s, term_ids, idf)
            if seg_scores is None:
                continue
            hits = np.flatnonzero(seg_scores > 0)
            if len(hits) > k:  # keep every tie of the k-th score: ties are then ordered by position
                kth = np.partition(seg_scores[hits], len(hits) - k)[len(hits) - k]
                hits = hits[seg_scores[hits] >= kth]
            scores.append(seg_scores[hits])
            positions.append(hits + self._offsets[s])
        if not scores:
            return []
        all_scores, all_pos = np.concatenate(scores), np.concatenate(positions)
        order = np.lexsort((all_pos, -all_scores))[:k]
        return [(self._id_at(int(all_pos[i])), float(all_scores[i])) for i in order]

    def _segment_scores(self, s: int, term_ids: np.ndarray, idf: np.ndarray) -> np.ndarray | None:
        """BM25 of every document of segment ``s`` (0 for dead ones), or None when no term occurs in it."""
        seg, norm = self._segments[s], self._norm(s)
        limit = len(seg.indptr) - 1
        docs, weights = [], []
        for t, w in zip(term_ids.tolist(), idf.tolist(), strict=True):
            if t >= limit:
                continue
            lo, hi = int(seg.indptr[t]), int(seg.indptr[t + 1])
            if lo == hi:
                continue
            d = seg.docs[lo:hi]
            tf = seg.tfs[lo:hi].astype(np.float32)
            docs.append(d)
            weights.append(w * (tf / (tf + norm[d])))
        if not docs:
            return None
        out = np.bincount(np.concatenate(docs), weights=np.concatenate(weights), minlength=len(seg))
        gone = self._dead[s]
        if gone.any():
            out[gone] = 0.0
        return out

    def _id_at(self, pos: int) -> str:
        s = int(np.searchsorted(self._offsets, pos, side="right")) - 1
        return self._segments[s].ids[pos - int(self._offsets[s])]

    # --- persistence -----------------------------------------------------------------------------
    def save(self, folder: Path, extra: dict[str, Any] | None = None) -> None:
        """Write the segments ``folder`` lacks, the tombstones, the stem cache, then the manifest (renamed
        into place last, so a reader sees the old index or the new one, never a half).

        Segments no manifest names any more (merged away) are removed, except those of the previous
        manifest, which a reader may be loading right now. ``extra`` is stored in the manifest (the store
        revision the index is for).
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for seg in self._segments:
            target = folder / f"seg-{seg.name}"
            if not (target / "segment.json").exists():
                tmp = folder / f"tmp-{seg.name}"
                shutil.rmtree(tmp, ignore_errors=True)
                seg.save(tmp)
                tmp.rename(target)
        dead = {}
        for seg, gone in zip(self._segments, self._dead, strict=True):
            if gone.any():
                positions = np.flatnonzero(gone).astype(np.int32)
                name = f"dead-{seg.name}-{len(positions)}.npy"
                if not (folder / name).exists():
                    np.save(folder / f"tmp-{name}", positions)
                    (folder / f"tmp-{name}").rename(folder / name)
                dead[seg.name] = name
        (folder / _STEMS_FILE).write_text(json.dumps(dict(_stems), ensure_ascii=False), encoding="utf-8")
        manifest = {
            "format": _FORMAT,
            "analyser": ANALYSER_VERSION,
            "segments": [s.name for s in self._segments],
            "dead": dead,
            "count": self._n_live,
            **(extra or {}),
        }
        previous = _read_manifest(folder)
        tmp = folder / f"{_MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        tmp.rename(folder / _MANIFEST)
        _collect_garbage(folder, manifest, previous)

    @classmethod
    def load(cls, folder: Path, reuse: KeywordIndex | None = None) -> KeywordIndex:
        """Load an index written by ``save``; segments ``reuse`` already holds are taken from it, not read.

        Raises ``ValueError`` if it was built with another analyser or is not a segmented index.
        """
        folder = Path(folder)
        manifest = _read_manifest(folder)
        if manifest is None or manifest.get("format") != _FORMAT:
            raise ValueError(f"no segmented keyword index at {folder}; rebuild it")
        if manifest.get("analyser") != ANALYSER_VERSION:
            raise ValueError(
                f"keyword index at {folder} uses analyser {manifest.get('analyser')!r}, "
                f"expected {ANALYSER_VERSION!r}; rebuild it"
            )
        _load_stems(folder / _STEMS_FILE)
        known = {s.name: s for s in reuse.segments} if reuse is not None else {}
        segments, dead = [], []
        for name in manifest["segments"]:
            seg = known.get(name) or Segment.load(folder / f"seg-{name}", name)
            gone = np.zeros(len(seg), bool)
            if name in manifest["dead"]:
                gone[np.load(folder / manifest["dead"][name])] = True
            segments.append(seg)
            dead.append(gone)
        index = cls(segments, dead)
        if len(index) != manifest["count"]:
            raise ValueError(
                f"keyword index at {folder}: {len(index)} live documents, manifest says {manifest['count']}"
            )
        return index


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The saved index's manifest (with the ``extra`` given to ``save``), None when missing or unreadable."""
    return _read_manifest(Path(folder))


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _load_stems(path: Path) -> None:
    if not path.exists():
        return
    saved = json.loads(path.read_text(encoding="utf-8"))
    for token, stem in saved.items():
        if len(_stems) >= _MAX_CACHED_STEMS:
            break
        _stems.setdefault(token, stem)


def _dead_df(seg: Segment, gone: np.ndarray, n_terms: int) -> np.ndarray:
    """Per term, how many of the documents marked in ``gone`` contain it (their share of the df)."""
    postings = np.flatnonzero(gone[seg.docs])
    terms = np.searchsorted(seg.indptr, postings, side="right") - 1
    return np.bincount(terms, minlength=n_terms)[:n_terms]


def _collect_garbage(folder: Path, manifest: dict[str, Any], previous: dict[str, Any] | None) -> None:
    keep = set()
    for m in (manifest, previous or {}):
        keep.update(f"seg-{n}" for n in m.get("segments", []))
        keep.update(m.get("dead", {}).values())
    for path in folder.iterdir():
        if path.name.startswith(("seg-", "dead-", "tmp-")) and path.name not in keep:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
