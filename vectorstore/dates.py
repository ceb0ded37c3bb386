"""Dates of the corpus: the one number a date becomes wherever articles are filtered by date, and the days a
sentence mentions.

Chroma's ``where`` filters compare numbers, not strings, and the keyword index filters the same chunks in
Python; both must agree on what a date is, so both call ``day_number`` (the store writes it as the chunk's
``published_day``, qa.retrieval builds the filters with it). An unknown date is 0, which no date range
contains: an article without a stated date is never given the ingest day or any other guessed one.

Sentences are dated with a pattern pass (numeric "29/11", "29 November 2024", "November 29", months named
alone and weekday names), each resolved against the article's publication date: every chunk is dated at
ingest and every evidence candidate on every question, where dateparser's free-text search costs ~100x more
per sentence (qa/dates.py parses questions with dateparser, once per question).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

UNKNOWN_DAY = 0


def day_number(value: str | date | None) -> int:
    """20241130 for date(2024, 11, 30) or '2024-11-30' (an ISO datetime's day counts); 0 when unknown."""
    if value is None or value == "":
        return UNKNOWN_DAY
    if isinstance(value, date):
        return value.year * 10000 + value.month * 100 + value.day
    digits = str(value)[:10].replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        return UNKNOWN_DAY
    try:
        return day_number(date(int(digits[:4]), int(digits[4:6]), int(digits[6:])))
    except ValueError:
        return UNKNOWN_DAY


MONTHS: dict[str, int] = {}
for _i, _names in enumerate(
    [
        ("januari", "january", "jan"),
        ("februari", "pebruari", "february", "feb", "peb"),
        ("maret", "march", "mar"),
        ("april", "apr"),
        ("mei", "may"),
        ("juni", "june", "jun"),
        ("juli", "july", "jul"),
        ("agustus", "august", "agu", "agt", "aug"),
        ("september", "sept", "sep"),
        ("oktober", "october", "okt", "oct"),
        ("november", "nopember", "nov", "nop"),
        ("desember", "december", "des", "dec"),
    ],
    start=1,
):
    for _name in _names:
        MONTHS[_name] = _i

WEEKDAYS: dict[str, int] = {
    **dict.fromkeys(("senin", "monday"), 0),
    **dict.fromkeys(("selasa", "tuesday"), 1),
    **dict.fromkeys(("rabu", "wednesday"), 2),
    **dict.fromkeys(("kamis", "thursday"), 3),
    **dict.fromkeys(("jumat", "jum'at", "friday"), 4),
    **dict.fromkeys(("sabtu", "saturday"), 5),
    **dict.fromkeys(("minggu", "ahad", "sunday"), 6),
}

MONTH_PATTERN = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})\s+({MONTH_PATTERN})\.?(?:\s+(\d{{4}}))?\b", re.I)
_MONTH_DAY = re.compile(rf"\b({MONTH_PATTERN})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I)
# "29/11/2024" anywhere; "29/11" only as datelines write it, "(29/11)" or "tanggal 29/11", not a score "2/3".
# Detokenised text spaces the slashes: "(15 / 11)".
_NUMERIC = re.compile(
    r"(?:(?<=\()|(?<=tanggal )|(?<=tgl\. )|(?<=tgl ))"
    r"(\d{1,2}) ?/ ?(\d{1,2})(?: ?/ ?(\d{4}|\d{2}))?(?![\d/.,]\d)"
    r"|(?<![\d/.,])(\d{1,2}) ?/ ?(\d{1,2}) ?/ ?(\d{4})(?![\d/.,]\d)",
    re.I,
)
# A month without a day, where it names a time: "pada bulan Juni", "sejak Juni 2024", "in June".
_MONTH_ONLY = re.compile(
    rf"\b(?:pada|sejak|awal|akhir|pertengahan|bulan|in|since|early|late|mid-?)\s+(?:bulan\s+)?({MONTH_PATTERN})\b"
    rf"(?:\s+(\d{{4}}))?(?!\s*\d{{1,2}}\b)",
    re.I,
)
# A weekday only where it names a day ("pada Jumat", "hari Minggu", "on Friday"), not "minggu lalu" (a week).
_WEEKDAY = re.compile(
    r"\b(?:pada|hari|sejak|on|last|since)\s+(?:hari\s+)?"
    r"(senin|selasa|rabu|kamis|jum'?at|sabtu|minggu|ahad|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"\b(?!\s*(?:lalu|ini|depan|kemarin|ke-?\d))",
    re.I,
)


@dataclass(frozen=True, order=True)
class Mention:
    """A day or a whole month a sentence mentions ("29/11", "pada bulan Juni"), as ``first``..``last``."""

    first: date
    last: date

    @property
    def is_month(self) -> bool:
        return self.first != self.last

    def iso(self) -> str:
        """'2024-11-29' for a day, '2024-06' for a month (ISO 8601's reduced precision)."""
        return self.first.isoformat()[:7] if self.is_month else self.first.isoformat()

    @classmethod
    def from_iso(cls, value: str) -> Mention:
        if len(value) == 7:
            return cls(*day_span(date.fromisoformat(value + "-01"), "month"))
        day = date.fromisoformat(value)
        return cls(day, day)


def day_span(day: date, granularity: str) -> tuple[date, date]:
    if granularity == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    if granularity == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if granularity == "week":
        return day, day + timedelta(days=6)
    return day, day


def _day_or_none(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _with_year(month: int, day: int, year: str | None, published: date | None) -> date | None:
    """A stated year as written; none stated, the latest such day not after publication (news reports the
    past), or None when the article has no date either."""
    if year:
        y = int(year)
        return _day_or_none(y + 2000 if y < 100 else y, month, day)
    if published is None:
        return None
    found = _day_or_none(published.year, month, day)
    if found is not None and found > published + timedelta(days=1):
        found = _day_or_none(published.year - 1, month, day)
    return found


def _month_of(month: int, year: str | None, published: date | None) -> Mention | None:
    """A month stated alone: its year as written, else the latest such month not after publication."""
    if year:
        y = int(year)
    elif published is not None:
        y = published.year if month <= published.month else published.year - 1
    else:
        return None
    return Mention(*day_span(date(y, month, 1), "month"))


def mentioned_days(text: str, published: date | None) -> tuple[Mention, ...]:
    """The days (and months named alone) ``text`` mentions, in order of mention, resolved against the
    article's publication day.

    "Jumat (29/11)" in an article of Saturday 30 November 2024 is 2024-11-29; "pada bulan Juni" in it is
    June 2024; a bare weekday is the latest such day on or before publication; without a publication date
    only fully written dates count.
    """
    found: list[tuple[int, Mention]] = []

    def add(pos: int, day: date | None) -> None:
        if day is not None:
            found.append((pos, Mention(day, day)))

    for m in _DAY_MONTH.finditer(text):
        add(m.start(), _with_year(MONTHS[m.group(2).lower()], int(m.group(1)), m.group(3), published))
    for m in _MONTH_DAY.finditer(text):
        add(m.start(), _with_year(MONTHS[m.group(1).lower()], int(m.group(2)), m.group(3), published))
    for m in _NUMERIC.finditer(text):
        day_s, month_s, year_s = m.group(1, 2, 3) if m.group(1) else m.group(4, 5, 6)
        add(m.start(), _with_year(int(month_s), int(day_s), year_s, published))
    for m in _MONTH_ONLY.finditer(text):
        month = _month_of(MONTHS[m.group(1).lower()], m.group(2), published)
        found += [(m.start(), month)] if month else []
    if published is not None:
        for m in _WEEKDAY.finditer(text):
            back = (published.weekday() - WEEKDAYS[m.group(1).lower().replace("'", "")]) % 7
            add(m.start(), published - timedelta(days=back))
    return tuple(dict.fromkeys(d for _, d in sorted(found, key=lambda x: x[0])))


def mention_field(text: str, published: str) -> str:
    """The days a chunk mentions, as its metadata holds them: ISO days/months separated by spaces."""
    day = date.fromisoformat(published[:10]) if day_number(published) else None
    return " ".join(m.iso() for m in mentioned_days(text, day))
