"""The web app end to end: a real Gradio server on a copy of the sample store (extractive backend), driven
through ``gradio_client`` and a real Chromium (Playwright, Debian's browser). Nothing is mocked.

The app is built once per module; tests that upload articles use topics absent from the samples, so their
order does not matter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, make_settings
from tests.servers import RunningApp, free_port, launch

# Gradio's queue calls pandas in a way pandas 3 warns about; not ours to fix, and noise in every run.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated.*"),
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
UPLOAD_LIMIT = 20_000

FLOOD_ARTICLE = "\n".join(
    [
        "Banjir Rendam Ribuan Rumah di Kecamatan Karanganyar, Demak",
        "",
        "Demak - Banjir setinggi satu meter merendam 2.350 rumah di Kecamatan Karanganyar, Kabupaten Demak, "
        "Jawa Tengah, pada Senin (3/2/2025) setelah tanggul Sungai Wulan jebol sepanjang 40 meter.",
        "Kepala Badan Penanggulangan Bencana Daerah (BPBD) Demak, Agus Nugroho, mengatakan sebanyak "
        "4.100 warga mengungsi ke balai desa dan masjid terdekat.",
        "Menurut Agus, hujan deras selama dua hari membuat debit Sungai Wulan naik drastis hingga tanggul "
        "tidak mampu menahan air.",
        "Pemerintah kabupaten menetapkan status tanggap darurat selama 14 hari dan mengirim perahu karet "
        "untuk mengevakuasi warga lanjut usia.",
        "",
    ]
)

# Article text that would run script if any layer inserted it as HTML.
HOSTILE_ARTICLE = "\n".join(
    [
        "Festival Layang-Layang Internasional Digelar di Pantai Padang Galak, Bali",
        "",
        "Denpasar - Festival Layang-Layang Internasional ke-12 digelar di Pantai Padang Galak, Denpasar, "
        "Bali, pada Minggu (13/7/2025) dan diikuti 850 peserta dari 14 negara.",
        "Panitia sempat memajang spanduk digital bertuliskan <img src=x onerror=alert(1)> yang ternyata "
        "dipasang peretas iseng <script>alert(2)</script> sebelum segera diturunkan.",
        "Ketua panitia, Made Sudarsana, mengatakan layang-layang terbesar tahun ini berbentuk naga sepanjang "
        "200 meter.",
        "",
    ]
)


@pytest.fixture(scope="module")
def app(sample_store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    base = tmp_path_factory.mktemp("ui")
    store = base / "store"
    shutil.copytree(sample_store_dir, store)  # uploads must not leak into the shared sample store
    settings = make_settings(store, upload_dir=base / "uploads", upload_max_bytes=UPLOAD_LIMIT)
    running = launch(settings)
    yield running
    running.demo.close()


@pytest.fixture(scope="module")
def client(app: RunningApp) -> Any:
    from gradio_client import Client

    return Client(app.url, verbose=False)


def _ensure_chromium() -> bool:
    """Debian's Chromium, installed with apt when missing and possible (never a downloaded browser)."""
    if CHROMIUM.exists():
        return True
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600, check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"],
            env=env,
            capture_output=True,
            timeout=900,
            check=False,
        )
    return CHROMIUM.exists()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not _ensure_chromium():
        pytest.skip("/usr/bin/chromium is absent and could not be installed with apt-get")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser tab on the app, with the waits the tests share and every JS dialog recorded."""

    def __init__(self, browser: Any, url: str, locale: str) -> None:
        self.context = browser.new_context(locale=locale, viewport={"width": 1440, "height": 1000})
        self.context.set_default_timeout(90_000)  # generous: the test machine may be busy with other work
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", self._on_dialog)
        self.page.goto(url)
        self.page.wait_for_selector("#nqa-question textarea")
        expected = "en" if locale.lower().startswith("en") else "id"
        self.page.wait_for_function(
            "lang => { const el = document.querySelector('#nqa-lang input:checked');"
            " return el && el.value === lang; }",
            arg=expected,
        )
        # the language update also relabels the buttons; wait for that round trip to finish
        self.page.wait_for_function(
            "label => document.querySelector('#nqa-send').innerText.trim() === label",
            arg="Send" if expected == "en" else "Kirim",
        )

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def ask(self, question: str, timeout_ms: int = 90_000) -> dict[str, float]:
        """Submit ``question`` and wait for the final answer; returns in-page timings in seconds."""
        page = self.page
        before = page.eval_on_selector_all("#nqa-chat .nqa-answer", "els => els.length")
        page.fill("#nqa-question textarea", question)
        page.evaluate(
            """() => {
              const t = {start: performance.now()};
              window.__nqaT = t;
              const check = () => {
                const panel = document.querySelector('#nqa-sources .nqa-sources');
                const view = panel ? panel.dataset.view : '';
                if (!t.sources && (view === 'evidence' || view === 'answer')) t.sources = performance.now();
                if (!t.final && view === 'answer' && !document.querySelector('#nqa-chat .nqa-pending'))
                  t.final = performance.now();
              };
              window.__nqaObserver = new MutationObserver(check);
              window.__nqaObserver.observe(document.body,
                {subtree: true, childList: true, attributes: true, characterData: true});
            }"""
        )
        page.press("#nqa-question textarea", "Enter")
        page.wait_for_function(
            """n => document.querySelectorAll('#nqa-chat .nqa-answer').length > n
                 && !document.querySelector('#nqa-chat .nqa-pending')
                 && (document.querySelector('#nqa-chat .nqa-error')
                     || (window.__nqaT && window.__nqaT.final))""",
            arg=before,
            timeout=timeout_ms,
        )
        got = page.evaluate("() => { window.__nqaObserver.disconnect(); return window.__nqaT; }")
        start = got["start"]
        return {k: (v - start) / 1000 for k, v in got.items() if k != "start" and v}

    def close(self) -> None:
        self.context.close()


def _article_text(app: RunningApp, doc_id: str) -> str:
    got = app.service.store.get_article(doc_id)
    assert got is not None, doc_id
    return got[0]


def _check_citations(app: RunningApp, result: dict[str, Any]) -> None:
    assert not result["refused"], result
    assert result["citations"], result
    for c in result["citations"]:
        assert c["doc_id"] and c["quote"]
        assert f"[{c['n']}]" in result["text"]
        # the quote is exactly the cited span of the stored article: what the page highlights
        assert _article_text(app, c["doc_id"])[c["start"] : c["end"]] == c["quote"]


# --- (1) the /ask API through gradio_client -----------------------------------------------------------------


def test_api_ask_indonesian(app: RunningApp, client: Any) -> None:
    result = client.predict("Kapan Korea Utara meratifikasi pakta pertahanan?", [], api_name="/ask")
    assert result["language"] == "id"
    _check_citations(app, result)
    assert set(result) >= {"text", "citations", "related", "backend", "notice", "timings"}


def test_api_ask_english(app: RunningApp, client: Any) -> None:
    result = client.predict("Who did Belousov replace?", [], api_name="/ask")
    assert result["language"] == "en"
    assert "Shoigu" in result["text"]
    _check_citations(app, result)


def test_api_ask_filters_and_dates(client: Any) -> None:
    only = client.predict("Korea Utara Rusia", [], "", "", ["Metrotvnews.com"], api_name="/ask")
    assert {c["outlet"] for c in only["citations"]} == {"Metrotvnews.com"}
    dated = client.predict("Apa yang terjadi di Pyongyang pada 29 November 2024?", [], api_name="/ask")
    assert {c["doc_id"] for c in dated["citations"]} == {"000_b6d17de1e838a30c"}
    assert "29 November 2024" in dated["notice"]
    timeline = client.predict(
        "How did relations between Russia and North Korea develop?", [], api_name="/ask"
    )
    assert [e["day"] for e in timeline["timeline"]] == sorted(e["day"] for e in timeline["timeline"])
    with pytest.raises(Exception, match="unknown outlet"):
        client.predict("Siapa Belousov?", [], "", "", ["Kompas"], api_name="/ask")


def test_api_follow_up_uses_history(client: Any) -> None:
    history = [
        {"role": "user", "content": "Who did Belousov replace?"},
        {"role": "assistant", "content": "Belousov replaced Sergei Shoigu [1]."},
    ]
    result = client.predict("When did that happen?", history, api_name="/ask")
    assert "Belousov" in result["standalone_question"]


def test_api_rejects_an_empty_question_and_stays_up(client: Any) -> None:
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", [], api_name="/ask")
    assert not client.predict("Who did Belousov replace?", [], api_name="/ask")["refused"]


def test_api_lists_only_ask(client: Any) -> None:
    info = client.view_api(return_format="dict", print_info=False)
    assert set(info["named_endpoints"]) == {"/ask"}


# --- (2) the page in a real browser -------------------------------------------------------------------------


def test_browser_ask_and_open_source(app: RunningApp, browser: Any, tmp_path: Path) -> None:
    tab = Page(browser, app.url, locale="en-US")
    page = tab.page
    try:
        timings = tab.ask("Who did Belousov replace?")
        print(
            f"\nsubmit -> sources {timings['sources']:.2f}s, submit -> final answer {timings['final']:.2f}s"
        )
        assert timings["sources"] <= timings["final"]

        answer = page.inner_text("#nqa-chat .nqa-answer >> nth=-1")
        assert "Shoigu" in answer
        markers = page.query_selector_all("#nqa-chat a.nqa-cite")
        assert markers, "the answer has no clickable [n] marker"
        for marker in markers:  # every marker points at a card that is on the page
            target = marker.get_attribute("href")
            assert target and page.query_selector(target) is not None, target

        panel = page.inner_text("#nqa-sources")
        assert "Cited in the answer".upper() in panel.upper()

        markers[0].click()
        card = page.locator(
            "#nqa-sources .nqa-card.nqa-flash, #nqa-sources .nqa-card:has(details[open])"
        ).first
        card.wait_for()
        quote = card.locator(".nqa-quote").inner_text().strip()
        mark = card.locator("details[open] mark.nqa-hl-primary")
        mark.wait_for()
        assert quote and quote in mark.inner_text()
        page.wait_for_timeout(1800)  # smooth scrolling and the card's flash settle
        page.evaluate("() => window.scrollTo(0, 0)")
        shot = tmp_path / "screenshot.png"
        page.screenshot(path=str(shot))
        if os.environ.get("NEWSQA_SCREENSHOT"):
            docs = ROOT / "docs"
            docs.mkdir(exist_ok=True)
            shutil.copyfile(shot, docs / "screenshot.png")

        # the interface toggles to Indonesian; the answer already given stays as it was
        page.click("#nqa-lang label:has-text('Bahasa Indonesia')")
        page.wait_for_function("() => document.querySelector('#nqa-send').innerText.trim() === 'Kirim'")
        page.wait_for_function("() => document.querySelector('#nqa-sources').innerText.includes('Sumber')")
        assert "Shoigu" in page.inner_text("#nqa-chat .nqa-answer >> nth=-1")

        # a follow-up, then "New chat" clears the conversation and the sources
        tab.ask("What was his profession before that?")
        assert len(page.query_selector_all("#nqa-chat .nqa-answer")) == 2
        page.click("#nqa-new")
        page.wait_for_function("() => !document.querySelector('#nqa-chat .nqa-answer')")
        page.wait_for_selector('#nqa-sources .nqa-sources[data-view="empty"]')
        assert tab.dialogs == []
    finally:
        tab.close()


def test_browser_marker_of_an_earlier_answer_reopens_its_sources(app: RunningApp, browser: Any) -> None:
    tab = Page(browser, app.url, locale="id-ID")
    page = tab.page
    try:
        tab.ask("Siapa yang digantikan Belousov?")
        first_turn = page.get_attribute("#nqa-sources .nqa-sources", "data-turn")
        tab.ask("Kapan Korea Utara meratifikasi pakta pertahanan?")
        assert page.get_attribute("#nqa-sources .nqa-sources", "data-turn") != first_turn
        page.click(f'#nqa-chat a.nqa-cite[href^="#nqa-{first_turn}-"] >> nth=0')
        page.wait_for_function(
            "turn => document.querySelector('#nqa-sources .nqa-sources').dataset.turn === turn",
            arg=first_turn,
        )
        page.wait_for_selector("#nqa-sources details[open] mark.nqa-hl-primary")
    finally:
        tab.close()


def test_browser_timeline_and_outlet_filter(app: RunningApp, browser: Any) -> None:
    tab = Page(browser, app.url, locale="en-US")
    page = tab.page
    try:
        tab.ask("How did relations between Russia and North Korea develop?")
        items = page.locator("#nqa-chat .nqa-answer >> nth=-1").locator("ol.nqa-timeline li")
        assert items.count() >= 3
        dates = [items.nth(i).locator(".nqa-when").inner_text() for i in range(items.count())]
        assert dates.index("June 2024") < dates.index("12 November 2024")
        assert items.nth(0).locator("a.nqa-cite").count() == 1  # each event cites its source
        # The outlet picker offers the store's outlets; picking one limits the next answer to it.
        page.click("#nqa-settings > button")
        page.click("#nqa-outlets input")
        page.click("ul[role=listbox] li:has-text('Metrotvnews.com')")
        page.keyboard.press("Escape")
        tab.ask("Korea Utara Rusia")
        outlets = page.eval_on_selector_all(
            "#nqa-sources .nqa-card", "els => els.map(e => e.dataset.outlet || e.innerText)"
        )
        assert outlets and all("Metrotvnews.com" in o for o in outlets), outlets
    finally:
        tab.close()


@pytest.mark.llm
def test_browser_busy_model_quotes_at_once_and_ask_the_model_waits(
    sample_store_dir: Path, tmp_path: Path, browser: Any
) -> None:
    """Admission control with the real local model in a served app: while three questions hold the model, a
    third is answered at once from quotes with the busy notice; "Ask the model" then queues it and the
    model's answer arrives (saved with backend llamacpp)."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (llm extra) is not installed")
    import threading

    from qa.chats import ChatStore

    store = tmp_path / "store"
    shutil.copytree(sample_store_dir, store)
    settings = make_settings(
        store,
        backend="llamacpp",
        llm_timeout_s=600,
        llm_queue_budget_s=1,
        chats_db=tmp_path / "chats.sqlite3",
    )
    running = launch(settings)
    service, busy, tab = running.service, [], None
    try:
        service.answer("Siapa yang digantikan Belousov?")  # measures how long an answer holds the model
        engine = service.backend("llamacpp")
        tab = Page(browser, running.url, locale="id-ID")
        page = tab.page
        for question in ("Who did Belousov replace?", "Siapa Belousov?", "Apa profesi Belousov sebelumnya?"):
            ask = {"wait_for_model": True}  # these queue for the model (they would be quoted otherwise)
            busy.append(threading.Thread(target=service.answer, args=(question,), kwargs=ask))
            busy[-1].start()
        deadline = time.monotonic() + 120
        while (engine.queue_wait_s() or 0) <= 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        tab.ask("Kapan Korea Utara meratifikasi pakta pertahanan?", timeout_ms=120_000)
        assert any(t.is_alive() for t in busy)  # answered while the model was still busy
        last = page.locator("#nqa-chat .nqa-answer >> nth=-1")
        assert "sibuk" in last.inner_text() and last.locator("a.nqa-cite").count() >= 1
        page.wait_for_selector("#nqa-ask-model", state="visible")
        before = page.eval_on_selector_all("#nqa-chat .nqa-answer", "els => els.length")
        page.click("#nqa-ask-model")
        page.wait_for_function(
            """n => document.querySelectorAll('#nqa-chat .nqa-answer').length > n
                 && !document.querySelector('#nqa-chat .nqa-pending')""",
            arg=before,
            timeout=600_000,
        )
        chats = ChatStore(settings.chats_path)
        turns = chats.get(chats.list(None)[0].id).turns
        assert [t.answer["model_busy"] for t in turns] == [True, False]
        assert turns[-1].answer["backend"] == "llamacpp" and turns[-1].question == turns[0].question
        page.wait_for_selector("#nqa-ask-model", state="hidden")
    finally:
        for t in busy:
            t.join()
        if tab is not None:
            tab.close()
        running.demo.close()


