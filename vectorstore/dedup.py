"""Near-duplicate story detection (the same wire story published by two outlets).

MinHash over word 5-shingles estimates Jaccard similarity cheaply; an LSH index finds candidates without
comparing every pair. Signatures are persisted with each article record so that later ingests can match
against the whole store without re-reading it.
"""

from __future__ import annotations

import re

import numpy as np
from datasketch import MinHash, MinHashLSH

NUM_PERM = 64
SCHEME = "affine32"  # pinned: signatures are persisted, and decoding needs the scheme that made them
SHINGLE = 5
_WORD = re.compile(r"\w+", re.UNICODE)


def signature(text: str) -> MinHash:
    words = [w.lower() for w in _WORD.findall(text)]
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
    m = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    m.update_batch([s.encode("utf-8") for s in shingles])
    return m


def encode_signature(m: MinHash) -> str:
    return ",".join(str(int(v)) for v in m.hashvalues)


def decode_signature(value: str) -> MinHash | None:
    try:
        values = np.array([int(v) for v in value.split(",")], dtype=np.uint64)
    except ValueError:
        return None
    if len(values) != NUM_PERM:
        return None
    return MinHash(num_perm=NUM_PERM, hashvalues=values, scheme=SCHEME)


class StoryIndex:
    """Maps each article to a story id: the id of the first article seen that tells the same story."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._sigs: dict[str, MinHash] = {}
        self._story: dict[str, str] = {}

    def add(self, doc_id: str, sig: MinHash, story_id: str | None = None) -> str:
        """Register ``doc_id`` and return its story id (an existing story's when near-duplicate)."""
        if doc_id in self._sigs:
            self.remove(doc_id)
        if story_id is None:
            story_id = doc_id
            best = 0.0
            for other in self._lsh.query(sig):
                sim = sig.jaccard(self._sigs[other])
                if sim >= self.threshold and sim > best:
                    best, story_id = sim, self._story[other]
        self._lsh.insert(doc_id, sig)
        self._sigs[doc_id] = sig
        self._story[doc_id] = story_id
        return story_id

    def remove(self, doc_id: str) -> None:
        if doc_id in self._sigs:
            self._lsh.remove(doc_id)
            del self._sigs[doc_id]
            del self._story[doc_id]
