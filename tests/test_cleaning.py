"""Cleaning of scraped articles: boilerplate goes, news sentences stay, spans index the raw text."""

from __future__ import annotations

from pathlib import Path

import pytest

from vectorstore.cleaning import clean
from vectorstore.types import Article, RawDocument, content_hash

ARTICLES = Path(__file__).resolve().parents[1] / "data" / "articles"


def load(stem: str) -> Article:
    path = ARTICLES / f"{stem}.txt"
    return clean(RawDocument(id=stem, raw_text=path.read_text(encoding="utf-8"), source=str(path)))


def doc(text: str, **meta: str) -> RawDocument:
    return RawDocument(id="t", raw_text=text, source="test", **meta)


def lines(article: Article) -> list[str]:
    return article.clean_text.split("\n")


# --- the five sample articles ----------------------------------------------------------------------------

METADATA = [
    # (id, title, outlet, published)
    (
        "000_b6d17de1e838a30c",  # no headline: title derived from the lead sentence, without its dateline
        "Menteri Pertahanan Rusia Andrei Belousov bertemu dengan pemimpin Korea Utara Kim Jong Un",
        "Liputan6.com",  # "Liputan6.com, Pyongyang - ..."
        "2024-11-30",  # "Sabtu (30/11/2024)"
    ),
    (
        "001_74c5f399bd71f4d7",  # "Breaking News" label above the headline
        "Menteri Pertahanan Rusia mengunjungi Korea Utara untuk melakukan pembicaraan dengan para pemimpin "
        "militer dan politik",
        "",
        "",
    ),
    (
        "002_e8bda2d6a24d6eac",
        "Korea Utara Ratifikasi Perjanjian Pertahanan dengan Rusia",
        "Metrotvnews.com",  # "... follow akun / Google News Metrotvnews.com"
        "2024-11-12",  # byline "Fajar Nugraha • 12 November 2024 17:51"
    ),
    (
        "003_dc8e5f10e18e6837",  # the only full dates are in photo captions and the body: no publication date
        "Korea Utara Tetap Menjadi Sekutu Utama Rusia Dalam Invasi Ukraina",
        "",
        "",
    ),
    (
        "004_61873db0656fb277",
        "Apakah Rusia dan Korea Utara Bersahabat?",
        "",
        "",
    ),
]

BOILERPLATE = {
    "000_b6d17de1e838a30c": ["Advertisement"],
    "001_74c5f399bd71f4d7": ["Breaking News"],
    "002_e8bda2d6a24d6eac": [
        "Foto: KCNA",
        "Pemimpin Korut Kim Jong-un dan Presiden Rusia Vladimir Putin.",
        "Fajar Nugraha •",
        "12 November 2024 17:51",
        "(Antariska)",
        "Jangan lupa ikuti",
        "Google News",
        "Metrotvnews.com",
        "(Fajar Nugraha)",
    ],
    "003_dc8e5f10e18e6837": [
        "(KCNA)",
        "(KCNA via Reuters)",
        "(Metin Aktas/Anadolu Agency via Getty Images)",
        "(Roman Chop/Global Images Ukraina via Getty Images)",
        "dalam foto tak bertanggal yang dirilis pada tahun 2019",
        "Petugas pemadam kebakaran memadamkan puing-puing",
        "Sebuah rudal mendarat di jalan di Kramatorsk",
        "Baca lebih lanjut dari Yahoo Berita",
        "Azeem",
        "Saya seorang penulis berita gaming",
        "Recent Posts",
    ],
    "004_61873db0656fb277": ["Baca Juga", "6 Fakta Upaya Pembunuhan Donald Trump di Florida"],
}
# Lines that are boilerplate only as whole lines (the word itself may occur in a sentence).
BOILERPLATE_LINES = {"001_74c5f399bd71f4d7": ["Sumber"]}