# --- (3) upload, then ask about the new article -------------------------------------------------------------


def test_upload_then_ask(app: RunningApp, client: Any, tmp_path: Path) -> None:
    from gradio_client import handle_file

    path = tmp_path / "banjir_karanganyar_demak.txt"
    path.write_text(FLOOD_ARTICLE, encoding="utf-8")
    report = client.predict([handle_file(str(path))], "id", api_name="/upload")
    assert "banjir_karanganyar_demak.txt" in report and "baru" in report, report
    assert (app.settings.upload_dir / "banjir_karanganyar_demak.txt").read_text(
        encoding="utf-8"
    ) == FLOOD_ARTICLE

    result = client.predict("Berapa rumah yang terendam banjir di Karanganyar, Demak?", [], api_name="/ask")
    _check_citations(app, result)
    assert result["citations"][0]["doc_id"] == "banjir_karanganyar_demak"
    assert "2.350" in result["text"]

    # the same file again: reported as unchanged, nothing rewritten
    again = client.predict([handle_file(str(path))], "en", api_name="/upload")
    assert "unchanged" in again, again


def test_empty_archive_says_so_and_upload_fills_it(tmp_path: Path) -> None:
    """A fresh install: asking explains the archive is empty; one upload later the question is answered."""
    from gradio_client import Client, handle_file

    settings = make_settings(tmp_path / "store", upload_dir=tmp_path / "uploads")
    running = launch(settings)
    try:
        client = Client(running.url, verbose=False)
        with pytest.raises(Exception, match="archive is empty"):
            client.predict("Berapa rumah yang terendam banjir di Demak?", [], api_name="/ask")
        path = tmp_path / "banjir_demak.txt"
        path.write_text(FLOOD_ARTICLE, encoding="utf-8")
        report = client.predict([handle_file(str(path))], "en", api_name="/upload")
        assert "new" in report, report
        result = client.predict("Berapa rumah yang terendam banjir di Demak?", [], api_name="/ask")
        assert result["citations"] and result["citations"][0]["doc_id"] == "banjir_demak"
    finally:
        running.demo.close()


