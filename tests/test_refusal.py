"""The one refusal policy: its verdicts for each combination of signals."""

from __future__ import annotations

from qa.refusal import Verdict, answers, cited_answers, decide
from qa.settings import Settings

S = Settings(refusal_threshold_id=0.3, refusal_threshold_en=0.2, quote_threshold=0.7, support_min_score=0.05)


def test_thresholds_are_per_question_language() -> None:
    assert answers(0.25, "en", S) and not answers(0.25, "id", S)


def test_names_the_articles_never_mention_refuse_whatever_the_score() -> None:
    d = decide("id", S, 0.99, missing_names=["Erdogan"])
    assert d.verdict == Verdict.REFUSE and d.reason == "missing-names"


def test_no_answering_sentence_refuses_before_generation() -> None:
    assert decide("id", S, 0.29).verdict == Verdict.REFUSE
    assert decide("id", S, None).reason == "weak-evidence"
    assert decide("id", S, 0.31).verdict == Verdict.ANSWER


def test_a_declining_model_is_overruled_only_by_a_confident_scorer() -> None:
    assert decide("en", S, 0.8, model_no_answer=True).verdict == Verdict.QUOTE
    assert decide("en", S, 0.5, model_no_answer=True).verdict == Verdict.REFUSE
    d = decide("en", S, 0.8, claims_left=False)
    assert d.verdict == Verdict.QUOTE and d.reason == "unsupported"


def test_a_cited_sentence_needs_less_than_a_best_sentence() -> None:
    assert cited_answers(0.06, S) and not answers(0.06, "en", S)
    assert not cited_answers(0.04, S)