KEPT = {
    "000_b6d17de1e838a30c": [
        # the dateline is raw text and stays in the first paragraph
        "Liputan6.com, Pyongyang - Menteri Pertahanan Rusia Andrei Belousov bertemu dengan pemimpin",
        "Demikian menurut kantor berita Korea Utara (KCNA) pada Sabtu (30/11/2024).",
        "Manuver AS",  # section sub-heading
        "Presiden Yoon Suk Yeol mengatakan awal bulan ini bahwa Korea Selatan tidak menutup kemungkinan",
    ],
    "001_74c5f399bd71f4d7": [
        "Menteri Pertahanan Rusia Andrei Belousov tiba di Korea Utara pada hari Jumat",
        # a news sentence about a photo, not a caption
        "Foto yang dirilis Kementerian Pertahanan menunjukkan Belousov berjalan bersama Menteri Pertahanan",
        "Kementerian Pertahanan Korea Selatan mengatakan pihaknya mengadakan panggilan telepon",
    ],
    "002_e8bda2d6a24d6eac": [
        "Pyongyang: Korea Utara (Korut) meratifikasi pakta pertahanan penting dengan Rusia",
        "“Perjanjian ini akan berlaku sejak hari kedua pihak bertukar instrumen ratifikasi,” kata KCNA.",
        "Negara tertutup itu baru-baru ini menembakkan serangkaian rudal balistik",
    ],
    "003_dc8e5f10e18e6837": [
        "Pemimpin Korea Utara Kim Jong Un mungkin akan melakukan perjalanan ke Rusia",
        "AS mengatakan Korea Utara harus ‘membayar akibatnya’",
        "tanggapan Kremlin",
        "Apakah Korea Utara pernah memasok senjata ke Rusia sebelumnya?",
        "Tampaknya isolasi Rusia dari komunitas internasional membuat kedua negara semakin dekat.",
    ],
    "004_61873db0656fb277": [
        "Rusia dan Korea Utara merupakan dua negara yang saling bersahabat.",
        "1. Terikat dalam Perjanjian Pertahanan Bersama",
        "3. Kerja Sama di Berbagai Bidang",
        "Upaya untuk meminta pertanggungjawaban Republik Rakyat Demokratik Korea",
    ],
}

PARAGRAPHS = {
    "000_b6d17de1e838a30c": 14,
    "001_74c5f399bd71f4d7": 21,
    "002_e8bda2d6a24d6eac": 13,
    "003_dc8e5f10e18e6837": 15,
    "004_61873db0656fb277": 21,
}


@pytest.mark.parametrize(("stem", "title", "outlet", "published"), METADATA)
def test_sample_metadata(stem: str, title: str, outlet: str, published: str) -> None:
    article = load(stem)
    assert article.title == title
    assert article.outlet == outlet
    assert article.published == published
    assert article.language == "id"
    assert article.id == stem
    assert article.url == ""


@pytest.mark.parametrize("stem", sorted(BOILERPLATE))
def test_sample_boilerplate_removed(stem: str) -> None:
    article = load(stem)
    for text in BOILERPLATE[stem]:
        assert text not in article.clean_text, text
    for line in BOILERPLATE_LINES.get(stem, []):
        assert line not in lines(article)


@pytest.mark.parametrize("stem", sorted(KEPT))
def test_sample_news_sentences_kept(stem: str) -> None:
    article = load(stem)
    for sentence in KEPT[stem]:
        assert sentence in article.clean_text, sentence
    assert len(article.paragraphs) == PARAGRAPHS[stem]


@pytest.mark.parametrize("stem", sorted(PARAGRAPHS))
def test_sample_title_lines_are_not_body(stem: str) -> None:
    """Headlines printed (two or three times) above the body are metadata, not paragraphs."""
    article = load(stem)
    assert article.title not in lines(article)


@pytest.mark.parametrize("stem", sorted(PARAGRAPHS))
def test_sample_spans_index_raw_text(stem: str) -> None:
    article = load(stem)
    raw = article.raw_text
    assert raw == (ARTICLES / f"{stem}.txt").read_text(encoding="utf-8")
    previous_end = 0
    for start, end in article.paragraphs:
        piece = raw[start:end]
        assert piece and piece == piece.strip()
        assert "\n" not in piece
        assert previous_end <= start < end <= len(raw)
        previous_end = end
    assert article.clean_text == "\n".join(raw[s:e] for s, e in article.paragraphs)
    assert article.content_hash == content_hash(raw + "\n" + article.title + article.url)


