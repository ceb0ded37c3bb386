"""Names, numbers and dates of a claim checked against its source across languages and notations."""

from __future__ import annotations

import pytest

from qa.facts import facts, parse_number, unsupported_facts

SOURCE = (
    "Korea Utara meratifikasi pakta pertahanan dengan Rusia pada 12 November 2024, "
    "dan mengirim sekitar 10.000 tentara senilai Rp 2,5 triliun."
)


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("10.000", 10000.0),
        ("10,000", 10000.0),
        ("1.250.000", 1250000.0),
        ("2,5", 2.5),
        ("2.5", 2.5),
        ("2024", 2024.0),
    ],
)
def test_numbers_are_read_in_either_notation(token: str, value: float) -> None:
    assert parse_number(token) == value


@pytest.mark.parametrize(
    "claim",
    [
        "North Korea ratified the pact with Russia on November 12, 2024.",
        "Korea Utara meratifikasinya pada 12 Nov 2024.",
        "About 10,000 soldiers were sent, worth 2.5 trillion rupiah.",
        "Sekitar sepuluh ribu tentara dikirim.",
    ],
)
def test_a_claim_restating_the_source_in_other_words_is_supported(claim: str) -> None:
    assert unsupported_facts(claim, SOURCE) == []


@pytest.mark.parametrize(
    ("claim", "missing"),
    [
        ("Kim Jong Un ratified the pact with Russia.", "jong"),  # a person the source does not name
        ("It was ratified on November 13, 2024.", "13"),  # another day
        ("It was ratified on 12 December 2024.", "month 12"),  # another month
        ("About 12,000 soldiers were sent.", "12000"),  # another count
        ("Korea Utara meratifikasi pakta dengan Belarus.", "belarus"),
    ],
)
def test_a_changed_name_number_or_date_is_reported(claim: str, missing: str) -> None:
    assert missing in unsupported_facts(claim, SOURCE)


def test_names_the_question_gave_need_not_be_in_the_source() -> None:
    claim = "Belousov replaced Sergei Shoigu."
    source = "Ia menggantikan Sergei Shoigu sebagai menteri pertahanan."
    assert unsupported_facts(claim, source) == ["belousov"]
    assert unsupported_facts(claim, source, context="Who did Belousov replace?") == []


def test_sentence_initial_and_common_capitalised_words_are_not_names() -> None:
    f = facts("Presiden Kementerian Pertahanan mengatakan pada Senin bahwa Andrei Belousov datang.")
    assert f.names == frozenset({"andrei", "belousov"})


def test_english_country_names_match_their_indonesian_names() -> None:
    source = "Jepang dan Jerman mengirim bantuan ke Mesir."
    assert unsupported_facts("Japan and Germany sent aid to Egypt.", source) == []
    assert unsupported_facts("France sent aid to Egypt.", source) == ["france"]


def test_a_full_name_is_supported_by_the_name_the_source_uses() -> None:
    source = "Belousov, mantan ekonom, menggantikan Sergei Shoigu sebagai menteri pertahanan."
    assert unsupported_facts("Sergei Shoigu was replaced by Andrei Belousov.", source) == []
    assert "jong" in unsupported_facts("Kim Jong Un replaced Sergei Shoigu.", source)


def test_a_compass_word_tells_two_places_apart():
    source = "Menteri Pertahanan Rusia Andrei Belousov bertemu dengan pemimpin Korea Utara Kim Jong Un."
    claim = "Belousov agreed to strengthen military cooperation between North and South Korea."
    assert unsupported_facts(claim, source) == ["South Korea"]
    assert unsupported_facts("Belousov met North Korean leader Kim Jong Un.", source) == []
    assert unsupported_facts("Belousov bertemu pemimpin Korea Selatan.", source) == ["Korea Selatan"]
