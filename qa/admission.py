"""Admission control for generation: answer at once with verified quotes when the model is busy.

Why: a local model answers one question at a time. With 20 users each answer queued behind the others
(median wait 153 s, docs/benchmarks.md), while the evidence, retrieved in well under a second, already held a
checkable answer. So before generating, the pipeline asks the backend how long the question would wait
(``QueueAware.queue_wait_s``); above ``Settings.llm_queue_budget_s`` it answers with the extractive backend,
in the question's language, with a notice, and the user can ask to queue for the model explicitly
(``wait_for_model``). Evidence is never queued behind generation: retrieval does not touch the model.

``model_wait`` is the one decision; ``LatencyMeter`` is how a remote backend (whose queue is on its server)
predicts its wait: the time its recent answers took to start.

The local model also shares the CPU with evidence: while it generates on every core, other questions'
retrieval and cross-encoder wait for cores too (and llama.cpp's threads spin while they wait for each
other). ``model_threads`` is the one decision of how many threads it may use at a moment: all of them while
nobody is gathering evidence, fewer while someone is (``evidence_work`` marks that time). Likewise
``rerank_depth``: how many sentences the evidence cross-encoder reads, fewer while several questions are
gathering evidence at once (the cross-encoder is most of a quoted answer's CPU).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from qa.backends.base import QueueAware
from qa.settings import Settings

# A remote server's measured delay is trusted this long; after that one question goes through to measure
# again (otherwise a server that was slow once would never be asked again).
STALE_AFTER_S = 60.0
_WEIGHT = 0.3


def model_wait(engine: object, settings: Settings, wait_for_model: bool) -> float | None:
    """The predicted wait (seconds) when it is over the budget, so the question should be answered from
    quotes now; None when the model should answer (not busy, no measurement, the user chose to wait, or
    admission control is off with a budget of 0)."""
    if wait_for_model or settings.llm_queue_budget_s <= 0 or not isinstance(engine, QueueAware):
        return None
    wait = engine.queue_wait_s()
    return wait if wait is not None and wait > settings.llm_queue_budget_s else None


class LatencyMeter:
    """Moving average of how long a backend's answers take to start, and how many are in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.first_s: float | None = None
        self.measured_at = 0.0
        self.in_flight = 0

    def start(self) -> float:
        with self._lock:
            self.in_flight += 1
        return time.monotonic()

    def first_piece(self, started: float) -> None:
        with self._lock:
            took = time.monotonic() - started
            self.first_s = took if self.first_s is None else (1 - _WEIGHT) * self.first_s + _WEIGHT * took
            self.measured_at = time.monotonic()

    def done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def predicted_wait_s(self) -> float | None:
        """The recent time to a first piece, while it is recent; None without a fresh measurement."""
        with self._lock:
            if self.first_s is None or time.monotonic() - self.measured_at > STALE_AFTER_S:
                return None
            return self.first_s


_evidence = {"running": 0}
_evidence_lock = threading.Lock()


@contextmanager
def evidence_work() -> Iterator[None]:
    """Mark a question's evidence step as running (read by ``model_threads`` and ``rerank_depth``)."""
    with _evidence_lock:
        _evidence["running"] += 1
    try:
        yield
    finally:
        with _evidence_lock:
            _evidence["running"] -= 1


def model_threads(settings: Settings) -> int:
    """Threads the local model may use now: ``llamacpp_threads`` when no question is gathering evidence,
    else ``llamacpp_threads_beside_evidence`` (0: never fewer). Read before the prompt and at every token."""
    fewer = settings.llamacpp_threads_beside_evidence
    if fewer and _evidence["running"] > 0:
        return min(fewer, settings.llamacpp_threads)
    return settings.llamacpp_threads


def rerank_depth(settings: Settings) -> int:
    """Sentences the evidence cross-encoder reads for a question now: ``evidence_rerank_k``, or
    ``evidence_rerank_k_under_load`` (0: never fewer) while another question gathers evidence beside this
    one (the counter includes this question when it runs inside ``evidence_work``)."""
    fewer = settings.evidence_rerank_k_under_load
    if fewer and _evidence["running"] > 1:
        return min(fewer, settings.evidence_rerank_k)
    return settings.evidence_rerank_k
