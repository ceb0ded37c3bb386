"""Dates in questions (both languages, the forms Indonesian news uses) and in article sentences."""

from __future__ import annotations

from datetime import date

import pytest

from qa.dates import (
    Mention,
    anchor_day,
    day_number,
    format_range,
    mention_label,
    mentioned_days,
    question_scope,
    without_date,
)

ANCHOR = date(2024, 12, 1)  # a Sunday


@pytest.mark.parametrize(
    ("question", "since", "until", "relative"),
    [
        (
            "Apa yang terjadi di Pyongyang pada 29 November 2024?",
            date(2024, 11, 29),
            date(2024, 11, 29),
            False,
        ),
        ("What happened in Pyongyang on November 29?", date(2024, 11, 29), date(2024, 11, 29), False),
        ("Apa kata Kim Jumat (29/11)?", date(2024, 11, 29), date(2024, 11, 29), True),
        ("Apa yang terjadi tanggal 12/11/2024?", date(2024, 11, 12), date(2024, 11, 12), False),
        ("Siapa yang datang ke Pyongyang pada bulan Juni?", date(2024, 6, 1), date(2024, 6, 30), False),
        ("What happened in June 2017?", date(2017, 6, 1), date(2017, 6, 30), False),
        ("Apa yang terjadi tahun lalu?", date(2023, 1, 1), date(2023, 12, 31), True),
        ("What happened in 2023?", date(2023, 1, 1), date(2023, 12, 31), False),
        ("What has happened since June?", date(2024, 6, 1), None, False),
        ("Apa yang terjadi sebelum 12 November 2024?", None, date(2024, 11, 12), False),
        ("Berapa tentara yang dikirim pekan lalu?", date(2024, 11, 18), date(2024, 11, 24), True),
        ("What happened last week?", date(2024, 11, 18), date(2024, 11, 24), True),
        ("Apa yang terjadi kemarin?", date(2024, 11, 30), date(2024, 11, 30), True),
        ("What did he say 3 days ago?", date(2024, 11, 28), date(2024, 11, 28), True),
        ("Apa yang terjadi antara 1 dan 10 Mei 2017?", date(2017, 5, 1), date(2017, 5, 10), False),
        (
            "Bagaimana Pansus KPK sejak Juni 2017 hingga Februari 2018?",
            date(2017, 6, 1),
            date(2018, 2, 28),
            False,
        ),
        (
            "How did the crisis develop from September to December 2017?",
            date(2017, 9, 1),
            date(2017, 12, 31),
            False,
        ),
        ("Who won last weekend's race?", date(2024, 11, 23), date(2024, 11, 30), True),
    ],
)
def test_question_dates_in_both_languages(question, since, until, relative):
    scope = question_scope(question, ANCHOR)
    assert scope is not None
    assert (scope.since, scope.until, scope.relative) == (since, until, relative)


@pytest.mark.parametrize(
    "question",
    [
        "Siapa Menteri Pertahanan Rusia?",
        "Mengapa Korea Utara mengirim 10.000 tentara ke Rusia?",
        "Who did Belousov replace?",
        "Bagaimana perkembangan hubungan Rusia dan Korea Utara?",
    ],
)
def test_questions_without_a_date_have_no_scope(question):
    assert question_scope(question, ANCHOR) is None


@pytest.mark.parametrize(
    "question",
    [
        "In what year was there a drought that may have been more extreme?",  # the modal "may"
        "Who was a French pro-reform Roman Catholic of the 15th century?",  # an ordinal, no month
        "How many people were lost in Algiers during 1620-21?",  # a span of years, not a day
        "Tentang apakah kasus Case 26/62?",  # a case number, no month 62
    ],
)
def test_words_that_look_like_dates_are_not(question):
    assert question_scope(question, ANCHOR) is None


def test_a_day_question_reads_articles_published_up_to_a_week_after():
    scope = question_scope("Apa yang terjadi pada 29 November 2024?", ANCHOR)
    assert scope.publication_window() == (date(2024, 11, 29), date(2024, 12, 6))
    assert format_range(*scope.publication_window(), "id", between=True) == (
        "antara 29 November 2024 dan 6 Desember 2024"
    )
    assert without_date("Apa yang terjadi di Pyongyang pada 29 November 2024?", scope) == (
        "Apa yang terjadi di Pyongyang?"
    )


def test_sentence_dates_resolve_against_the_article_date():
    published = date(2024, 11, 30)  # a Saturday
    assert mentioned_days(
        "Kim Jong Un, yang bertemu Belousov pada hari Jumat (29/11), mengkritik.", published
    ) == (Mention(date(2024, 11, 29), date(2024, 11, 29)),)
    june = mentioned_days("Putin dan Kim menandatangani perjanjian pada bulan Juni.", published)
    assert [m.iso() for m in june] == ["2024-06"]
    assert mention_label(june[0], "en") == "June 2024"
    # A day in December written in a January article is last year's.
    assert mentioned_days("pada 30 Desember lalu", date(2025, 1, 3))[0].first == date(2024, 12, 30)
    # Detokenised datelines space the slashes.
    assert [m.iso() for m in mentioned_days("hari ini, Rabu (15 / 11).", date(2017, 11, 16))] == [
        "2017-11-15"
    ]
    # A score or a fraction is not a date, and an undated article gets no guessed year.
    assert mentioned_days("Skor 2/3 dan 10.000 tentara", published) == ()
    assert mentioned_days("pada hari Jumat (29/11)", None) == ()
    assert [m.iso() for m in mentioned_days("pada 19 Juni 2024", None)] == ["2024-06-19"]


def test_one_day_number_for_store_and_keyword_filters():
    assert day_number("2024-11-30") == day_number(date(2024, 11, 30)) == 20241130
    assert day_number("2024-11-30T10:00:00+07:00") == 20241130
    assert day_number("") == day_number(None) == day_number("2024-02-30") == day_number("n/a") == 0


def test_relative_anchor_setting():
    newest = date(2024, 11, 30)
    assert anchor_day("today", newest, ANCHOR) == (ANCHOR, "today")
    assert anchor_day("newest", newest, ANCHOR) == (newest, "newest")
    assert anchor_day("2017-05-20", newest, ANCHOR) == (date(2017, 5, 20), "given")


def test_chunks_carry_publication_day_and_the_days_they_mention(sample_service):
    chunks = {cid: meta for cid, _, meta in sample_service.store.iter_chunks()}
    liputan6 = [m for m in chunks.values() if m["doc_id"] == "000_b6d17de1e838a30c"]
    assert {m["published_day"] for m in liputan6} == {20241130}
    assert any("2024-11-29" in m["dates"].split() for m in liputan6)
    assert any("2024-06" in m["dates"].split() for m in liputan6)
    undated = [m for m in chunks.values() if m["doc_id"] == "004_61873db0656fb277"]
    assert all(m["published_day"] == 0 for m in undated)  # no date guessed, not even the ingest day
