"""Retrieval on the real sample store: hybrid search, LangChain retriever, date and outlet filters."""

from __future__ import annotations

from datetime import date

from qa.retrieval import ArticleFilter, KeywordIndexCache, NewsRetriever
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


def test_date_and_outlet_filters_restrict_both_retrievers(sample_service):
    searcher = sample_service.searcher()
    ratification_day = ArticleFilter(date(2024, 11, 12), date(2024, 11, 12))
    for mode in ("hybrid", "dense", "bm25"):
        found = searcher.search("Korea Utara Rusia", "id", 5, ratification_day, mode=mode)
        assert {p.doc_id for p in found} == {"002_e8bda2d6a24d6eac"}, mode
        liputan6 = searcher.search(
            "Korea Utara Rusia", "id", 5, ArticleFilter(outlets=("Liputan6.com",)), mode=mode
        )
        assert {p.outlet for p in liputan6} == {"Liputan6.com"}, mode
    # An open-ended range still leaves out undated articles: no date is guessed for them.
    until = searcher.search("Belousov", "id", 10, ArticleFilter(until=date(2030, 1, 1)), per_article=10)
    assert {p.doc_id for p in until} == {"000_b6d17de1e838a30c", "002_e8bda2d6a24d6eac"}
    assert sample_service.answer("Siapa Belousov?", since="2030-01-01").refused


def test_unknown_outlet_is_a_clear_error(sample_service):
    import pytest

    from qa.pipeline import QuestionError

    with pytest.raises(QuestionError, match="unknown outlet 'Kompas'.*Liputan6.com"):
        sample_service.answer("Siapa Belousov?", outlets=["Kompas"], backend="extractive")
    a = sample_service.answer("Siapa Belousov?", outlets=["LIPUTAN6.COM"], backend="extractive")
    assert {c.outlet for c in a.citations} == {"Liputan6.com"}


def test_saved_keyword_index_is_loaded_without_reading_chunks_and_rebuilt_after_a_change(
    store_copy, embedder, monkeypatch
):
    settings = make_settings(store_copy)
    store = open_store(settings, create=False)
    built, built_facets = KeywordIndexCache().get(store)  # builds and saves beside the store
    assert (store_copy / f"bm25-{store.name}" / "REVISION").is_file()

    def no_reading():
        raise AssertionError("a saved index of the same revision must not re-read the chunks")

    fresh = open_store(settings, create=False)  # as in a new process
    monkeypatch.setattr(fresh, "iter_chunks", no_reading)
    loaded, facets = KeywordIndexCache().get(fresh)
    assert list(loaded.ids) == list(built.ids) and facets == built_facets
    assert any(day > 0 for day in facets.days.values())  # publication days and outlets travel with the index
    assert "Liputan6.com" in facets.outlets.values()

    # A new article changes the revision: the saved copy is stale and is rebuilt with the new chunks.
    extra = store_copy.parent / "extra.txt"
    extra.write_text("Judul baru\n\nPersib Bandung menang 3-1 atas Persija di Stadion Si Jalak Harupat.\n")
    ingest_paths(settings, [extra], progress=False)
    monkeypatch.undo()
    rebuilt, _ = KeywordIndexCache().get(open_store(settings, create=False))
    assert len(rebuilt.ids) > len(built.ids)
    assert rebuilt.search("Persib Harupat", 1, language="id")
