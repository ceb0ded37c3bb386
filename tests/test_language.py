"""Language detection on the short questions users actually type, with the real py3langid model."""

from __future__ import annotations

import threading

import pytest

from qa import language
from qa.language import detect_language

SHORT_QUESTIONS: list[tuple[str, str]] = [
    ("Siapa Belousov?", "id"),
    ("Who is Belousov?", "en"),
    ("Kapan itu terjadi?", "id"),
    ("When?", "en"),
    ("Apa kabar", "id"),
    ("Kapan?", "id"),
    ("Di mana?", "id"),
    ("Where?", "en"),
    ("Why?", "en"),
    ("Mengapa?", "id"),
    ("Siapa dia?", "id"),
    ("Who is he?", "en"),
    ("Berapa korban?", "id"),
    ("How many victims?", "en"),
    ("Who is Jokowi?", "en"),
    ("Apa itu KPK?", "id"),
    ("What is KPK?", "en"),
    ("Bagaimana caranya?", "id"),
    ("How?", "en"),
    ("Siapa yang menang?", "id"),
    ("Who won?", "en"),
    ("Kim Jong Un dan Putin", "id"),
    ("Kim Jong Un and Putin", "en"),
    ("Berapa harga BBM?", "id"),
    ("What happened in Jakarta?", "en"),
    ("Apakah Jokowi hadir?", "id"),
    ("Did Jokowi attend?", "en"),
    ("Dimana Sri Mulyani?", "id"),
    ("Where is Sri Mulyani?", "en"),
    ("Tell me about Belousov", "en"),
    ("Ceritakan tentang Belousov", "id"),
    ("Belousov itu siapa?", "id"),
    ("siapa belousov", "id"),
    ("who is belousov", "en"),
    ("Negara mana?", "id"),
    ("Harga BBM naik", "id"),
    ("Fuel prices rise", "en"),
    # Indonesian questions about English titles: the detectors alone get these wrong.
    ("Kapan The Beatles bubar?", "id"),
    ("Apa itu Academy of Motion Picture Arts and Sciences?", "id"),
    ("Tahun berapakah KC and the Sunshine Band dibentuk?", "id"),
    ("In what year did Warsaw's first stock exchange open?", "en"),
]


@pytest.mark.parametrize(("question", "expected"), SHORT_QUESTIONS)
def test_short_questions(question: str, expected: str) -> None:
    assert detect_language(question) == expected


@pytest.mark.parametrize(
    "text", ["Belousov", "Joe Biden", "KPK", "Prabowo Subianto", "", "   ", "2024", "???"]
)
def test_strings_without_language_signal_default_to_indonesian(text: str) -> None:
    assert detect_language(text) == "id"


def test_longer_text() -> None:
    assert (
        detect_language("Menteri Pertahanan Rusia Andrei Belousov bertemu Kim Jong Un di Pyongyang.") == "id"
    )
    assert detect_language("Russia's defence minister Andrei Belousov met Kim Jong Un in Pyongyang.") == "en"


def test_identifier_loaded_once_under_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(language, "_identifier", None)
    seen: list[object] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        seen.append(language._get_identifier())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8
    assert all(obj is seen[0] for obj in seen)
    assert 0.0 <= language.english_probability("Belousov") <= 1.0
