"""Clean a scraped news article: body paragraphs as spans into the raw text, plus title/outlet/date/language.

Why spans and not cleaned text: answers cite the article as it was published, so nothing here rewrites the
text. Each kept line becomes a ``(start, end)`` span into ``raw_text`` (trimmed of surrounding whitespace);
everything else is only *not selected*.

Why general rules and not per-site ones: the corpus grows with articles from sites we have never seen.
Every rule below describes a kind of boilerplate that Indonesian news sites share ("Baca juga: ...",
"Advertisement", "Foto: ...", "(ant/rdk)" editor initials, author bios, "Recent Posts" link lists, datelines
such as "Jakarta, CNN Indonesia --"), not a string from one article. The rules are deliberately conservative
about long lines: a real news sentence that is wrongly kept costs little, one that is wrongly dropped cannot
be cited. A short line that could be a related-story link or a section sub-heading is kept, unless it
follows a link-list header such as "Baca juga:" or "Recent Posts".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from vectorstore.types import Article, RawDocument, content_hash

# --- boilerplate lines ----------------------------------------------------------------------------

_ADVERTISEMENT = re.compile(
    r"^(?:advertisements?|advertisment|advertising|iklan|ads|sponsored(?: content)?"
    r"|konten (?:bersponsor|sponsor)|scroll to continue(?: with content)?|scroll (?:ke bawah|down)\b.*"
    r"|lanjutkan membaca|continue reading(?: below)?|content continues below|artikel berlanjut\b.*)\W*$",
    re.I,
)
# "Baca Juga: ...", "[Baca juga: ...]", "(Baca: ...)", "Baca_Juga", "Baca lebih lanjut ...", "SIMAK JUGA: ..."
_READ_MORE = re.compile(
    r"^[\[(]?\s*(?:baca(?:_juga)?\b|lihat juga\b|read (?:more|also)\b|see also\b"
    r"|(?:simak|tonton|saksikan)\s*(?::|(?:juga|pula|video|berita|selengkapnya|live|artikel)\b))",
    re.I,
)
# A header whose following short lines are links to other stories ("Recent Posts", "Berita Terkait", ...).
_LINK_LIST_HEADER = re.compile(
    r"^(?:recent posts|related(?: posts?| articles| stories| news)?|popular posts|more stories"
    r"|berita (?:terkait|lainnya|populer)|artikel (?:terkait|lainnya)|terpopuler|rekomendasi(?: untuk anda)?"
    r"|topik terkait|tags?)\s*:?$",
    re.I,
)
# "Ikuti kami di ...", "Jangan lupa ... follow akun", "Dapatkan berita terbaru di WhatsApp", "Follow us ..."
_SOCIAL_CALL = re.compile(
    r"^(?:(?:jangan lupa|yuk|ayo|mari|silakan)\s+)?"
    r"(?:ikuti|follow|subscribe|gabung(?:lah)?|join|dapatkan|download|unduh|klik)\b.*"
    r"\b(?:kami|us|akun|instagram|twitter|facebook|tiktok|youtube|google news|whatsapp|telegram|channel"
    r"|saluran|aplikasi|app|update)\b",
    re.I,
)
_SOCIAL_CHANNEL = re.compile(
    r"\b(?:google news|whatsapp channel|saluran whatsapp|telegram channel|line today)\b", re.I
)
_LABEL = re.compile(
    r"^(?:breaking(?: news)?|berita terkini|terkini|eksklusif|exclusive|video|foto|photo|galeri"
    r"|live(?: update)?|update|headline|trending|viral|opini|advertorial|infografis|populer|pilihan editor)"
    r"\s*[:!|]?$",
    re.I,
)
# Photo captions and credits: "Foto: ANTARA", "... Putin. Foto: KCNA", "(Foto: Dok. Humas)", "REUTERS/Kim".
_PHOTO_CREDIT_LEAD = re.compile(
    r"^\(?\s*(?:foto|photo|kredit(?: foto)?|credits?|sumber (?:foto|gambar)|ilustrasi|dok(?:umentasi)?\.?"
    r"|image)\s*:",
    re.I,
)
_PHOTO_CREDIT_TAIL = re.compile(r"\b(?:foto|photo|credit|kredit)\s*:\s*[^.:]{1,60}$", re.I)
_PHOTO_CREDIT_PAREN = re.compile(r"\((?:[^()]*\s)?(?:foto|photo)\s*[:/][^()]*\)", re.I)
_AGENCY_PHOTO_CREDIT = re.compile(
    r"\b(?:REUTERS|AFP|AP|ANTARA FOTO|EPA(?:-EFE)?|GETTY IMAGES|XINHUA|KCNA)\s*/\s*[A-Z]"
)
# A one-sentence caption ending in a credit: "... di Kharkiv. (Metin Aktas/Anadolu Agency via Getty Images)".
_CAPTION_CREDIT_END = re.compile(
    r"[.!?]\s*\((?:[^()]*\b(?:via|getty|foto|photo|dok|images?|agency|shutterstock|istimewa)\b[^()]*"
    r"|(?-i:[^()]*[A-Z][\w.]*\s*/\s*[A-Z][^()]*|[A-Z]{2,8}))\)$",
    re.I,
)
_QUOTE_OR_SPEECH = re.compile(r"[\"“”]|\b(?:kata|ujar|ucap|tutur|jelas|said|says)\w*\b", re.I)
# "Sumber", "Sumber: Antara", "Sumber berita Phandroid." (but not "Sumber pemerintah mengatakan, ...").
_SOURCE_LINE = re.compile(r"^sumber(?:\s*:.*|\s+(?:berita|foto|gambar|artikel|data|video)\b.*)?$", re.I)
_AUTHOR_LINE = re.compile(
    r"^(?:penulis|editor|reporter|pewarta|redaktur|kontributor|oleh|author|writer|penyunting|fotografer"
    r"|videografer|laporan wartawan)\s*:|^(?:written by|ditulis oleh)\b",
    re.I,
)
# A whole line of editor initials, author or credit in brackets: "(ant/rdk)", "(bac / nva)", "[PageSix.com]".
_BRACKETED_CREDIT = re.compile(r"^[\[(][^()\[\]]{1,40}[\])]$")
_NOT_A_CREDIT = re.compile(r"[.!?]\s|\d\s*/\s*\d")  # a sentence, or a score such as "(4 / 5 bintang)"
_COPYRIGHT = re.compile(r"^(?:copyright\b|hak cipta\b|\(c\)\s)|©|all rights reserved", re.I)
# Author / outlet bios, only trusted near the end of an article: "Saya seorang penulis berita gaming",
# "DailySocial.id adalah portal berita ...", "Budi adalah jurnalis ...". The subject opens the line, so a
# quote such as "..., kata X yang merupakan penulis penelitian itu" is not one.
_BIO = re.compile(
    r"^(?:[^\s\"“”]+\s+){1,4}(?:adalah|merupakan)\s+(?:seorang\s+)?(?:jurnalis|wartawan|penulis|editor|reporter"
    r"|kontributor|koresponden|portal berita|media online|situs berita)\b"
    r"|(?:^|[.!?]\s+)saya\s+(?:adalah\s+)?(?:seorang\s+)?(?:jurnalis|wartawan|penulis|editor|reporter|blogger)\b"
    r"|^(?:[^\s\"“”]+\s+){1,4}is an? (?:journalist|reporter|writer|editor|correspondent)\b",
    re.I,
)
_HAS_ALNUM = re.compile(r"\w")
_LINE = re.compile(r"[^\r\n]+")

# --- datelines, bylines, dates --------------------------------------------------------------------

_DASH = r"(?:\s+[-–—]|[-–—](?=\s))(?:\s*[-–—])*"  # " -", "- ", " - -", not the hyphen in "Jong-un"
# "Liputan6.com, Pyongyang -", "TEMPO.CO, Jakarta -", "Suara.com -", "Rimanews -"
_DATELINE_OUTLET_FIRST = re.compile(
    rf"^(?P<outlet>[^\s,()]+(?: [^\s,()]+)?)(?:\s*,\s*[^,()\-–—]{{1,40}}?)?{_DASH}"
)
# "Jakarta, CNN Indonesia --", "JAKARTA, KOMPAS.com -", "GOLD COAST, JUARA.net -"
_DATELINE_CITY_FIRST = re.compile(rf"^[^,()\-–—]{{2,40}},\s*(?P<outlet>[^,()\-–—]{{2,40}}?){_DASH}")
# "Jakarta (ANTARA) -", "JAKARTA (Pos Kota) –"
_DATELINE_PARENTHESISED = re.compile(rf"^[^()\-–—]{{2,40}}\((?P<outlet>[^()]{{2,30}})\){_DASH}")
_DOMAIN = re.compile(r"\b[a-z][\w-]*(?:\.(?:com|co|id|net|org|tv|news)){1,2}\b", re.I)
_WEEKDAY = (
    r"(?:senin|selasa|rabu|kamis|jum'?at|sabtu|minggu|ahad|monday|tuesday|wednesday|thursday|friday|saturday"
    r"|sunday)"
)
_BYLINE_MARKER = re.compile(
    rf"[•|·]|\b(?:WIB|WITA|WIT|GMT|UTC)\b|^{_WEEKDAY}\s*,"
    r"|\b(?:diperbarui|dipublikasikan|diterbitkan|terbit|published|updated|posted)\b",
    re.I,
)
_MONTHS = {
    "januari": 1, "january": 1, "jan": 1, "februari": 2, "pebruari": 2, "february": 2, "feb": 2,
    "maret": 3, "march": 3, "mar": 3, "april": 4, "apr": 4, "mei": 5, "may": 5,
    "juni": 6, "june": 6, "jun": 6, "juli": 7, "july": 7, "jul": 7,
    "agustus": 8, "august": 8, "agu": 8, "agt": 8, "ags": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "oktober": 10, "october": 10, "okt": 10, "oct": 10,
    "november": 11, "nopember": 11, "nov": 11, "desember": 12, "december": 12, "des": 12, "dec": 12,
}  # fmt: skip
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_PATTERNS: list[tuple[re.Pattern[str], tuple[int, int, int]]] = [
    # (pattern, group numbers of year, month, day)
    (re.compile(rf"\b(\d{{1,2}})\s+({_MONTH})\.?,?\s+(\d{{4}})(?!\d)", re.I), (3, 2, 1)),  # 12 November 2024
    (re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})(?!\d)", re.I), (3, 1, 2)),  # November 12, 2024
    (re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{4})(?!\d)"), (3, 2, 1)),  # (7 / 2 / 2018)
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"), (1, 2, 3)),  # 2024-11-30, 2024-11-30T10:00:00Z
    (re.compile(r"\b(\d{1,2})-(\d{1,2})-(\d{4})(?!\d)"), (3, 2, 1)),  # 30-11-2024
]
_WEEKDAY_BEFORE = re.compile(rf"\b{_WEEKDAY}\s*[,(]?\s*$", re.I)  # "Sabtu (", "Selasa, " before a date
# /2017/05/11/ or /20170903205418-... in article URLs
_URL_DATE = re.compile(r"/((?:19|20)\d{2})(/?)(\d{2})\2(\d{2})(?:\d{6})?(?=[/\-_.]|$)")
_LEDE_PARAGRAPHS = 3  # a date without a weekday is only trusted this close to the top

# --- outlets --------------------------------------------------------------------------------------

_KNOWN_OUTLETS = {
    "antara": "Antara", "antaranews": "Antara", "cnnindonesia": "CNN Indonesia",
    "cnbcindonesia": "CNBC Indonesia", "kompas": "Kompas.com", "liputan6": "Liputan6.com",
    "detik": "detik.com", "detiknews": "detik.com", "tempo": "Tempo.co", "tribunnews": "Tribunnews.com",
    "okezone": "Okezone", "republika": "Republika", "suara": "Suara.com", "merdeka": "Merdeka.com",
    "metrotvnews": "Metrotvnews.com", "medcom": "Medcom.id", "viva": "VIVA", "jpnn": "JPNN.com",
    "sindonews": "SINDOnews", "kumparan": "kumparan", "bisnis": "Bisnis.com", "beritasatu": "Beritasatu",
    "idntimes": "IDN Times", "tirto": "Tirto.id", "jawapos": "Jawa Pos", "kontan": "Kontan",
    "katadata": "Katadata", "poskota": "Pos Kota", "poskotanews": "Pos Kota", "juara": "Juara.net",
    "rimanews": "Rimanews", "goalindonesia": "Goal Indonesia", "dailysocial": "DailySocial.id",
    "bbcindonesia": "BBC News Indonesia", "voaindonesia": "VOA Indonesia", "gatra": "Gatra",
}  # fmt: skip
# "Sumber: Antara", "(Antara)", "[Antara]": the agency or outlet a story is credited to, at its end
_CREDITED_SOURCE = re.compile(r"^(?:sumber\s*:\s*|[\[(])\s*([^()\[\]]{2,40}?)\s*[\])]?\.?$", re.I)
_ACRONYM = re.compile(r"[A-Z]{3}")  # "CNN Indonesia" in "Jakarta, CNN Indonesia --"
_TLD_SUFFIX = re.compile(r"\.(?:co\.id|com|co|id|net|org|tv)$", re.I)
_SPACES_AND_DOTS = re.compile(r"[\s.]+")

# --- title and language ---------------------------------------------------------------------------

_TITLE_MAX_WORDS = 20
_DERIVED_TITLE_WORDS = 12
_TITLE_BREAK_WORDS = {
    "dan", "serta", "yang", "untuk", "karena", "setelah", "sebelum", "ketika", "saat", "namun", "tetapi",
    "sedangkan", "and", "but", "which", "that", "after", "before", "while", "when",
}  # fmt: skip
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“A-Z0-9])")
_WORDS = re.compile(r"[a-z]+")
_ID_STOPWORDS = {"yang", "dan", "di", "ini", "itu", "dengan", "untuk", "dari", "dalam", "tidak", "pada"}
_EN_STOPWORDS = {"the", "and", "of", "to", "is", "that", "in", "for", "was", "with", "on", "are"}


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    text: str


def clean(doc: RawDocument) -> Article:
    """Body paragraphs (spans into ``doc.raw_text``) and metadata; metadata given on ``doc`` wins."""
    lines = _split_lines(doc.raw_text)
    kept, dropped = _drop_boilerplate(lines)

    title_line: _Line | None = None
    if doc.title.strip():
        title = " ".join(doc.title.split())
    else:
        title_line = next((ln for ln in kept[:1] if _is_headline(ln.text)), None)
        title = title_line.text if title_line else ""
    title_area = [ln for ln in lines if ln.start <= title_line.start] if title_line else []

    body = _dedupe([ln for ln in kept if _norm(ln.text) != _norm(title)])
    body, bio = _trim_trailing_bio(body)
    dropped += bio

    outlet_from_text = ""
    if body:
        outlet_from_text, prefix_end = _dateline(body[0].text)
        if prefix_end == len(body[0].text):  # a dateline on a line of its own ("Suara.com -")
            dropped.append(body.pop(0))
    if not title and body:
        title = _title_from_sentence(body[0].text)

    if doc.published.strip():
        published = _normalise_date(doc.published)
    else:
        bylines = [ln for ln in dropped if _is_byline(ln.text)]
        published = _publication_date(bylines, doc.url, title_area + body)

    outlet = _display_outlet(doc.outlet) or outlet_from_text or _outlet_from_boilerplate(dropped)
    clean_text = "\n".join(ln.text for ln in body)
    return Article(
        id=doc.id,
        raw_text=doc.raw_text,
        source=doc.source,
        title=title,
        outlet=outlet,
        published=published,
        url=doc.url,
        language=detect_language(clean_text),
        paragraphs=tuple((ln.start, ln.end) for ln in body),
        content_hash=content_hash(doc.raw_text + "\n" + title + doc.url),
    )


# --- lines ----------------------------------------------------------------------------------------


def _split_lines(text: str) -> list[_Line]:
    """Non-blank lines, each trimmed, with offsets into ``text``."""
    lines: list[_Line] = []
    for m in _LINE.finditer(text):
        raw = m.group()
        stripped = raw.strip()
        if stripped:
            start = m.start() + (len(raw) - len(raw.lstrip()))
            lines.append(_Line(start, start + len(stripped), stripped))
    return lines


def _drop_boilerplate(lines: list[_Line]) -> tuple[list[_Line], list[_Line]]:
    kept: list[_Line] = []
    dropped: list[_Line] = []
    in_link_list = False
    links_left = 0
    for line in lines:
        text = line.text
        if in_link_list and links_left > 0 and _is_link(text) and not _boilerplate_reason(text):
            dropped.append(line)
            links_left -= 1
            continue
        in_link_list = False
        if _LINK_LIST_HEADER.match(text) or (_READ_MORE.match(text) and text.endswith(":")):
            in_link_list, links_left = True, (50 if text.lower().startswith("recent") else 10)
            dropped.append(line)
        elif _boilerplate_reason(text):
            dropped.append(line)
        else:
            kept.append(line)
    return kept, dropped


def _boilerplate_reason(text: str) -> str:
    """Why ``text`` (one trimmed line) is site boilerplate, or "" if it may be article text."""
    words = len(text.split())
    if not _HAS_ALNUM.search(text):
        return "punctuation"
    if _ADVERTISEMENT.match(text):
        return "advertisement"
    if _LABEL.match(text) or _LINK_LIST_HEADER.match(text):
        return "label"
    if words <= 30 and _READ_MORE.match(text):
        return "read more"
    if words <= 30 and _SOCIAL_CALL.match(text) or words <= 8 and _SOCIAL_CHANNEL.search(text):
        return "social"
    if words <= 20 and _COPYRIGHT.search(text):
        return "copyright"
    if words <= 12 and _SOURCE_LINE.match(text):
        return "source"
    if words <= 20 and _AUTHOR_LINE.match(text):
        return "author"
    if words <= 5 and _BRACKETED_CREDIT.match(text) and not _NOT_A_CREDIT.search(text):
        return "credit"
    if words <= 40 and (_PHOTO_CREDIT_LEAD.match(text) or _PHOTO_CREDIT_TAIL.search(text)):
        return "photo"
    if words <= 50 and (_PHOTO_CREDIT_PAREN.search(text) or _AGENCY_PHOTO_CREDIT.search(text)):
        return "photo"
    if words <= 50 and _is_credited_caption(text):
        return "photo"
    if _is_byline(text):
        return "byline"
    return ""


def _is_credited_caption(text: str) -> bool:
    """One sentence ending in a photo credit, without quotes or speech verbs (which captions do not have)."""
    m = _CAPTION_CREDIT_END.search(text)
    if not m:
        return False
    sentence = text[: m.start() + 1]
    return not _SENTENCE_END.search(sentence) and not _QUOTE_OR_SPEECH.search(sentence)


def _is_byline(text: str) -> bool:
    """A short author/date line: "Fajar Nugraha • 12 November 2024 17:51", "Kamis, 12 Des 2024 10:00 WIB"."""
    return (
        len(text.split()) <= 14
        and not text.endswith((".", ":"))
        and _BYLINE_MARKER.search(text) is not None
        and _find_date(text) is not None
    )


def _is_link(text: str) -> bool:
    """A related-story link title: short and not a sentence."""
    return len(text.split()) <= 20 and len(text) <= 160 and not text.endswith((".", ",", ";", ":", ")"))


def _is_headline(text: str) -> bool:
    """Short, not a sentence, not a dateline. A question counts only in Title Case: a lead paragraph may
    open with one ("Pernahkah Anda ...?"); a headline asks "Apakah Rusia dan Korea Utara Bersahabat?"."""
    words = text.split()
    if not 2 <= len(words) <= _TITLE_MAX_WORDS or len(text) > 160 or text.endswith((".", ",", ";", ":")):
        return False
    if text.endswith(("?", "!")):
        long_words = [w for w in words if len(w) >= 4 and w[0].isalpha()]
        if sum(w[0].isupper() for w in long_words) * 2 < len(long_words):
            return False
    return _dateline(text)[1] == 0


def _is_name(text: str) -> bool:
    words = text.split()
    return 1 <= len(words) <= 4 and all(w[0].isupper() and w.isalpha() for w in words)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _dedupe(lines: list[_Line]) -> list[_Line]:
    """Drop exact repeats of long lines (pages that print the lead paragraph twice); short ones may recur."""
    seen: set[str] = set()
    out: list[_Line] = []
    for line in lines:
        key = _norm(line.text)
        if len(key) >= 100:
            if key in seen:
                continue
            seen.add(key)
        out.append(line)
    return out


def _trim_trailing_bio(body: list[_Line]) -> tuple[list[_Line], list[_Line]]:
    """An author or outlet bio near the end goes, with everything after it and a name line just before it."""
    for i in range(max(0, len(body) - 4), len(body)):
        if len(body[i].text.split()) <= 80 and _BIO.search(body[i].text):
            cut = i - 1 if i > 0 and _is_name(body[i - 1].text) else i
            return body[:cut], body[cut:]
    return body, []


# --- metadata -------------------------------------------------------------------------------------


def _dateline(text: str) -> tuple[str, int]:
    """(outlet display name, end of the dateline prefix) of "Jakarta, CNN Indonesia -- ..." or ("", 0)."""
    for pattern in (_DATELINE_PARENTHESISED, _DATELINE_OUTLET_FIRST, _DATELINE_CITY_FIRST):
        m = pattern.match(text)
        if not m:
            continue
        name = m.group("outlet").strip()
        plausible = (
            pattern is _DATELINE_PARENTHESISED
            or _DOMAIN.fullmatch(name) is not None
            or _outlet_key(name) in _KNOWN_OUTLETS
            or (pattern is _DATELINE_CITY_FIRST and len(name.split()) <= 3 and _ACRONYM.search(name))
        )
        if plausible:
            end = m.end()
            while end < len(text) and text[end].isspace():
                end += 1
            return _display_outlet(name), end
    return "", 0


def _outlet_key(name: str) -> str:
    name = _TLD_SUFFIX.sub("", name.strip().lower().removeprefix("www."))
    return _SPACES_AND_DOTS.sub("", name)


def _display_outlet(name: str) -> str:
    """ "ANTARA News" -> "Antara", "KOMPAS.com" -> "Kompas.com", "cnn indonesia" -> "CNN Indonesia"."""
    name = " ".join(name.split()).strip(" .,:;()[]")
    if not name:
        return ""
    known = _KNOWN_OUTLETS.get(_outlet_key(name))
    if known:
        return known
    if _DOMAIN.fullmatch(name):
        site, _, tld = name.partition(".")
        return (site.capitalize() if site.isupper() or site.islower() else site) + "." + tld.lower()
    if name.isupper() or name.islower():
        return name.title()
    return name


def _outlet_from_boilerplate(dropped: list[_Line]) -> str:
    """Fallback outlet: a known outlet credited at the end ("Sumber: Antara", "(Antara)"), else a site domain
    named in a follow-us, copyright or bio line ("... follow akun Google News Metrotvnews.com")."""
    for line in sorted(dropped, key=lambda ln: -ln.start):
        m = _CREDITED_SOURCE.match(line.text)
        if m and _outlet_key(m.group(1)) in _KNOWN_OUTLETS:
            return _display_outlet(m.group(1))
    for line in dropped:
        text = line.text
        promo = _SOCIAL_CALL.match(text) or _SOCIAL_CHANNEL.search(text) or _COPYRIGHT.search(text)
        m = _DOMAIN.search(text) if promo or _BIO.search(text) else None
        if m:
            return _display_outlet(m.group())
    return ""


def _find_date(text: str, after: re.Pattern[str] | None = None) -> tuple[int, date] | None:
    """(position, date) of the earliest full date (with a year) in ``text``; with ``after``, only dates whose
    preceding text ends with a match of it."""
    best: tuple[int, date] | None = None
    for pattern, (yi, mi, di) in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if after is not None and not after.search(text, 0, m.start()):
                continue
            month_text = m.group(mi)
            month = _MONTHS.get(month_text.lower()) if not month_text.isdigit() else int(month_text)
            try:
                found = date(int(m.group(yi)), month or 0, int(m.group(di)))
            except ValueError:
                continue
            if 1900 <= found.year <= 2100 and (best is None or m.start() < best[0]):
                best = (m.start(), found)
            break
    return best


def _publication_date(bylines: list[_Line], url: str, text_lines: list[_Line]) -> str:
    """The most trustworthy date first: a byline, a date in the URL, a reporting day in the text
    ("Sabtu (30/11/2024)"), else a full date in the first paragraphs (later ones tend to be event dates)."""
    for line in bylines:
        found = _find_date(line.text)
        if found:
            return found[1].isoformat()
    m = _URL_DATE.search(url)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(3)), int(m.group(4))).isoformat()
        except ValueError:
            pass
    for line in text_lines:
        found = _find_date(line.text, after=_WEEKDAY_BEFORE)
        if found:
            return found[1].isoformat()
    for line in text_lines[:_LEDE_PARAGRAPHS]:
        found = _find_date(line.text)
        if found:
            return found[1].isoformat()
    return ""


def _normalise_date(value: str) -> str:
    """ISO date of a given publication date ("2024-11-30T10:00:00Z", "30/11/2024", "12 Nov 2024") or ""."""
    found = _find_date(value.strip())
    return found[1].isoformat() if found else ""


def _title_from_sentence(text: str) -> str:
    """A short title from the first sentence of the lead paragraph, without its dateline."""
    text = text[_dateline(text)[1] :]
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0].rstrip(".!? ")
    words = sentence.split()
    if len(words) <= _DERIVED_TITLE_WORDS + 2:
        return " ".join(words)
    # Cut before a conjunction (or after a comma) near the limit rather than mid-phrase.
    limit = _DERIVED_TITLE_WORDS + 2
    for i in range(limit - 1, 5, -1):
        if words[i].lower() in _TITLE_BREAK_WORDS:
            return " ".join(words[:i]).rstrip(",;:")
        if words[i - 1].endswith(","):
            return " ".join(words[:i]).rstrip(",")
    return " ".join(words[:_DERIVED_TITLE_WORDS]) + "…"


def detect_language(text: str) -> str:
    """ "id" or "en" by stopword counts; cheap, and good enough for whole news articles."""
    words = _WORDS.findall(text.lower())
    id_count = sum(w in _ID_STOPWORDS for w in words)
    en_count = sum(w in _EN_STOPWORDS for w in words)
    return "en" if en_count > id_count else "id"
