"""Name grounding: an Indonesian question naming something the retrieved articles never mention is refused."""

from __future__ import annotations

from qa.grounding import missing_names, question_names

TEXT = (
    "Liputan6.com, Jakarta - Sejak kemenangan Donald Trump dalam Pilpres AS awal bulan ini, pemerintahan "
    "Joe Biden semakin memperkuat dukungannya. Perserikatan Bangsa-Bangsa mencatat 1.500 korban di Jermannya."
)


def test_question_names_are_names_acronyms_and_numbers_not_common_words() -> None:
    names = question_names("Siapa penasihat keamanan Presiden Yoon Suk Yeol di AS pada 2024 dan tvOrang?")
    assert names == [("Yoon", "Suk", "Yeol"), ("AS",), ("2024",), ("tvOrang",)]
    assert question_names("Kapan PBB berdiri?") == [("PBB",)]
    assert question_names("Siapa presiden pertama?") == []  # the first word and common words are not names


def test_names_found_directly_with_a_suffix_or_as_an_acronym_either_way() -> None:
    assert (
        missing_names("Siapa yang menang pemilihan presiden Amerika Serikat menurut Liputan6?", [TEXT]) == []
    )
    assert missing_names("Kapan Pilpres AS digelar?", [TEXT]) == []
    assert missing_names("Berapa korban yang dicatat PBB di Jerman?", [TEXT]) == []
    assert missing_names("Berapa korban tercatat, 1500?", [TEXT]) == []  # thousands separators ignored
    assert missing_names("Apa kata Biden?", [TEXT]) == []


def test_a_shortened_name_in_the_text_still_grounds_the_full_name() -> None:
    assert missing_names("Apa yang dilakukan Joseph Robinette Biden?", [TEXT]) == []


def test_names_the_text_never_mentions_are_reported() -> None:
    assert missing_names("Kapan Trump bertemu Erdogan di Ankara?", [TEXT]) == ["Erdogan", "Ankara"]
    assert missing_names("Berapa korban di Jerman pada 2021?", [TEXT]) == ["2021"]
    assert missing_names("Kapan tvOrang mulai beroperasi?", ["TVRI mulai beroperasi pada 1962."]) == [
        "tvOrang"
    ]


def test_pipeline_refuses_an_indonesian_question_about_an_unmentioned_name(sample_service) -> None:
    a = sample_service.answer("Kapan Belousov bertemu Erdogan di Ankara?")
    assert a.refused and a.language == "id" and not a.citations
    assert "Erdogan" in a.notice and "Ankara" in a.notice
    assert a.related  # the closest passages are still offered, as related rather than cited


def test_pipeline_answers_when_the_names_are_there_as_acronyms(sample_service) -> None:
    a = sample_service.answer("Kapan Korut meratifikasi pakta pertahanan dengan Rusia?")
    assert not a.refused and "November" in a.text
