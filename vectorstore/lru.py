"""A thread-safe least-recently-used map whose missing values are computed in one batch.

Why: encoded vectors are remembered by text in two places (evidence sentences' passage vectors in
``qa.context``, the support check's symmetric vectors in ``vectorstore.embeddings``), and both need the same
steps: look every key up under a lock, encode only the distinct missing ones in one batch outside it (the
encoder is the slow part and has its own lock), remember them, and forget the least recently used beyond a
bound. The answer is assembled from what one call found and computed, so an eviction in between (another
thread's insert) cannot lose a key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most ``size`` values by key; ``size`` may be changed later (the next insert evicts down to it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[K], compute: Callable[[list[K]], Iterable[V]]) -> dict[K, V]:
        """The value of every key, calling ``compute`` once with the distinct keys not remembered (in first
        occurrence order; it returns their values in that order), or not at all when every key is known."""
        found: dict[K, V] = {}
        with self._lock:
            for key in keys:
                if key in self._items:
                    self._items.move_to_end(key)
                    found[key] = self._items[key]
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            values = list(compute(missing))
            with self._lock:
                for key, value in zip(missing, values, strict=True):
                    found[key] = self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return found

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