# --- dates, outlets, titles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "iso"),
    [
        ("12 November 2024 17:51", "2024-11-12"),
        ("Sabtu (30/11/2024)", "2024-11-30"),
        ("30/11/2024", "2024-11-30"),
        ("Rabu (7 / 2 / 2018)", "2018-02-07"),
        ("2024-11-30", "2024-11-30"),
        ("2024-11-30T10:15:00+07:00", "2024-11-30"),
        ("30-11-2024", "2024-11-30"),
        ("7 Mei 2023", "2023-05-07"),
        ("1 Agustus 2023", "2023-08-01"),
        ("1 Agu 2023", "2023-08-01"),
        ("5 Okt 2022", "2022-10-05"),
        ("24 Des 2021", "2021-12-24"),
        ("3 Januari 2024", "2024-01-03"),
        ("3 January 2024", "2024-01-03"),
        ("March 3, 2024", "2024-03-03"),
        ("17 Agt 2017", "2017-08-17"),
        ("31/02/2024", ""),  # not a day
        ("kemarin", ""),
    ],
)
def test_published_given_is_normalised(given: str, iso: str) -> None:
    assert clean(doc("Isi berita yang cukup panjang.", published=given)).published == iso


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Jakarta (ANTARA) - Presiden meresmikan jalan tol itu pada Sabtu (30/11/2024).", "2024-11-30"),
        ("Budi Santoso • Kamis, 12 Des 2024 10:00 WIB\nPresiden meresmikan jalan tol itu.", "2024-12-12"),
        ("Presiden meresmikan jalan tol, Rabu (7 / 2 / 2018).\nIa datang pada 1 Januari 2018.", "2018-02-07"),
        ("Presiden meresmikan jalan tol pada 12 November 2024 di Bekasi.", "2024-11-12"),
        ("JAKARTA - Pertemuan itu digelar pekan lalu.\nWarga mengatakan jalan itu dibuka Senin (27/3).", ""),
    ],
)
def test_published_found_in_text(text: str, iso: str) -> None:
    assert clean(doc(text)).published == iso


def test_published_from_url_when_text_has_none() -> None:
    url = "https://www.suara.com/news/2018/02/08/071337/kpk-minta-masyarakat-waspada"
    assert clean(doc("KPK meminta masyarakat waspada.", url=url)).published == "2018-02-08"


def test_only_lede_dates_without_weekday_count() -> None:
    """A bare date deep in the body is usually an event date, not the publication date."""
    body = "\n".join(["Polisi masih menyelidiki kasus itu."] * 3 + ["Sidang digelar pada 5 Maret 2025."])
    assert clean(doc(body)).published == ""


@pytest.mark.parametrize(
    ("text", "outlet"),
    [
        ("Liputan6.com, Pyongyang - Menteri Pertahanan Rusia bertemu Kim Jong Un.", "Liputan6.com"),
        ("Jakarta, CNN Indonesia -- Presiden Joko Widodo meresmikan jalan tol.", "CNN Indonesia"),
        ("Jakarta, CNN Indonesia - - Presiden Joko Widodo meresmikan jalan tol.", "CNN Indonesia"),
        ("JAKARTA, KOMPAS.com - Presiden Joko Widodo meresmikan jalan tol.", "Kompas.com"),
        ("Jakarta (ANTARA) - Presiden Joko Widodo meresmikan jalan tol.", "Antara"),
        ("Cilegon, Banten (ANTARA News) - Presiden Joko Widodo meresmikan jalan tol.", "Antara"),
        ("TEMPO.CO, Jakarta - Presiden Joko Widodo meresmikan jalan tol.", "Tempo.co"),
        ("GOLD COAST, JUARA.net - Tim Korea Selatan melaju ke final.", "Juara.net"),
        ("Suara.com - Cerita sekuel terbaru James Bond bocor.", "Suara.com"),
        ("Presiden Joko Widodo meresmikan jalan tol.\nSumber: Antara", "Antara"),
        ("Presiden Joko Widodo meresmikan jalan tol.\n© 2024 Detik.com. All rights reserved.", "detik.com"),
        ("Kim Jong-un - pemimpin Korea Utara - bertemu Putin.", ""),
        ("JAKARTA - Presiden Joko Widodo meresmikan jalan tol.", ""),
    ],
)
def test_outlet_from_text(text: str, outlet: str) -> None:
    article = clean(doc(text))
    assert article.outlet == outlet
    assert article.paragraphs  # the dateline stays in the first paragraph


