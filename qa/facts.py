"""The checkable facts of a text: names, numbers and months, normalised across Indonesian and English.

Why: a claim can be worded nothing like its source and still be right, but the names, numbers and dates it
states must be the source's. "10.000" (Indonesian grouping), "10,000" (English) and "sepuluh ribu" are one
number; "12 November" and "November 12" and "12 Nov." are one date; "Rusia" and "Russia" one name. This
module is the one place where such a token becomes a comparable value: the support check (qa.citations) and
the evidence scorer's answer-type features (qa.scorer) both call it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from qa.keyword import english_stopwords, is_indonesian_word
from vectorstore.dates import MONTHS

# Number words that stand for a value in either language ("tiga orang", "three people").
NUMBER_WORDS: dict[str, float] = {
    # "satu"/"one" are left out: "salah satu" / "one of" state no count.
    **dict.fromkeys(("dua", "two"), 2.0),
    **dict.fromkeys(("tiga", "three"), 3.0),
    **dict.fromkeys(("empat", "four"), 4.0),
    **dict.fromkeys(("lima", "five"), 5.0),
    **dict.fromkeys(("enam", "six"), 6.0),
    **dict.fromkeys(("tujuh", "seven"), 7.0),
    **dict.fromkeys(("delapan", "eight"), 8.0),
    **dict.fromkeys(("sembilan", "nine"), 9.0),
    **dict.fromkeys(("sepuluh", "ten"), 10.0),
    **dict.fromkeys(("seratus", "hundred"), 100.0),
    **dict.fromkeys(("seribu", "thousand"), 1000.0),
}
# Scale words: "2,5 juta" and "2.5 million" are the same number, and a source may write either "2,5 juta" or
# "2.500.000"; both sides are compared by their leading figure and, separately, by the full value.
SCALES: dict[str, float] = {
    "ribu": 1e3,
    "thousand": 1e3,
    "juta": 1e6,
    "million": 1e6,
    "miliar": 1e9,
    "milyar": 1e9,
    "billion": 1e9,
    "triliun": 1e12,
    "trillion": 1e12,
}

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)
# 10.000 / 10,000 / 1.250.000 (grouped thousands) and 2,5 / 2.5 (decimals); a plain run of digits otherwise.
_NUMBER = re.compile(r"\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*(?![.,]?\d)|\d+(?:[.,]\d+)?")
_NEXT_WORD = re.compile(r"\s*([^\W\d_]+)")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;«\"“(\[]\s*)$")


def parse_number(token: str) -> float | None:
    """The value of a written figure: grouping dots or commas (three digits after each) are thousands
    separators, a single dot or comma before one or two digits (or more than three) is a decimal mark."""
    if not token or not token[0].isdigit():
        return None
    if re.fullmatch(r"\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*", token):
        # "10.000" and "10,000" are both ten thousand: news in either language groups thousands this way.
        return float(re.sub(r"[.,]", "", token))
    try:
        return float(token.replace(",", "."))
    except ValueError:
        return None


@dataclass(frozen=True)
class Facts:
    """What a text states that a claim about it must not change."""

    numbers: frozenset[float]
    months: frozenset[int]
    names: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.numbers or self.months or self.names)


def _numbers(text: str) -> set[float]:
    values: set[float] = set()
    words = [w.lower() for w in _WORD.findall(text)]
    for m in _NUMBER.finditer(text):
        value = parse_number(m.group(0))
        if value is None:
            continue
        values.add(value)
        after = _NEXT_WORD.match(text, m.end())
        if after and after.group(1).lower() in SCALES:
            values.add(value * SCALES[after.group(1).lower()])
    for i, w in enumerate(words):
        if w in NUMBER_WORDS:
            value = NUMBER_WORDS[w]
            if i + 1 < len(words) and words[i + 1] in SCALES:
                value *= SCALES[words[i + 1]]
            values.add(value)
    return values


def names(text: str, known_common: Iterable[str] = ()) -> set[str]:
    """Lower-cased capitalised words that are names: not a month, number or scale word, not a common
    Indonesian word written with a capital ("Presiden", "Kementerian"), not an English stopword or common
    title word, not a word that opens English sentences ("According", "However"); and words with inner
    capitals or all-capital acronyms ("AS", "tvOne") wherever they stand. A sentence's first word counts:
    "Putin signed it" names Putin."""
    common = {w.lower() for w in known_common}
    out: set[str] = set()
    for m in _WORD.finditer(text):
        word = m.group(0)
        low = word.lower()
        if low in MONTHS or low in common or low in NUMBER_WORDS or low in SCALES:
            continue
        inner = any(ch.isupper() for ch in word[1:])
        if inner and len(word) >= 2:
            out.add(low)
            continue
        if not word[:1].isupper() or len(word) < 3:
            continue
        if is_indonesian_word(low) or low in _ENGLISH_COMMON or low in english_stopwords():
            continue
        if _SENTENCE_START.search(text[: m.start()]) and low in _SENTENCE_OPENERS:
            continue
        out.add(low)
    return out


# Capitalised English words that are not names (titles, days, institutions' common words).
_ENGLISH_COMMON = frozenset(
    [
        "president",
        "minister",
        "ministry",
        "prime",
        "foreign",
        "defence",
        "defense",
        "security",
        "council",
        "national",
        "state",
        "states",
        "united",
        "republic",
        "government",
        "army",
        "navy",
        "police",
        "court",
        "parliament",
        "house",
        "senate",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "north",
        "south",
        "east",
        "west",
        "central",
        "the",
        "a",
        "an",
        "according",
        "article",
        "articles",
        "source",
        "sources",
        "english",
        "indonesian",
    ]
)
# Words that open English sentences without being names (a capitalised word elsewhere in a sentence that
# is no common word is taken for a name; at the start of one, these are not).
_SENTENCE_OPENERS = frozenset(
    [
        "according",
        "also",
        "although",
        "based",
        "besides",
        "both",
        "despite",
        "however",
        "meanwhile",
        "moreover",
        "nevertheless",
        "overall",
        "since",
        "still",
        "thus",
        "therefore",
        "yes",
        "there",
        "this",
        "that",
        "these",
        "those",
        "then",
        "instead",
        "later",
        "earlier",
        "previously",
        "currently",
        "today",
        "yesterday",
    ]
)


def facts(text: str) -> Facts:
    """The numbers (values), months and names a text states."""
    months = {MONTHS[w.lower()] for w in _WORD.findall(text) if w.lower() in MONTHS and len(w) > 3}
    return Facts(frozenset(_numbers(text)), frozenset(months), frozenset(names(text)))


def _name_runs(text: str, known: frozenset[str]) -> list[list[str]]:
    """The claim's names grouped into runs of adjacent capitalised words ("Kim Jong Un" -> one run)."""
    runs: list[list[str]] = []
    current: list[str] = []
    for word in [*_WORD.findall(text), ""]:
        low = word.lower()
        if low in known:
            current.append(low)
        elif word[:1].isupper() and current:
            continue  # a short word inside a name ("Un", "No") neither breaks nor joins a run
        elif current:
            runs.append(current)
            current = []
    return [list(dict.fromkeys(r)) for r in runs]


