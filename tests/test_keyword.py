"""BM25 keyword index with the real bm25s / Sastrawi / PyStemmer analysers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.keyword import KeywordIndex, analyse_indonesian, analyse_query, stem_indonesian

DOCS: dict[str, str] = {
    "art-ratify#0": "Parlemen Indonesia resmi meratifikasi perjanjian dagang dengan Uni Eropa pada Selasa.",
    "art-defence#0": "Kementerian Pertahanan membeli enam kapal selam baru untuk memperkuat pertahanan laut.",
    "art-league#3": "Persib bertahan di puncak klasemen setelah menang 2-0 atas Persija di Bandung.",
    "art-rice#1": "Harga beras naik tajam di pasar Jakarta menjelang Lebaran, kata pedagang.",
    "art-korea#0": "Menteri Pertahanan Rusia Andrei Belousov bertemu Kim Jong Un di Pyongyang.",
    "art-flood#2": "Banjir merendam ribuan rumah di Semarang setelah hujan deras semalaman.",
}


@pytest.fixture(scope="module")
def index() -> KeywordIndex:
    return KeywordIndex.build(list(DOCS), list(DOCS.values()))


def top_id(index: KeywordIndex, query: str) -> str | None:
    hits = index.search(query, 3)
    return hits[0][0] if hits else None


def test_stemmer_conflates_inflections() -> None:
    assert stem_indonesian("meratifikasi") == stem_indonesian("ratifikasi") == "ratifikasi"
    assert stem_indonesian("pertahanan") == stem_indonesian("bertahan") == "tahan"
    assert stem_indonesian("kementerian") == "menteri"
    assert stem_indonesian("belousov") == "belousov"
    assert stem_indonesian("2024") == "2024"


def test_inflected_query_finds_document(index: KeywordIndex) -> None:
    assert top_id(index, "Kapan Indonesia ratifikasi perjanjian dengan Uni Eropa?") == "art-ratify#0"
    assert top_id(index, "Siapa yang membeli kapal selam?") == "art-defence#0"
    assert top_id(index, "tim mana yang mempertahankan puncak klasemen") == "art-league#3"
    # "pertahanan" and "bertahan" share the stem "tahan": all three documents match, the defence ones best.
    ids = [i for i, _ in index.search("pertahanan", 10)]
    assert set(ids) == {"art-defence#0", "art-korea#0", "art-league#3"}


def test_names_and_numbers_match_from_english_question(index: KeywordIndex) -> None:
    assert top_id(index, "When did Belousov meet Kim Jong Un?") == "art-korea#0"
    assert top_id(index, "Why did rice prices in Jakarta rise?") == "art-rice#1"


def test_stopwords_alone_match_nothing(index: KeywordIndex) -> None:
    assert analyse_indonesian("yang dan di ke dari itu ini adalah") == []
    assert index.search("yang dan di ke dari itu ini adalah", 5) == []
    assert index.search("what is the", 5) == []


def test_empty_and_unknown_queries(index: KeywordIndex) -> None:
    assert index.search("", 5) == []
    assert index.search("   ", 5) == []
    assert index.search("?!", 5) == []
    assert index.search("zzzqqq", 5) == []
    assert index.search("banjir", 0) == []


def test_results_are_ids_sorted_positive_and_capped(index: KeywordIndex) -> None:
    hits = index.search("Menteri Pertahanan Belousov bertahan di Bandung", 2)
    assert len(hits) == 2
    assert all(doc_id in DOCS and isinstance(score, float) and score > 0 for doc_id, score in hits)
    assert hits[0][1] >= hits[1][1]
    assert hits[0][0] == "art-korea#0"
    assert len(index) == len(DOCS)
    assert index.ids == tuple(DOCS)


def test_english_query_gets_english_stems_only_when_english() -> None:
    assert analyse_query("prices", "id") == ["prices"]
    assert analyse_query("prices", "en") == ["prices", "price"]


def test_save_load_roundtrip(index: KeywordIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert len(loaded) == len(index)
    assert loaded.ids == index.ids
    for query in ["ratifikasi", "pertahanan", "Who is Belousov?", "harga beras Jakarta", "banjir Semarang"]:
        assert loaded.search(query, 6) == index.search(query, 6)


def test_load_rejects_other_analyser(index: KeywordIndex, tmp_path: Path) -> None:
    index.save(tmp_path)
    (tmp_path / "keyword_meta.json").write_text(json.dumps({"analyser": "old", "count": len(DOCS)}))
    with pytest.raises(ValueError, match="rebuild"):
        KeywordIndex.load(tmp_path)


def test_empty_index(tmp_path: Path) -> None:
    empty = KeywordIndex.build([], [])
    assert len(empty) == 0
    assert empty.search("banjir", 5) == []
    empty.save(tmp_path)
    assert KeywordIndex.load(tmp_path).search("banjir", 5) == []


def test_build_validates_ids() -> None:
    with pytest.raises(ValueError):
        KeywordIndex.build(["a"], ["satu", "dua"])
    with pytest.raises(ValueError):
        KeywordIndex.build(["a", "a"], ["satu", "dua"])


def test_document_without_terms_is_indexable() -> None:
    idx = KeywordIndex.build(["empty", "flood"], ["yang dan di", "Banjir di Semarang"])
    assert idx.search("banjir", 5)[0][0] == "flood"
    assert [i for i, _ in idx.search("banjir", 5)] == ["flood"]
