"""Admission control (qa/admission.py): the one decision, and a remote backend's latency meter."""

from __future__ import annotations

import pytest

from qa.admission import STALE_AFTER_S, LatencyMeter, model_wait
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
