"""Ingest end to end against a real Chroma store and the real e5 model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ARTICLES, make_settings
from vectorstore.service import ingest_paths, open_store, store_stats
from vectorstore.store import EmbeddingMismatchError, NewsStore, StoreNotFoundError, make_client


def test_sample_store_has_every_article_with_metadata(sample_store_dir):
    store = open_store(make_settings(sample_store_dir))
    records = store.article_records()
    assert set(records) == {p.stem for p in ARTICLES.glob("*.txt")}
    first = records["000_b6d17de1e838a30c"]
    assert first.outlet == "Liputan6.com"
    assert first.published == "2024-11-30"
    assert first.title.startswith("Menteri Pertahanan Rusia Andrei Belousov")
    assert (
        records["002_e8bda2d6a24d6eac"].title == "Korea Utara Ratifikasi Perjanjian Pertahanan dengan Rusia"
    )
    assert sum(r.n_chunks for r in records.values()) == store.count()
    info = store_stats(make_settings(sample_store_dir), store)
    assert info["articles"] == 5 and info["chunks"] == store.count()
    assert info["embedding_model"] == "multilingual-e5-small"


def test_chunks_map_back_to_raw_text_and_boilerplate_is_gone(sample_store_dir):
    store = open_store(make_settings(sample_store_dir))
    raw = {p.stem: p.read_text(encoding="utf-8") for p in ARTICLES.glob("*.txt")}
    n = 0
    for _cid, text, meta in store.iter_chunks():
        article = raw[meta["doc_id"]]
        spans = json.loads(meta["sentences"])
        assert spans[0][0] == meta["start"] and spans[-1][1] == meta["end"]
        for s, e in spans:
            assert article[s:e] in text
            assert article[s:e] == article[s:e].strip()
        assert "Advertisement" not in text
        assert "Baca Juga" not in text
        n += 1
    assert n > 20


def test_reingest_is_a_noop(store_copy):
    settings = make_settings(store_copy)
    before = open_store(settings).count()
    report = ingest_paths(settings, [ARTICLES], progress=False)
    assert (report.new, report.updated, report.unchanged, report.chunks) == (0, 0, 5, 0)
    assert "nothing written" in report.summary()
    assert open_store(settings).count() == before


def test_changed_article_replaces_its_chunks_and_prune_removes_missing(store_copy, tmp_path):
    settings = make_settings(store_copy)
    folder = tmp_path / "articles"
    shutil.copytree(ARTICLES, folder)
    target = folder / "003_dc8e5f10e18e6837.txt"
    lines = target.read_text(encoding="utf-8").split("\n")
    lines.insert(3, "Penambahan kalimat unik tentang kapal selam zebra ungu yang berlayar di Laut Jepang.")
    target.write_text("\n".join(lines), encoding="utf-8")
    (folder / "004_61873db0656fb277.txt").unlink()
    report = ingest_paths(settings, [folder], prune=True, progress=False)
    assert (report.new, report.updated, report.unchanged, report.pruned) == (0, 1, 3, 1)
    store = open_store(settings)
    records = store.article_records()
    assert "004_61873db0656fb277" not in records
    doc_chunks = [t for _, t, m in store.iter_chunks() if m["doc_id"] == "003_dc8e5f10e18e6837"]
    assert len(doc_chunks) == records["003_dc8e5f10e18e6837"].n_chunks
    assert any("zebra ungu" in t for t in doc_chunks)
    assert not any(m["doc_id"] == "004_61873db0656fb277" for _, _, m in store.iter_chunks())


def test_bad_files_are_skipped_with_reasons_and_the_rest_is_ingested(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "empty.txt").write_text("   \n", encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 50)
    (folder / "latin1.txt").write_bytes("Berita tentang café dan señor di Jakarta.".encode("latin-1"))
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    good = {
        "id": "jsonl-1",
        "title": "Banjir di Bandung",
        "text": "Banjir melanda Bandung pada Senin. Warga mengungsi.",
    }
    (folder / "corpus.jsonl").write_text(
        json.dumps(good) + "\n{not json\n" + json.dumps({"id": "x"}) + "\n", encoding="utf-8"
    )
    (folder / "ok.txt").write_text(
        "Judul Berita\nJakarta - Harga beras naik lagi minggu ini.\n", encoding="utf-8"
    )
    settings = make_settings(tmp_path / "store")
    report = ingest_paths(settings, [folder, tmp_path / "missing-folder"], progress=False)
    reasons = {Path(s.source.split(":")[0]).name: s.reason for s in report.skipped}
    assert report.new == 2
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "unsupported" in reasons["notes.pdf"]
    assert "no such file" in reasons["missing-folder"]
    jsonl_reasons = [s.reason for s in report.skipped if "corpus.jsonl" in s.source]
    assert len(jsonl_reasons) == 2 and any("JSON" in r for r in jsonl_reasons)
    assert set(open_store(settings).article_records()) == {"jsonl-1", "ok"}


def test_html_is_extracted_to_text(tmp_path):
    html = tmp_path / "page.html"
    html.write_text(
        "<html><head><title>Gempa di Cianjur</title></head><body><nav>Home | Berita | Olahraga</nav>"
        "<article><h1>Gempa di Cianjur</h1><p>Gempa bermagnitudo 5,6 mengguncang Cianjur pada Senin siang. "
        "Ratusan rumah rusak dan warga mengungsi ke tenda darurat.</p><p>BMKG mencatat tidak ada potensi "
        "tsunami dari gempa tersebut, kata kepala BMKG kepada wartawan.</p></article>"
        "<footer>Copyright 2024</footer></body></html>",
        encoding="utf-8",
    )
    settings = make_settings(tmp_path / "store")
    report = ingest_paths(settings, [html], progress=False)
    assert report.new == 1
    store = open_store(settings)
    texts = [t for _, t, _ in store.iter_chunks()]
    assert any("BMKG" in t for t in texts)
    assert not any("Home | Berita" in t for t in texts)


def test_store_model_mismatch_is_a_clear_error(sample_store_dir):
    client = make_client(sample_store_dir)
    with pytest.raises(EmbeddingMismatchError, match="multilingual-e5-small"):
        NewsStore(client, "news", "some-other-model", 768, create=False)


def test_missing_store_names_the_fix(tmp_path):
    with pytest.raises(StoreNotFoundError, match="newsqa ingest"):
        open_store(make_settings(tmp_path / "nothing-here"), create=False)


def test_near_duplicate_stories_share_a_story_id(tmp_path):
    base = (ARTICLES / "002_e8bda2d6a24d6eac.txt").read_text(encoding="utf-8")
    folder = tmp_path / "dups"
    folder.mkdir()
    (folder / "a.txt").write_text(base, encoding="utf-8")
    rewritten = "Kantor Berita Lain\n" + base.replace("Korea Utara", "Korut", 2) + "\nSumber: Antara\n"
    (folder / "b.txt").write_text(rewritten, encoding="utf-8")
    shutil.copy(ARTICLES / "003_dc8e5f10e18e6837.txt", folder / "c.txt")
    settings = make_settings(tmp_path / "store")
    report = ingest_paths(settings, [folder], progress=False)
    assert report.near_duplicates == [("b", "a")]
    records = open_store(settings).article_records()
    assert records["a"].story_id == records["b"].story_id == "a"
    assert records["c"].story_id == "c"


def test_interrupted_write_is_repaired_on_rerun(store_copy, tmp_path):
    """Chunks without an article record (a crash between the two writes) are removed by the next ingest,
    which then writes the article whole; an ingest after a clean one does not look for orphans at all."""
    settings = make_settings(store_copy)
    clean_count = open_store(settings).count()
    extra = tmp_path / "extra"
    extra.mkdir()
    text = (ARTICLES / "003_dc8e5f10e18e6837.txt").read_text(encoding="utf-8")
    (extra / "new-article.txt").write_text(text.replace("Korea Utara", "Korut"), encoding="utf-8")

    class CrashBeforeRecords:
        """The articles collection of a process killed after the chunk write, before the record write."""

        def __init__(self, inner) -> None:
            self.inner = inner

        def upsert(self, **_kwargs) -> None:
            raise KeyboardInterrupt("killed")

        def __getattr__(self, name):
            return getattr(self.inner, name)

    store = open_store(settings)
    store.articles = CrashBeforeRecords(store.articles)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths(settings, [extra], progress=False, store=store)
    assert open_store(settings).count() > clean_count  # the orphaned chunks are in the store

    report = ingest_paths(settings, [ARTICLES, extra], progress=False)
    assert report.orphans_removed > 0
    assert (report.new, report.unchanged) == (1, 5)
    written = open_store(settings).count()
    assert written == clean_count + report.chunks

    swept = []
    original = NewsStore.iter_chunks
    try:
        NewsStore.iter_chunks = lambda self, *a, **k: swept.append(1) or original(self, *a, **k)
        again = ingest_paths(settings, [ARTICLES, extra], progress=False)
    finally:
        NewsStore.iter_chunks = original
    assert (again.unchanged, again.orphans_removed, swept) == (6, 0, [])


def test_cli_ingest_and_stats(tmp_path):
    env_store = tmp_path / "cli-store"
    cmd = [sys.executable, "-m", "qa.cli"]
    out = subprocess.run(
        [*cmd, "ingest", str(ARTICLES), "--store", str(env_store), "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "5 new" in out.stdout
    again = subprocess.run(
        [*cmd, "ingest", str(ARTICLES), "--store", str(env_store), "--quiet"], capture_output=True, text=True
    )
    assert "5 unchanged" in again.stdout and "nothing written" in again.stdout
    stats = subprocess.run(
        [*cmd, "stats", "--store", str(env_store), "--json"], capture_output=True, text=True
    )
    assert json.loads(stats.stdout)["articles"] == 5
    missing = subprocess.run(
        [*cmd, "stats", "--store", str(tmp_path / "none")], capture_output=True, text=True
    )
    assert missing.returncode == 2
    assert "newsqa ingest" in missing.stderr and "Traceback" not in missing.stderr
