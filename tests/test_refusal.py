"""The one refusal policy: its verdicts for each combination of signals."""

from __future__ import annotations

from qa.refusal import Verdict, answers, cited_answers, decide, model_declined, notice
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


def test_a_date_range_that_leaves_nothing_is_named_as_the_reason() -> None:
    d = decide("en", S, 0.1, date_filtered=True)
    assert d.verdict == Verdict.REFUSE and d.reason == "date"
    assert "date range" in notice(d.reason, "en")


def test_every_refusal_reason_has_a_notice_in_both_languages() -> None:
    for reason in ("missing-names", "weak-evidence", "date", "model-no-answer", "unsupported"):
        for language in ("id", "en"):
            assert notice(reason, language, ["Erdogan"])
    assert "Erdogan" in notice("missing-names", "id", ["Erdogan"])


def test_a_reply_is_a_refusal_when_it_states_nothing_or_declines_uncited() -> None:
    assert model_declined("") and model_declined("NO_ANSWER") and model_declined("[2]")
    assert model_declined("The sources do not mention the minister.")
    assert model_declined("Artikel tidak menyebutkan nama menterinya.")
    assert not model_declined("The sources do not mention it, but Shin Wonsik did [1].")
    assert not model_declined("Shin Wonsik [1].")
    assert not model_declined("«Tidak ada korban» [1]", extractive=True)
