"""BM25 keyword index with the real bm25s / Sastrawi / PyStemmer analysers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "analyser": "old"}))
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


# --- segments: incremental adds, tombstones, merges, against bm25s and a fresh build --------------------

INDOSUM = Path(__file__).resolve().parent.parent / "data" / "indosum-news" / "articles.jsonl"
QUERIES = [
    "Kapan Presiden Jokowi meresmikan jalan tol?",
    "harga beras naik di pasar",
    "Who won the match against Persija?",
    "banjir Jakarta ribuan rumah terendam",
    "pemerintah dan DPR membahas anggaran",
    "polisi menangkap tersangka narkoba",
    "gempa bumi",
    "Timnas Indonesia Piala AFF",
]


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str]]:
    """~1,200 real paragraphs of indosum news, as (id, text)."""
    out: list[tuple[str, str]] = []
    with INDOSUM.open(encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            paras = [p for p in str(article.get("text", "")).split("\n") if p.strip()]
            out.extend((f"{article['id']}#{i}", p) for i, p in enumerate(paras))
            if len(out) >= 1200:
                break
    return out[:1200]


def assert_same_ranking(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    """Same scores rank by rank (float tolerance) and the same ids, except where tied scores swap them."""
    assert len(got) == len(want)
    assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-5, atol=1e-6)
    want_scores = dict(want)
    for (gid, gscore), (wid, _) in zip(got, want, strict=True):
        if gid != wid:  # only a tie may reorder: the id must be in the other list with an equal score
            assert gid in want_scores or np.isclose(gscore, want[-1][1], rtol=1e-5), (gid, wid)
            if gid in want_scores:
                assert np.isclose(gscore, want_scores[gid], rtol=1e-5)


def bm25s_search(
    ids: list[str], texts: list[str], query: str, k: int, language: str
) -> list[tuple[str, float]]:
    """What KeywordIndex.search returned before segments: bm25s (Lucene) over the same analysis."""
    import bm25s

    ref = bm25s.BM25()
    ref.index([analyse_indonesian(t) for t in texts], show_progress=False)
    term_ids = ref.get_tokens_ids(analyse_query(query, language))  # type: ignore[arg-type]
    if not term_ids:
        return []
    scores = np.asarray(ref.get_scores_from_ids(term_ids))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((top, -scores[top]))]
    return [(ids[i], float(scores[i])) for i in top if scores[i] > 0]


def test_scores_equal_bm25s_on_an_index_built_in_one_go(corpus: list[tuple[str, str]]) -> None:
    ids, texts = [i for i, _ in corpus], [t for _, t in corpus]
    index = KeywordIndex.build(ids, texts)
    for query in QUERIES:
        language = "en" if query.startswith("Who") else "id"
        assert_same_ranking(index.search(query, 20, language), bm25s_search(ids, texts, query, 20, language))


def test_incremental_adds_and_deletes_score_like_a_fresh_build(
    corpus: list[tuple[str, str]], tmp_path: Path
) -> None:
    docs = dict(corpus[:900])
    index = KeywordIndex.build(list(docs), list(docs.values()))
    index.save(tmp_path / "kw")
    for lo, hi in ((900, 1000), (1000, 1100), (1100, 1200)):  # three ingests, saved after each
        batch = dict(corpus[lo:hi])
        index = index.add(list(batch), list(batch.values()))
        docs.update(batch)
        index.save(tmp_path / "kw")
    # an updated article: its chunks replaced with new texts under the same ids
    changed = {cid: docs[cid] + " Pembaruan: gubernur meninjau lokasi banjir." for cid in list(docs)[10:14]}
    index = index.add(list(changed), list(changed.values()))
    for cid in changed:  # a replaced chunk moves to the end, as Chroma re-adds it
        del docs[cid]
    docs.update(changed)
    # a deleted article
    gone = list(docs)[100:130]
    index = index.delete(gone)
    for cid in gone:
        del docs[cid]
    index.save(tmp_path / "kw")
    assert len(index.segments) == 5 and len(index) == len(docs) and list(index.ids) == list(docs)

    fresh = KeywordIndex.build(list(docs), list(docs.values()))
    loaded = KeywordIndex.load(tmp_path / "kw")
    merged = index.merged(max_segments=1)
    assert len(merged.segments) == 1 and merged.ids == fresh.ids
    for query in [*QUERIES, "gubernur meninjau banjir"]:
        want = fresh.search(query, 15, "id")
        for candidate in (index, loaded, merged):
            assert_same_ranking(candidate.search(query, 15, "id"), want)
    assert not any(cid in gone for q in QUERIES for cid, _ in index.search(q, 50, "id"))


def test_save_writes_only_new_segments_and_load_reuses_held_ones(
    corpus: list[tuple[str, str]], tmp_path: Path
) -> None:
    base = KeywordIndex.build([i for i, _ in corpus[:500]], [t for _, t in corpus[:500]])
    base.save(tmp_path)
    first = {p.name for p in tmp_path.glob("seg-*")}
    grown = base.add([i for i, _ in corpus[500:520]], [t for _, t in corpus[500:520]])
    grown.save(tmp_path)
    assert len({p.name for p in tmp_path.glob("seg-*")} - first) == 1
    replica = KeywordIndex.load(tmp_path, reuse=base)
    assert replica.segments[0] is base.segments[0]  # the big segment is not read again
    assert replica.search("banjir", 5) == grown.search("banjir", 5)


def test_columns_follow_their_chunks_through_adds_and_deletes() -> None:
    index = KeywordIndex.build(["a", "b"], ["banjir Semarang", "beras Jakarta"], {"day": [1, 2]})
    index = index.add(["c", "a"], ["gempa Palu", "banjir Bekasi"], {"day": [3, 4]}).delete(["b"])
    assert [index.value(c, "day") for c in ("a", "b", "c")] == [4, None, 3]
    assert index.search("Semarang", 5) == [] and index.search("Bekasi", 5)[0][0] == "a"


def test_tiered_merge_keeps_many_small_ingests_to_few_segments(corpus: list[tuple[str, str]]) -> None:
    index = KeywordIndex.build([i for i, _ in corpus[:600]], [t for _, t in corpus[:600]])
    for lo in range(600, 1200, 50):
        index = index.add([i for i, _ in corpus[lo : lo + 50]], [t for _, t in corpus[lo : lo + 50]])
        index = index.merged(max_segments=4)
    assert len(index.segments) <= 4 and len(index) == 1200
    fresh = KeywordIndex.build([i for i, _ in corpus[:1200]], [t for _, t in corpus[:1200]])
    for query in QUERIES:
        assert_same_ranking(index.search(query, 10, "id"), fresh.search(query, 10, "id"))
