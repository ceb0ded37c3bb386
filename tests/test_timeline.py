"""Time-aware answers end to end on the real sample store: a dated question, a date with no articles, and
timelines in both languages (extractive and with the real local model)."""

from __future__ import annotations

import re

import pytest

from qa.settings import Settings
from tests.conftest import make_settings

LIPUTAN6 = "000_b6d17de1e838a30c"
METRO = "002_e8bda2d6a24d6eac"
LINE = re.compile(r"^- (.+?): (.+) \[(\d+)\]$")


def test_a_dated_question_is_answered_from_the_article_of_that_date(sample_service):
    a = sample_service.answer("Apa yang terjadi di Pyongyang pada 29 November 2024?", backend="extractive")
    assert not a.refused
    assert a.citations and {c.doc_id for c in a.citations} == {LIPUTAN6}
    assert "Belousov" in a.text
    assert "29 November 2024" in a.notice and "6 Desember 2024" in a.notice


def test_a_date_no_article_covers_is_refused_with_the_reason(sample_service):
    a = sample_service.answer("What happened in Pyongyang on 29 May 2023?", backend="extractive")
    assert a.refused and not a.citations
    assert "29 May 2023" in a.notice


def test_in_a_store_of_undated_text_a_date_ranks_sentences_but_filters_nothing(sample_store_dir):
    from qa.pipeline import QAService

    # The sample store has 2 dated articles of 5; asking for half makes it an "undated" store (as Wikipedia
    # passages are): "in 2024" then qualifies the fact instead of limiting what is read or reordering it.
    undated = QAService(make_settings(sample_store_dir, dated_store_min_share=0.5))
    g = undated.gather("Kapan Putin dan Kim menandatangani perjanjian pada tahun 2024?")
    assert not g.where and g.scope is not None and not g.scope.filtered
    assert {p.doc_id for p in g.passages} - {LIPUTAN6, METRO}  # undated articles are read
    question = "Kapan Putin dan Kim menandatangani perjanjian pada tahun 2024?"
    a = undated.answer(question, backend="extractive")
    plain = QAService(make_settings(sample_store_dir, date_handling=False)).answer(
        question, backend="extractive"
    )
    assert (a.text, a.refused, a.notice) == (plain.text, plain.refused, plain.notice)  # as without dates
    assert [c.quote for c in a.related] == [c.quote for c in plain.related]


def test_relative_dates_say_what_they_counted_from(sample_store_dir):
    from qa.pipeline import QAService

    newest = QAService(make_settings(sample_store_dir, date_anchor="newest"))
    a = newest.answer("Apa yang terjadi kemarin di Pyongyang?", backend="extractive")
    assert "dihitung dari artikel terbaru, 30 November 2024" in a.notice
    assert "29 November 2024" in a.notice
    today = QAService(make_settings(sample_store_dir))  # default: today, long after the sample articles
    assert today.answer("What happened yesterday in Pyongyang?", backend="extractive").refused


def _events(answer) -> list[tuple[str, str, int]]:
    lines = answer.text.splitlines()[1:]
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), answer.text
    return [(m.group(1), m.group(2), int(m.group(3))) for m in parsed]


def _assert_russia_korea_timeline(a, months: tuple[str, str]) -> None:
    assert not a.refused, a.text
    events = _events(a)
    assert [n for _, _, n in events] == list(range(1, len(events) + 1))  # cited in date order
    assert [c.n for c in a.citations] == [n for _, _, n in events]
    days = [e["day"] for e in a.timeline]
    assert days == sorted(days)
    june = next(i for i, e in enumerate(a.timeline) if e["day"] == "2024-06")
    ratified = next(i for i, e in enumerate(a.timeline) if e["day"] == "2024-11-12")
    visit = next(i for i, c in enumerate(a.citations) if "Belousov" in c.quote and c.doc_id == LIPUTAN6)
    assert june < ratified < visit
    assert events[june][0] == months[0] and events[ratified][0] == months[1]
    assert a.citations[ratified].doc_id == METRO


def test_timeline_in_indonesian_and_english_extractive(sample_service):
    a = sample_service.answer("Bagaimana perkembangan hubungan Rusia dan Korea Utara?", backend="extractive")
    _assert_russia_korea_timeline(a, ("Juni 2024", "12 November 2024"))
    assert a.text.startswith("Urutan peristiwa")
    en = sample_service.answer(
        "How did relations between Russia and North Korea develop?", backend="extractive"
    )
    _assert_russia_korea_timeline(en, ("June 2024", "12 November 2024"))
    assert en.to_dict()["timeline"] == en.timeline


def test_a_question_with_one_answer_is_not_a_timeline(sample_service):
    a = sample_service.answer(
        "Kapan Korea Utara meratifikasi pakta pertahanan dengan Rusia?", backend="extractive"
    )
    assert not a.timeline and not a.refused


@pytest.mark.llm
def test_timeline_with_the_real_local_model(sample_store_dir):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (llm extra) is not installed")
    from qa.pipeline import QAService

    service = QAService(make_settings(sample_store_dir, llm_timeout_s=300))
    a = service.answer("How did relations between Russia and North Korea develop?", backend="llamacpp")
    _assert_russia_korea_timeline(a, ("June 2024", "12 November 2024"))
    worded = [body for _, body, _ in _events(a) if not body.startswith("«")]
    assert worded, a.text  # the model words at least one event in English; every line passed the check
    assert isinstance(service.settings, Settings)


@pytest.mark.parametrize(
    ("question", "timeline"),
    [
        ("Bagaimana perkembangan hubungan Rusia dan Korea Utara?", True),
        ("Kronologi kunjungan Menteri Pertahanan Rusia ke Korea Utara", True),
        ("How did Ahok's trial unfold between April and May 2017?", True),
        ("What happened in the Setya Novanto case this week?", True),
        ("How many medals did the contingent win at the 2016 TAFISA Games?", False),
        ("Kapan Bryozoa berkembang biak?", False),
        ("What happened in Pyongyang on 29 November 2024?", False),  # one day: one answer
    ],
)
def test_which_questions_ask_for_a_timeline(question, timeline):
    from datetime import date

    from qa.dates import question_scope
    from qa.timeline import is_timeline_question

    assert is_timeline_question(question, question_scope(question, date(2024, 12, 1))) is timeline