# --- (4) no HTML or script injection ------------------------------------------------------------------------


def test_render_escapes_question_and_article_text() -> None:
    from ui.render import answer_html, question_html, render_answer, render_evidence

    hostile = "<script>alert(1)</script>"
    article = "Awal. <img src=x onerror=alert(1)> lalu " + hostile + " akhir."
    quote_start = article.index("<img")
    quote_end = article.index(" akhir")
    cite = {
        "n": 1,
        "doc_id": "doc<1>",
        "title": f"Judul {hostile}",
        "outlet": '"><b>outlet</b>',
        "published": "2024-11-30",
        "url": "javascript:alert(1)",
        "quote": article[quote_start:quote_end],
        "start": quote_start,
        "end": quote_end,
        "score": 0.9,
    }
    answer = {
        "text": f"Menurut artikel: «{cite['quote']}» [1]",
        "language": "id",
        "refused": False,
        "citations": [cite],
        "related": [{**cite, "n": 2}],
        "notice": hostile,
    }
    html = render_answer("t1", answer, {"doc<1>": article}, "id", focus=1)
    html += render_evidence("t1", [cite], {"doc<1>": article}, "en")
    html += question_html(hostile) + answer_html(answer["text"], "t1", known=[1], notice=hostile)
    assert "&lt;script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "<b>" not in html
    assert 'href="javascript' not in html
    # the cited span is highlighted exactly, still escaped
    assert f'<mark class="nqa-hl nqa-hl-primary">{"&lt;img src=x onerror=alert(1)&gt; lalu "}' in html
    assert 'href="#nqa-t1-1"' in html