@lru_cache(maxsize=1)
def _country_words() -> dict[str, frozenset[str]]:
    """English country-name word -> the words of its Indonesian name ("japan" -> {"jepang"}), from
    pycountry's ISO 3166 names and their Indonesian translation: an English answer names the country the
    Indonesian source names, in other words."""
    import gettext

    import pycountry

    indonesian = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["id"], fallback=True)
    out: dict[str, set[str]] = {}
    for country in pycountry.countries:
        target = {w.lower() for w in _WORD.findall(indonesian.gettext(country.name))}
        for attr in ("name", "common_name", "official_name"):
            words = _WORD.findall(getattr(country, attr, "") or "")
            if len(words) == 1:
                out.setdefault(words[0].lower(), set()).update(target)
    return {k: frozenset(v) for k, v in out.items()}


_DIRECTIONS = (("north", "utara"), ("south", "selatan"), ("east", "timur"), ("west", "barat"))
# A compass word in a place name, with its translation: both must agree for the name to be the same place.
COMPASS: dict[str, frozenset[str]] = {w: frozenset(pair) for pair in _DIRECTIONS for w in pair}


_COMPASS_NAME = re.compile(
    r"\b(north|south|east|west)(?:ern)?\s+[A-Z]\w+|\b[A-Z]\w+\s+(utara|selatan|timur|barat)\b", re.I
)


def _compass_missing(claim: str, words: set[str]) -> list[str]:
    """Compass words of the claim's place names ("South Korea", "Korea Selatan") that the source does not
    state in either language: "Korea" alone matches both Koreas, so the direction must match too."""
    out = []
    for m in _COMPASS_NAME.finditer(claim):
        direction = (m.group(1) or m.group(2)).lower()
        if m.group(0)[:1].isupper() and not COMPASS[direction] & words:
            out.append(m.group(0))
    return out


def _name_found(name: str, pool: set[str]) -> bool:
    if name in pool or _country_words().get(name, frozenset()) & pool:
        return True
    if any(w.startswith(name) and len(w) - len(name) <= 3 for w in pool):  # "Jerman"/"Jermannya"
        return True
    return bool(difflib.get_close_matches(name, pool, n=1, cutoff=0.8))  # "Russia"/"Rusia"


def unsupported_facts(claim: str, source: str, context: str = "") -> list[str]:
    """The claim's names, numbers and months that ``source`` does not state, as readable strings.

    ``context`` (the question) may supply names the claim repeats from it: "Belousov replaced Shoigu" cited
    to "Ia menggantikan Shoigu" is supported when the question named Belousov. A name written in full
    ("Andrei Belousov") is supported when the source names that person by another of its words
    ("Belousov"); a different person ("Kim Jong Un" for a sentence about Belousov) shares none; a compass
    word must match too ("South Korea" for "Korea Utara" is another country). Names are
    matched on their lower-cased words with a short suffix or a small spelling difference allowed; numbers
    by value, also across a scale word ("2,5 juta" / "2.5 million" / "2.500.000"); months by number.
    """
    c, s = facts(claim), facts(source)
    words = {w.lower() for w in _WORD.findall(source)} | {w.lower() for w in _WORD.findall(context)}
    found = {name for name in c.names if _name_found(name, words)}
    missing: list[str] = []
    for run in _name_runs(claim, c.names):
        if not found & set(run):
            missing += [name for name in run if name not in found]
    missing += _compass_missing(claim, words)
    context_numbers = _numbers(context)
    for value in sorted(c.numbers):
        if value not in s.numbers and value not in context_numbers:
            missing.append(f"{value:g}")
    for month in sorted(c.months - s.months):
        missing.append(f"month {month}")
    return missing
