"""Document admin: listing and deleting stored articles, from the library, the CLI, and as seen by a running
QAService (real embedded Chroma, real e5 model; every test works on its own copy of the sample store)."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.context import ARTICLE_TEXTS
from qa.pipeline import QAService
from qa.retrieval import KEYWORD_CACHE
from tests.conftest import ARTICLES, make_settings
from vectorstore.service import (
    ArticleInfo,
    DeleteReport,
    delete_articles,
    ingest_paths,
    list_articles,
    open_store,
)

SAMPLE_IDS = {p.stem for p in ARTICLES.glob("*.txt")}
WATSON_DOC = "003_dc8e5f10e18e6837"  # the only sample article that names Adrienne Watson
WATSON_QUESTION = (
    "Who is the spokesperson of the US National Security Council quoted about Kim's possible trip to Russia?"
)


def _chunk_docs(store) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, _, meta in store.iter_chunks():
        counts[meta["doc_id"]] = counts.get(meta["doc_id"], 0) + 1
    return counts


def test_list_returns_every_article_newest_first_with_its_chunk_count(store_copy):
    settings = make_settings(store_copy)
    store = open_store(settings)
    items = list_articles(settings)
    assert all(isinstance(a, ArticleInfo) for a in items)
    assert {a.doc_id for a in items} == SAMPLE_IDS
    assert sum(a.chunks for a in items) == store.count()
    assert {a.doc_id: a.chunks for a in items} == _chunk_docs(store)
    dated = [a.published for a in items if a.published]
    assert dated == sorted(dated, reverse=True)
    assert [a.published for a in items][: len(dated)] == dated  # undated ones, if any, come last
    first = items[0].to_dict()
    assert set(first) == {"doc_id", "title", "outlet", "published", "chunks", "story_id", "url", "source"}
    assert all(a.title and a.source for a in items)
    with pytest.raises(AttributeError):
        items[0].chunks = 0  # type: ignore[misc]


def test_cli_list_json_and_table(store_copy):
    runner = CliRunner()
    out = runner.invoke(main, ["articles", "list", "--json", "--store", str(store_copy)])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.output)
    assert [a["doc_id"] for a in listed] == [a.doc_id for a in list_articles(make_settings(store_copy))]
    table = runner.invoke(main, ["articles", "list", "--store", str(store_copy)])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["id", "date", "outlet", "chunks", "story", "title"]
    for doc_id in SAMPLE_IDS:
        assert any(line.startswith(doc_id) for line in lines)
    assert f"5 articles, {sum(a['chunks'] for a in listed)} chunks" in table.output


def test_delete_removes_record_and_chunks_and_bumps_the_revision_once(store_copy):
    settings = make_settings(store_copy)
    store = open_store(settings)
    before_chunks = _chunk_docs(store)
    rev_before = store.revision()
    report = delete_articles(settings, [WATSON_DOC, "no-such-article", WATSON_DOC])
    assert isinstance(report, DeleteReport)
    assert report.deleted == [WATSON_DOC] and report.missing == ["no-such-article"]
    assert report.chunks == before_chunks[WATSON_DOC] > 0
    assert report.to_dict() == {
        "deleted": [WATSON_DOC],
        "missing": ["no-such-article"],
        "chunks": report.chunks,
    }
    assert WATSON_DOC not in _chunk_docs(store)
    assert store.get_article(WATSON_DOC) is None
    assert store.count() == sum(before_chunks.values()) - report.chunks
    assert {a.doc_id for a in list_articles(settings)} == SAMPLE_IDS - {WATSON_DOC}
    assert store.revision()[0] == rev_before[0] + 1  # once, for the whole call

    again = delete_articles(settings, [WATSON_DOC])
    assert (again.deleted, again.missing, again.chunks) == ([], [WATSON_DOC], 0)
    assert store.revision()[0] == rev_before[0] + 1  # nothing changed, nothing to invalidate


def test_delete_needs_ids_and_an_existing_store(store_copy, tmp_path):
    settings = make_settings(store_copy)
    for empty in ([], ["", "  "]):
        with pytest.raises(ValueError, match="no article ids"):
            delete_articles(settings, empty)
    assert delete_articles(settings, WATSON_DOC).deleted == [WATSON_DOC]  # a single id, not its letters
    from vectorstore.store import StoreNotFoundError

    with pytest.raises(StoreNotFoundError):
        delete_articles(make_settings(tmp_path / "none"), ["x"])


def test_a_stale_handle_still_moves_the_revision_forward(store_copy):
    """Two handles (two processes, the web UI and the CLI): each delete must change the revision even though
    the second handle's collection metadata is a snapshot from before the first delete."""
    settings = make_settings(store_copy)
    first, second = open_store(settings), open_store(settings)
    r0 = second.revision()[0]
    delete_articles(settings, ["000_b6d17de1e838a30c"], store=first)
    assert second.revision()[0] == r0 + 1
    delete_articles(settings, ["001_74c5f399bd71f4d7"], store=second)
    assert first.revision()[0] == r0 + 2


def test_an_interrupted_delete_is_finished_by_a_second_one(store_copy):
    """Record gone but chunks left (a crash between the two deletes): the id is still found and cleaned."""
    settings = make_settings(store_copy)
    store = open_store(settings)
    n = _chunk_docs(store)[WATSON_DOC]
    store.articles.delete(ids=[WATSON_DOC])
    report = delete_articles(settings, [WATSON_DOC])
    assert (report.deleted, report.missing, report.chunks) == ([WATSON_DOC], [], n)
    assert WATSON_DOC not in _chunk_docs(store)


