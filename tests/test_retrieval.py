"""Retrieval on the real sample store: hybrid search, LangChain retriever, date filters, relative dates."""

from __future__ import annotations

from datetime import date

from qa.dates import resolve_relative
from qa.retrieval import KeywordIndexCache, NewsRetriever
from tests.conftest import make_settings
from vectorstore.service import ingest_paths, open_store


def test_hybrid_search_ranks_the_right_article_first_for_both_languages(sample_service):
    searcher = sample_service.searcher()
    for question, language in [
        ("Kapan Korea Utara meratifikasi pakta pertahanan?", "id"),
        ("When did North Korea ratify the defence pact?", "en"),
    ]:
        passages = searcher.search(question, language, 5)
        assert passages[0].doc_id == "002_e8bda2d6a24d6eac"
        assert len({p.doc_id for p in passages}) >= 3  # at most 2 chunks per article
        assert all(p.sentence_spans for p in passages)


def test_langchain_retriever_returns_documents_with_citation_metadata(sample_service):
    retriever = NewsRetriever(searcher=sample_service.searcher(), k=3)
    docs = retriever.invoke("Who did Belousov replace?")
    assert len(docs) == 3
    assert docs[0].metadata["doc_id"] == "001_74c5f399bd71f4d7"
    assert {"title", "outlet", "published", "start", "end", "score"} <= set(docs[0].metadata)


def test_date_filters_restrict_articles(sample_service):
    searcher = sample_service.searcher()
    only_ratification_day = searcher.search(
        "Korea Utara Rusia", "id", 5, since=date(2024, 11, 12), until=date(2024, 11, 12)
    )
    assert {p.doc_id for p in only_ratification_day} == {"002_e8bda2d6a24d6eac"}
    a = sample_service.answer("Siapa Belousov?", since="2030-01-01")
    assert a.refused


def test_relative_dates_resolve_against_the_newest_article():
    anchor = date(2024, 11, 30)
    last_week = (date(2024, 11, 17), date(2024, 11, 23))
    assert resolve_relative("Apa yang terjadi pekan lalu?", anchor) == last_week
    assert resolve_relative("What happened yesterday?", anchor) == (date(2024, 11, 29), date(2024, 11, 29))
    assert resolve_relative("Siapa Belousov?", anchor) is None
    assert resolve_relative("pekan lalu", None) is None


def test_saved_keyword_index_is_loaded_without_reading_chunks_and_rebuilt_after_a_change(
    store_copy, embedder, monkeypatch
):
    settings = make_settings(store_copy)
    store = open_store(settings, create=False)
    built, built_days = KeywordIndexCache().get(store)  # builds and saves beside the store
    assert (store_copy / f"bm25-{store.name}" / "REVISION").is_file()

    def no_reading():
        raise AssertionError("a saved index of the same revision must not re-read the chunks")

    fresh = open_store(settings, create=False)  # as in a new process
    monkeypatch.setattr(fresh, "iter_chunks", no_reading)
    loaded, days = KeywordIndexCache().get(fresh)
    assert list(loaded.ids) == list(built.ids) and days == built_days
    assert any(day > 0 for day in days.values())  # publication days travel with the saved index

    # A new article changes the revision: the saved copy is stale and is rebuilt with the new chunks.
    extra = store_copy.parent / "extra.txt"
    extra.write_text("Judul baru\n\nPersib Bandung menang 3-1 atas Persija di Stadion Si Jalak Harupat.\n")
    ingest_paths(settings, [extra], progress=False)
    monkeypatch.undo()
    rebuilt, _ = KeywordIndexCache().get(open_store(settings, create=False))
    assert len(rebuilt.ids) > len(built.ids)
    assert rebuilt.search("Persib Harupat", 1, language="id")
