"""Admission control (qa/admission.py): the one decision, and a remote backend's latency meter."""

from __future__ import annotations

import pytest

from qa.admission import (
    STALE_AFTER_S,
    LatencyMeter,
    evidence_work,
    model_threads,
    model_wait,
    rerank_depth,
)
from qa.backends.extractive import ExtractiveBackend
from qa.backends.openai import OpenAIBackend
from qa.settings import Settings


def test_latency_meter_predicts_from_recent_answers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("qa.admission.time.monotonic", lambda: clock[0])
    meter = LatencyMeter()
    assert meter.predicted_wait_s() is None  # nothing measured: the model is asked
    started = meter.start()
    clock[0] += 20.0
    meter.first_piece(started)
    meter.done()
    assert meter.predicted_wait_s() == pytest.approx(20.0) and meter.in_flight == 0
    clock[0] += STALE_AFTER_S + 1  # an old measurement lets one question through to measure again
    assert meter.predicted_wait_s() is None


def test_model_wait_is_the_one_decision() -> None:
    settings = Settings(llm_queue_budget_s=10, openai_base_url="http://127.0.0.1:9/v1")
    slow = OpenAIBackend(settings)
    started = slow.latency.start()
    slow.latency.first_s, slow.latency.measured_at = 25.0, started  # as measured on a slow server
    assert model_wait(slow, settings, wait_for_model=False) == 25.0
    assert model_wait(slow, settings, wait_for_model=True) is None  # the user chose to wait
    assert model_wait(slow, settings.model_copy(update={"llm_queue_budget_s": 0}), False) is None  # off
    assert model_wait(slow, settings.model_copy(update={"llm_queue_budget_s": 30}), False) is None
    assert model_wait(ExtractiveBackend(), settings, False) is None  # quotes never queue


def test_model_threads_is_the_one_decision_of_the_models_cpu_share() -> None:
    settings = Settings(llamacpp_threads=4, llamacpp_threads_beside_evidence=1)
    assert model_threads(settings) == 4  # alone: every thread it has
    with evidence_work(), evidence_work():
        assert model_threads(settings) == 1  # someone is gathering evidence: yield cores
        off = settings.model_copy(update={"llamacpp_threads_beside_evidence": 0})
        assert model_threads(off) == 4
        assert model_threads(settings.model_copy(update={"llamacpp_threads": 1})) == 1
    assert model_threads(settings) == 4  # both left, even nested
    with pytest.raises(RuntimeError), evidence_work():
        raise RuntimeError("a failed retrieval still ends its evidence work")
    assert model_threads(settings) == 4


def test_the_cross_encoder_reads_fewer_sentences_only_while_questions_gather_evidence_together() -> None:
    settings = Settings(evidence_rerank_k=6, evidence_rerank_k_under_load=4)
    assert rerank_depth(settings) == 6  # called outside the answer flow (evaluation): full depth
    with evidence_work():
        assert rerank_depth(settings) == 6  # this question alone
        with evidence_work():
            assert rerank_depth(settings) == 4  # another one beside it
            assert rerank_depth(settings.model_copy(update={"evidence_rerank_k_under_load": 0})) == 6
            assert rerank_depth(settings.model_copy(update={"evidence_rerank_k": 3})) == 3
    assert rerank_depth(settings) == 6