def test_cli_delete_reports_missing_ids_and_exit_codes(store_copy, tmp_path):
    runner = CliRunner()
    store = ["--store", str(store_copy)]
    ok = runner.invoke(main, ["articles", "delete", WATSON_DOC, "--yes", *store])
    assert ok.exit_code == 0, ok.output
    assert f"deleted {WATSON_DOC}" in ok.output
    partly = runner.invoke(main, ["articles", "delete", "002_e8bda2d6a24d6eac", WATSON_DOC, "--yes", *store])
    assert partly.exit_code == 1
    assert "deleted 002_e8bda2d6a24d6eac" in partly.output
    assert f"not in the store: {WATSON_DOC}" in partly.output
    listed = json.loads(runner.invoke(main, ["articles", "list", "--json", *store]).output)
    assert {a["doc_id"] for a in listed} == SAMPLE_IDS - {WATSON_DOC, "002_e8bda2d6a24d6eac"}

    missing_store = runner.invoke(main, ["articles", "list", "--store", str(tmp_path / "none")])
    assert missing_store.exit_code == 2
    assert "newsqa ingest" in missing_store.output and "Traceback" not in missing_store.output
    assert len(missing_store.output.strip().splitlines()) == 1


class _TtySys:
    """``sys`` for qa.cli with a terminal on stdin (CliRunner's stdin is not a tty)."""

    class stdin:  # noqa: N801
        @staticmethod
        def isatty() -> bool:
            return True

    def __getattr__(self, name: str):
        return getattr(sys, name)


def test_cli_delete_asks_on_a_terminal_unless_yes(store_copy, monkeypatch):
    import qa.cli

    monkeypatch.setattr(qa.cli, "sys", _TtySys())
    runner = CliRunner()
    store = ["--store", str(store_copy)]
    declined = runner.invoke(main, ["articles", "delete", WATSON_DOC, *store], input="n\n")
    assert declined.exit_code == 1 and WATSON_DOC in declined.output
    assert open_store(make_settings(store_copy)).get_article(WATSON_DOC) is not None
    accepted = runner.invoke(main, ["articles", "delete", WATSON_DOC, *store], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert f"deleted {WATSON_DOC}" in accepted.output


@pytest.mark.parametrize("through", ["another handle", "the service's store"])
def test_a_running_service_stops_citing_a_deleted_article(store_copy, through):
    """The same QAService instance, before and after a delete made through another store handle (as the CLI
    would) or through its own store (as the web UI's admin page does): no citation, no BM25 hit and no cached
    text of the article remain."""
    settings = make_settings(store_copy)
    service = QAService(settings)

    before = service.answer(WATSON_QUESTION)
    assert not before.refused, before.text
    assert WATSON_DOC in {c.doc_id for c in before.citations}
    keyword = service.searcher().search("Adrienne Watson", "en", 5, mode="bm25")
    assert keyword and keyword[0].doc_id == WATSON_DOC
    index_before, _ = KEYWORD_CACHE.get(service.store)
    assert ARTICLE_TEXTS.get(service.store, WATSON_DOC)  # its text is cached for citations

    store = service.store if through == "the service's store" else None
    report = delete_articles(settings, [WATSON_DOC], store=store)
    assert report.deleted == [WATSON_DOC]

    after = service.answer(WATSON_QUESTION)
    assert WATSON_DOC not in {c.doc_id for c in after.citations}
    assert WATSON_DOC not in {c.doc_id for c in after.related}
    assert "Adrienne Watson" not in after.text
    gathered = service.gather(WATSON_QUESTION)
    assert WATSON_DOC not in {p.doc_id for p in gathered.passages}
    index_after, _ = KEYWORD_CACHE.get(service.store)
    assert index_after is not index_before
    alive = {cid for cid, _, _ in service.store.iter_chunks()}
    assert set(index_after.ids) == alive
    keyword_after = service.searcher().search("Adrienne Watson", "en", 5, mode="bm25")
    assert WATSON_DOC not in {p.doc_id for p in keyword_after}
    assert ARTICLE_TEXTS.get(service.store, WATSON_DOC) == ""


def test_deleting_the_first_article_of_a_story_leaves_its_near_duplicate_working(tmp_path):
    base = (ARTICLES / "002_e8bda2d6a24d6eac.txt").read_text(encoding="utf-8")
    folder = tmp_path / "dups"
    folder.mkdir()
    (folder / "a.txt").write_text(base, encoding="utf-8")
    rewritten = "Kantor Berita Lain\n" + base.replace("Korea Utara", "Korut", 2) + "\nSumber: Antara\n"
    (folder / "b.txt").write_text(rewritten, encoding="utf-8")
    settings = make_settings(tmp_path / "store")
    assert ingest_paths(settings, [folder], progress=False).near_duplicates == [("b", "a")]

    assert delete_articles(settings, ["a"]).deleted == ["a"]
    (b,) = list_articles(settings)
    assert (b.doc_id, b.story_id) == ("b", "a")  # a label now, still valid
    service = QAService(settings)
    passages = service.searcher().search("Korea Utara meratifikasi pakta pertahanan", "id", 4)
    assert passages and {p.doc_id for p in passages} == {"b"}
    answer = service.answer("Kapan Korea Utara meratifikasi pakta pertahanan dengan Rusia?")
    assert not answer.refused and {c.doc_id for c in answer.citations} == {"b"}

    # ingest still works on the store: the deleted article comes back into the same story
    again = ingest_paths(settings, [folder], progress=False)
    assert (again.new, again.unchanged) == (1, 1)
    stories = {a.doc_id: a.story_id for a in list_articles(settings)}
    assert stories == {"a": "a", "b": "a"}