@pytest.mark.parametrize(
    ("given", "outlet"),
    [
        ("cnn indonesia", "CNN Indonesia"),
        ("antaranews", "Antara"),
        ("KOMPAS.com", "Kompas.com"),
        ("Reuters", "Reuters"),
    ],
)
def test_outlet_given_is_normalised(given: str, outlet: str) -> None:
    assert clean(doc("Jakarta, CNN Indonesia -- Berita.", outlet=given)).outlet == outlet


def test_given_metadata_wins_and_title_line_is_dropped() -> None:
    text = "Harga Beras Naik Lagi\nHarga beras di pasar induk naik 5 persen pekan ini, kata pedagang."
    article = clean(
        doc(text, title="Harga Beras Naik Lagi", url="https://example.id/a", published="2024-01-02")
    )
    assert article.title == "Harga Beras Naik Lagi"
    assert article.published == "2024-01-02"
    assert article.url == "https://example.id/a"
    assert lines(article) == ["Harga beras di pasar induk naik 5 persen pekan ini, kata pedagang."]


def test_labels_are_not_titles_and_subheadings_are_not_titles() -> None:
    text = (
        "BREAKING\n\nGempa Guncang Cianjur\n\n"
        "Gempa berkekuatan 5,6 mengguncang Cianjur, Senin (21/11/2022).\nDampak Gempa\nRatusan rumah rusak."
    )
    article = clean(doc(text))
    assert article.title == "Gempa Guncang Cianjur"
    assert lines(article) == [
        "Gempa berkekuatan 5,6 mengguncang Cianjur, Senin (21/11/2022).",
        "Dampak Gempa",
        "Ratusan rumah rusak.",
    ]


def test_lead_question_is_not_a_title() -> None:
    text = "Pernahkah Anda menerima SMS dari nomor tak dikenal?\nPenipuan lewat SMS kini makin marak."
    article = clean(doc(text))
    assert lines(article)[0] == "Pernahkah Anda menerima SMS dari nomor tak dikenal?"
    assert article.title == "Pernahkah Anda menerima SMS dari nomor tak dikenal"


def test_derived_title_is_short() -> None:
    text = (
        "Jakarta, CNN Indonesia -- Pemerintah resmi menaikkan harga bahan bakar minyak bersubsidi "
        "mulai hari ini untuk menekan beban anggaran negara yang terus membengkak. "
        "Kebijakan itu diumumkan Presiden."
    )
    title = clean(doc(text)).title
    assert title == "Pemerintah resmi menaikkan harga bahan bakar minyak bersubsidi mulai hari ini"
    assert len(title.split()) <= 14


# --- boilerplate rules on a constructed article --------------------------------------------------------

CONSTRUCTED = """\
Banjir Rendam Ribuan Rumah di Bekasi
ADVERTISEMENT
Foto: ANTARA/Fakhri Hermansyah
Bekasi (ANTARA) - Banjir merendam ribuan rumah di Bekasi, Jawa Barat, Selasa (4/3/2025).
Scroll to continue with content
Ketinggian air mencapai dua meter di beberapa titik.
Baca Juga: Jakarta Siaga Banjir, Pintu Air Manggarai Siaga 1
Warga korban banjir mengungsi ke masjid dan sekolah. (Foto: Dok. BPBD)
Sumber pemerintah mengatakan, bantuan logistik sudah dikirim sejak pagi.
Oleh karena itu, warga diminta tetap waspada.
Iklan
Simak berita dan artikel lainnya di Google News
Ikuti kami di Instagram @beritabekasi
Dapatkan update berita pilihan setiap hari di WhatsApp
Petugas mengevakuasi warga dengan perahu karet. REUTERS/Willy Kurniawan
Credit: Shutterstock
Recent Posts
Harga Cabai Naik Jelang Ramadan
Timnas Indonesia Menang 2-0
Penulis: Budi Santoso
Editor: Ani Lestari
Budi Santoso adalah jurnalis yang meliput isu perkotaan sejak 2010.
(ant/rdk)
Copyright © 2025 ANTARA
"""