def test_highlight_ignores_bad_and_overlapping_spans() -> None:
    from ui.render import Span, highlight_article

    text = "Satu dua tiga empat."
    html = highlight_article(text, [Span(5, 8, 1, True), Span(6, 12, 2, False), Span(-1, 3, 3, False)])
    assert html.count("<mark") == 1
    assert '<mark class="nqa-hl nqa-hl-primary">dua</mark>' in html
    assert highlight_article(text, [Span(10, 999, 1, True)]) == text


def test_browser_hostile_article_and_question_run_no_script(
    app: RunningApp, browser: Any, tmp_path: Path
) -> None:
    path = tmp_path / "festival_layang_layang.txt"
    path.write_text(HOSTILE_ARTICLE, encoding="utf-8")
    tab = Page(browser, app.url, locale="id-ID")
    page = tab.page
    try:
        page.click("#nqa-upload button.label-wrap")
        page.set_input_files("#nqa-files input[type=file]", str(path))
        page.wait_for_selector("#nqa-files >> text=festival_layang_layang.txt")
        page.click("#nqa-upload-btn")
        page.wait_for_selector(
            "#nqa-upload-report .nqa-up-new >> text=festival_layang_layang.txt", timeout=90_000
        )

        tab.ask("<script>alert(1)</script> Berapa peserta Festival Layang-Layang di Pantai Padang Galak?")
        assert "<script>alert(1)</script>" in page.inner_text("#nqa-chat .nqa-q >> nth=-1")
        assert "850 peserta" in page.inner_text("#nqa-chat .nqa-answer >> nth=-1")
        page.click("#nqa-chat a.nqa-cite >> nth=0")
        page.wait_for_selector("#nqa-sources details[open] mark.nqa-hl-primary")
        article = page.inner_text("#nqa-sources details[open] .nqa-body")
        assert "<img src=x onerror=alert(1)>" in article and "<script>alert(2)</script>" in article
        page.wait_for_timeout(500)
        injected = page.evaluate(
            """() => document.querySelectorAll('#nqa-sources img, #nqa-sources script,'
                 + ' #nqa-chat .nqa-answer img, #nqa-chat .nqa-q img').length"""
        )
        assert injected == 0
        assert tab.dialogs == []
    finally:
        tab.close()


