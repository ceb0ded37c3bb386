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
    assert (store_copy / f"bm25-{store.name}" / "manifest.json").is_file()

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


def test_ingest_and_delete_update_the_saved_keyword_index_without_a_rebuild(
    store_copy, embedder, monkeypatch
):
    """The ingest hook adds a segment (and tombstones) stamped with the new revision: neither this process
    nor a replica re-reads the chunks, and the result scores like a fresh build of the same chunks."""
    from qa.retrieval import KEYWORD_CACHE
    from tests.test_keyword import assert_same_ranking
    from vectorstore.service import delete_articles
    from vectorstore.store import NewsStore

    settings = make_settings(store_copy)
    KEYWORD_CACHE.get(open_store(settings, create=False))  # the saved index of the current revision
    extra = store_copy.parent / "extra.txt"
    extra.write_text("Judul baru\n\nPersib Bandung menang 3-1 atas Persija di Stadion Si Jalak Harupat.\n")

    def no_reading(self):
        raise AssertionError("the keyword index must follow the change, not re-read every chunk")

    ingest_paths(settings, [extra], progress=False)  # ingest's own orphan sweep reads chunks: patched after
    monkeypatch.setattr(NewsStore, "iter_chunks", no_reading)
    store = open_store(settings, create=False)
    for cache in (KEYWORD_CACHE, KeywordIndexCache()):  # this process, and a replica loading the saved copy
        index, facets = cache.get(store)
        hits = index.search("Persib Harupat", 3, language="id")
        assert hits and "Harupat" in store.get_with_embeddings([hits[0][0]])[0][1]
        assert facets.admits(hits[0][0], ArticleFilter()) and len(index) == store.count()
    gone = sorted({cid.split("::")[0] for cid in index.ids})[0]
    delete_articles(settings, [gone], store=store)
    index, _ = KeywordIndexCache().get(open_store(settings, create=False))
    assert not any(cid.startswith(gone + "::") for cid in index.ids)
    assert len(index.segments) == 2 and len(index) == store.count()

    monkeypatch.undo()
    fresh = KeywordIndexCache._build(store)
    assert sorted(fresh.ids) == sorted(index.ids)
    for query in ["Persib Harupat", "Korea Utara Rusia", "Belousov menteri pertahanan", "Who is Shoigu?"]:
        assert_same_ranking(index.search(query, 10, "id"), fresh.search(query, 10, "id"))


def test_concurrent_and_sequential_hybrid_search_return_the_same_passages(sample_service):
    from qa.retrieval import HybridSearcher

    base = sample_service.searcher()
    sequential = HybridSearcher(
        base.store,
        base.embedder,
        fetch_k=base.fetch_k,
        bm25_weights=base.bm25_weights,
        max_per_article=base.max_per_article,
        parallel=False,
    )
    assert base.parallel
    for question, language in [
        ("Kapan Korea Utara meratifikasi pakta?", "id"),
        ("Who replaced Shoigu?", "en"),
    ]:
        for mode in ("hybrid", "dense", "bm25"):
            got = base.search(question, language, 5, mode=mode)
            assert got == sequential.search(question, language, 5, mode=mode), mode


def test_replicas_beside_a_chroma_server_load_the_shared_keyword_index(tmp_path, embedder, monkeypatch):
    """Processes that see the store only through a Chroma server share the saved index through
    ``store.keyword_dir``: a replica loads the revision it sees (reusing the segments it holds) and never
    reads every chunk; the writer's ingest adds the segment."""
    from tests.conftest import ARTICLES
    from tests.servers import chroma_command, chroma_ready_url, free_port, process
    from vectorstore.store import NewsStore

    port = free_port()
    shared = tmp_path / "shared-keyword-index"
    settings = make_settings(tmp_path / "unused", chroma_host="127.0.0.1", chroma_port=port)
    with process(chroma_command(tmp_path / "chroma", port), chroma_ready_url(port), tmp_path / "chroma.log"):
        writer = open_store(settings, create=True)
        writer.keyword_dir = shared
        ingest_paths(settings, [ARTICLES], progress=False, store=writer)
        KeywordIndexCache().get(writer)  # the first process builds and saves it
        assert (shared / f"bm25-{writer.name}" / "manifest.json").is_file()

        original = NewsStore.iter_chunks
        monkeypatch.setattr(NewsStore, "iter_chunks", lambda self: (_ for _ in ()).throw(AssertionError))
        replica_cache, replica = KeywordIndexCache(), open_store(settings, create=False)
        replica.keyword_dir = shared
        first, _ = replica_cache.get(replica)
        assert len(first) == replica.count()

        extra = tmp_path / "extra.txt"
        extra.write_text(
            "Judul baru\n\nPersib Bandung menang 3-1 atas Persija di Stadion Si Jalak Harupat.\n"
        )
        monkeypatch.setattr(NewsStore, "iter_chunks", original)  # ingest's orphan sweep reads chunks
        ingest_paths(settings, [extra], progress=False, store=writer)
        monkeypatch.setattr(NewsStore, "iter_chunks", lambda self: (_ for _ in ()).throw(AssertionError))
        second, _ = replica_cache.get(replica)
        assert second.segments[0] is first.segments[0]  # only the new segment was read
        assert second.search("Persib Harupat", 1, language="id")
        assert len(second) == replica.count() > len(first)