def test_constructed_article_is_cleaned() -> None:
    article = clean(doc(CONSTRUCTED))
    assert article.title == "Banjir Rendam Ribuan Rumah di Bekasi"
    assert article.outlet == "Antara"
    assert article.published == "2025-03-04"
    assert lines(article) == [
        "Bekasi (ANTARA) - Banjir merendam ribuan rumah di Bekasi, Jawa Barat, Selasa (4/3/2025).",
        "Ketinggian air mencapai dua meter di beberapa titik.",
        "Sumber pemerintah mengatakan, bantuan logistik sudah dikirim sejak pagi.",
        "Oleh karena itu, warga diminta tetap waspada.",
    ]


def test_trailing_bio_goes_but_a_quote_about_an_author_stays() -> None:
    quote = '"Musim kebakaran kini terjadi sepanjang tahun," kata Jennifer, yang merupakan penulis riset itu.'
    article = clean(doc(f"Kebakaran hutan meningkat di Amerika Serikat.\n{quote}"))
    assert lines(article)[-1] == quote
    bio = "Azeem\nSelamat datang! Saya seorang penulis berita gaming.\nRecent Posts\nJudul Lain"
    article = clean(doc(f"Kebakaran hutan meningkat di Amerika Serikat.\n{bio}"))
    assert lines(article) == ["Kebakaran hutan meningkat di Amerika Serikat."]


def test_related_links_after_a_bare_header_are_dropped() -> None:
    text = (
        "Harga minyak dunia turun tajam pekan ini.\n\nBaca juga:\n\n"
        "Selamat!\nNia Ramadhani Melahirkan Anak Ketiga\nEkonom memperkirakan harga akan pulih bulan depan."
    )
    assert lines(clean(doc(text))) == [
        "Harga minyak dunia turun tajam pekan ini.",
        "Ekonom memperkirakan harga akan pulih bulan depan.",
    ]


def test_repeated_lead_paragraph_is_kept_once() -> None:
    lead = (
        "Wamena (ANTARA News) - Pemerintah Kabupaten Jayawijaya mendatangkan tim arkeolog dari Makassar "
        "dan Jayapura untuk konservasi mumi."
    )
    article = clean(doc(f"{lead}\nTim tiba pekan lalu.\n{lead}"))
    assert lines(article) == [lead, "Tim tiba pekan lalu."]


def test_crlf_and_indented_lines_keep_exact_spans() -> None:
    text = "  Judul Berita Hari Ini \r\n\r\n\t Kalimat pertama.  \r\nAdvertisement\r\n Kalimat kedua. \r\n"
    article = clean(doc(text))
    assert article.title == "Judul Berita Hari Ini"
    assert [text[s:e] for s, e in article.paragraphs] == ["Kalimat pertama.", "Kalimat kedua."]


@pytest.mark.parametrize("text", ["", "   ", "\n\n \t\n", "Advertisement\nBaca Juga: Judul Lain\n(ant)"])
def test_empty_text_gives_no_paragraphs(text: str) -> None:
    article = clean(doc(text))
    assert article.paragraphs == ()
    assert article.clean_text == ""
    assert article.published == ""


def test_language() -> None:
    english = (
        "Russia's defence minister arrived in North Korea on Friday for talks with the military and "
        "political leaders, as the two countries deepen their cooperation over the war in Ukraine. It is the "
        "second visit in a year and it was announced by the ministry."
    )
    assert clean(doc(english)).language == "en"
    assert (
        clean(doc("Menteri Pertahanan Rusia tiba di Korea Utara pada hari Jumat untuk pembicaraan.")).language
        == "id"
    )


def test_content_hash_follows_metadata() -> None:
    text = "Harga beras naik 5 persen pekan ini."
    a = clean(doc(text, title="Harga Beras Naik"))
    b = clean(doc(text, title="Harga Beras Naik Lagi"))
    c = clean(doc(text, title="Harga Beras Naik", url="https://example.id/x"))
    assert len({a.content_hash, b.content_hash, c.content_hash}) == 3
    assert a.content_hash == clean(doc(text, title="Harga Beras Naik")).content_hash
