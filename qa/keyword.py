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
import threading
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.language import detect_language
from qa.types import Language

if TYPE_CHECKING:
    import bm25s

__all__ = [
    "ANALYSER_VERSION",
    "KeywordIndex",
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

_IDS_FILE = "ids.json"
_META_FILE = "keyword_meta.json"
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


class KeywordIndex:
    """BM25 (bm25s, Lucene variant, k1=1.5, b=0.75) over chunk texts, addressed by caller-given ids.

    Measured on 2 CPU cores with indosum-news cut into 150-word windows (5,402 chunks, 652k words): build
    5.5-6.6 s with a cold stem cache, 1.3-1.7 s warm (Snowball: 1.6 s), search ~0.4 ms for k=40. With the
    eval corpora added (16,208 chunks, 1.66M words): 18-24 s cold, ~7 s warm (Snowball: 3-8 s). Stems are
    cached per process and saved with the index, so a rebuild after ``load`` only stems new words.
    """

    def __init__(self, ids: Sequence[str], bm25: bm25s.BM25 | None) -> None:
        self._ids: tuple[str, ...] = tuple(ids)
        self._bm25 = bm25

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> KeywordIndex:
        """Index ``texts[i]`` under ``ids[i]``; ids must be unique."""
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        if len(set(ids)) != len(ids):
            raise ValueError("chunk ids must be unique")
        if not ids:
            return cls((), None)
        import bm25s

        bm25 = bm25s.BM25()
        bm25.index([analyse_indonesian(text) for text in texts], show_progress=False)
        return cls(ids, bm25)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> tuple[str, ...]:
        return self._ids

    def search(self, query: str, k: int, language: Language | None = None) -> list[tuple[str, float]]:
        """Best ``k`` chunks as (id, raw BM25 score), best first, only those sharing a term with the query.

        ``language`` is detected from the query when not given; it only decides whether English stems are
        added to the query terms.
        """
        if self._bm25 is None or k <= 0 or not query.strip():
            return []
        terms = analyse_query(query, language or detect_language(query))
        term_ids = self._bm25.get_tokens_ids(terms)
        if not term_ids:
            return []
        scores = np.asarray(self._bm25.get_scores_from_ids(term_ids))
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]  # score descending, then index order for stable ties
        return [(self._ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def save(self, folder: Path) -> None:
        """bm25s arrays + vocabulary, the ids, the analyser version and the stem cache, all in ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(folder, show_progress=False)
        (folder / _IDS_FILE).write_text(json.dumps(list(self._ids), ensure_ascii=False), encoding="utf-8")
        (folder / _STEMS_FILE).write_text(json.dumps(dict(_stems), ensure_ascii=False), encoding="utf-8")
        meta = {"analyser": ANALYSER_VERSION, "count": len(self._ids)}
        (folder / _META_FILE).write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        """Load an index written by ``save``; raises ``ValueError`` if it was built with another analyser."""
        folder = Path(folder)
        meta = json.loads((folder / _META_FILE).read_text(encoding="utf-8"))
        if meta.get("analyser") != ANALYSER_VERSION:
            raise ValueError(
                f"keyword index at {folder} uses analyser {meta.get('analyser')!r}, "
                f"expected {ANALYSER_VERSION!r}; rebuild it"
            )
        ids = json.loads((folder / _IDS_FILE).read_text(encoding="utf-8"))
        stems_path = folder / _STEMS_FILE
        if stems_path.exists():
            saved = json.loads(stems_path.read_text(encoding="utf-8"))
            for token, stem in saved.items():
                if len(_stems) >= _MAX_CACHED_STEMS:
                    break
                _stems.setdefault(token, stem)
        if not ids:
            return cls((), None)
        import bm25s

        bm25 = bm25s.BM25.load(folder, show_progress=False)
        if bm25.scores["num_docs"] != len(ids):
            raise ValueError(
                f"keyword index at {folder}: {len(ids)} ids for {bm25.scores['num_docs']} documents"
            )
        return cls(ids, bm25)