# --- (5) upload safety --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini.md", "win.ini.md"),
        ("/abs/path/Berita Banjir (1).TXT", "Berita_Banjir_1.txt"),
        (".hidden.txt", "hidden.txt"),
        ("../..", "upload"),
        ("Beritá—ñ.html", "Berita_n.html"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    from ui.uploads import safe_filename

    assert safe_filename(name) == expected


def test_path_traversal_name_lands_inside_upload_dir(tmp_path: Path) -> None:
    from ui.uploads import store_upload

    src = tmp_path / "src.txt"
    src.write_text("isi", encoding="utf-8")
    upload_dir = tmp_path / "deep" / "uploads"
    for name in (
        "../../etc/passwd.txt",
        "../../../../../../tmp/evil.txt",
        "/etc/cron.d/x.txt",
        "..\\..\\y.txt",
    ):
        dest = store_upload(src, name, upload_dir)
        assert dest.parent == upload_dir.resolve()
        assert dest.read_text(encoding="utf-8") == "isi"
    assert not (tmp_path / "etc").exists() and not (tmp_path / "deep" / "etc").exists()
    assert sorted(p.name for p in upload_dir.iterdir()) == ["evil.txt", "passwd.txt", "x.txt", "y.txt"]


def test_upload_over_http_with_traversal_name_stays_in_upload_dir(app: RunningApp, client: Any) -> None:
    from gradio_client import handle_file

    body = (
        "Traversal\n\nArtikel uji tentang lomba perahu naga di Danau Toba pada Agustus 2025 dengan 30 tim.\n"
    )
    got = httpx.post(
        f"{app.url}/gradio_api/upload",
        files=[("files", ("../../etc/lomba_perahu.txt", body.encode(), "text/plain"))],
        timeout=30,
    )
    got.raise_for_status()
    server_path = Path(got.json()[0])
    report = client.predict([handle_file(str(server_path))], "en", api_name="/upload")
    assert "lomba_perahu.txt" in report and "new" in report, report
    assert (app.settings.upload_dir / "lomba_perahu.txt").exists()
    assert not (app.settings.upload_dir.parent / "etc").exists()


def test_oversized_and_exe_uploads_are_refused(app: RunningApp, client: Any, tmp_path: Path) -> None:
    from gradio_client import handle_file

    before = set(app.service.store.article_records())
    big = tmp_path / "artikel_besar.txt"
    big.write_text("Paragraf panjang tentang pemilu. " * (UPLOAD_LIMIT // 20), encoding="utf-8")
    assert big.stat().st_size > UPLOAD_LIMIT
    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ\x90\x00" + b"\x00" * 64)
    report = client.predict([handle_file(str(big)), handle_file(str(exe))], "id", api_name="/upload")
    assert report.count("ditolak") >= 2, report
    assert "artikel_besar.txt" in report and "setup.exe" in report
    assert "0 baru" in report
    assert set(app.service.store.article_records()) == before
    names = {p.name for p in app.settings.upload_dir.iterdir()} if app.settings.upload_dir.exists() else set()
    assert "artikel_besar.txt" not in names and "setup.exe" not in names


# --- the Chroma server goes away and comes back -------------------------------------------------------------


@pytest.mark.slow
def test_store_outage_shows_a_message_and_recovers(tmp_path: Path, browser: Any) -> None:
    from gradio_client import Client

    from tests.conftest import ARTICLES
    from vectorstore.service import ingest_paths

    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if chroma is None:
        pytest.skip("the chroma command is not installed")
    port = free_port()
    data = tmp_path / "chroma"

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [chroma, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        proc.kill()
        raise RuntimeError("chroma server did not start")

    server = start()
    running = None
    try:
        settings = make_settings(tmp_path / "unused", chroma_host="127.0.0.1", chroma_port=port)
        assert ingest_paths(settings, [ARTICLES], progress=False).new == 5
        running = launch(settings)
        client = Client(running.url, verbose=False)
        assert "Shoigu" in client.predict("Who did Belousov replace?", [], api_name="/ask")["text"]

        server.terminate()
        server.wait(timeout=30)
        with pytest.raises(Exception, match="archive cannot be reached"):
            client.predict("Who did Belousov replace?", [], api_name="/ask")
        tab = Page(browser, running.url, locale="en-US")
        try:
            tab.ask("Who did Belousov replace?")
            error = tab.page.inner_text("#nqa-chat .nqa-error")
            assert "archive cannot be reached" in error
            assert tab.page.query_selector('#nqa-sources .nqa-sources[data-view="error"]') is not None

            server = start()  # same data folder: the articles are back, the app was never restarted
            tab.ask("Who did Belousov replace?")
            assert "Shoigu" in tab.page.inner_text("#nqa-chat .nqa-answer >> nth=-1")
        finally:
            tab.close()
        assert "Shoigu" in client.predict("Who did Belousov replace?", [], api_name="/ask")["text"]
    finally:
        if running is not None:
            running.demo.close()
        server.terminate()
        server.wait(timeout=30)


# --- (5) saved chats, feedback and the Articles tab in the browser ------------------------------------------


def _own_app(sample_store_dir: Path, tmp_path: Path) -> Any:
    store = tmp_path / "store"
    shutil.copytree(sample_store_dir, store)
    return make_settings(store, upload_dir=tmp_path / "uploads", chats_db=tmp_path / "chats.sqlite3")


def test_browser_saved_chat_feedback_restart_and_export(
    sample_store_dir: Path, tmp_path: Path, browser: Any
) -> None:
    """A chat asked in the browser is listed, takes a thumbs-down with a comment, is still there after the
    server restarts, reopens with its sources, continues, is renamed and exports as Markdown."""
    from qa.chats import ChatStore

    settings = _own_app(sample_store_dir, tmp_path)
    question = "Who did Belousov replace?"
    first = launch(settings)
    try:
        tab = Page(browser, first.url, locale="en-US")
        tab.ask(question)
        page = tab.page
        page.wait_for_selector(f"#nqa-chat-list label:has-text('{question}') input:checked")
        assert page.input_value("#nqa-chat-title input") == question
        page.click("#nqa-chat button[aria-label='Dislike']")
        page.wait_for_selector("#nqa-feedback-text textarea", state="visible")
        page.fill("#nqa-feedback-text textarea", "Give the date as well")
        page.click("#nqa-feedback-send")
        page.wait_for_selector("#nqa-feedback", state="hidden")
        tab.close()
    finally:
        first.demo.close()
    feedback = ChatStore(settings.chats_path).feedback()
    assert [(f.rating, f.comment, f.question) for f in feedback] == [(-1, "Give the date as well", question)]

    second = launch(settings)  # a restart: new service, new app, new port, the same chats file
    try:
        tab = Page(browser, second.url, locale="en-US")
        page = tab.page
        page.click(f"#nqa-chat-list label:has-text('{question}')")
        page.wait_for_selector("#nqa-chat .nqa-answer .nqa-cite")
        assert "Shoigu" in page.inner_text("#nqa-chat .nqa-answer")
        page.wait_for_selector('#nqa-sources .nqa-sources[data-view="answer"] .nqa-card')
        assert "Shoigu" in page.inner_text("#nqa-sources")

        tab.ask("When did that happen?")  # continues the reopened chat
        chats = ChatStore(settings.chats_path)
        assert len(chats.list(None)) == 1 and len(chats.get(chats.list(None)[0].id).turns) == 2

        page.fill("#nqa-chat-title input", "Belousov and Shoigu")
        page.click("#nqa-chat-rename")
        page.wait_for_selector("#nqa-chat-list label:has-text('Belousov and Shoigu')")
        page.click("#nqa-export-md")
        link = page.wait_for_selector("#nqa-export-file a[href]")
        href = link.get_attribute("href") or ""
        md = httpx.get(href if href.startswith("http") else second.url + href, timeout=30).text
        assert md.startswith("# Belousov and Shoigu\n")
        assert f"## {question}" in md and "## When did that happen?" in md
        assert "**Sources**" in md and "Shoigu" in md

        page.click("#nqa-chat-delete")
        page.wait_for_function("() => !document.querySelector('#nqa-chat-list label')")
        assert chats.list(None) == []
        tab.close()
    finally:
        second.demo.close()


def test_browser_deleted_article_is_gone_from_answers_at_once(
    sample_store_dir: Path, tmp_path: Path, browser: Any
) -> None:
    """Delete the only article that answers a question in the Articles tab; the running server's next
    answer to that question does not cite it."""
    doc = "004_61873db0656fb277"  # the sample article that asks (and answers) this in its title
    question = "Apakah Rusia dan Korea Utara bersahabat?"
    running = launch(_own_app(sample_store_dir, tmp_path))
    try:
        before = running.service.answer(question)
        assert doc in {c.doc_id for c in before.citations}, before
        tab = Page(browser, running.url, locale="en-US")
        page = tab.page
        page.click("#nqa-tab-articles-button")
        page.wait_for_selector(f"#nqa-articles-table [role=gridcell]:has-text('{doc}')")
        page.fill("#nqa-articles-filter textarea", "bersahabat")
        page.wait_for_function(
            "() => document.querySelector('#nqa-articles-status').innerText.includes('1 of 5')"
        )
        page.click(f"#nqa-articles-table [role=gridcell][data-col='0']:has-text('{doc}')")
        page.wait_for_function(
            "id => document.querySelector('#nqa-articles-ids textarea').value.trim() === id", arg=doc
        )
        page.click("#nqa-articles-delete")
        page.wait_for_function(
            "() => document.querySelector('#nqa-articles-status').innerText.includes('1 articles deleted')"
        )
        page.fill("#nqa-articles-filter textarea", "")
        page.wait_for_function(
            "() => document.querySelector('#nqa-articles-status').innerText.includes('4 of 4')"
        )
        assert doc not in page.inner_text("#nqa-articles-table")

        page.click("#nqa-tab-chat-button")
        tab.ask(question)
        assert doc not in page.inner_html("#nqa-sources")
        assert doc not in {c.doc_id for c in running.service.answer(question).related}
        tab.close()
    finally:
        running.demo.close()
