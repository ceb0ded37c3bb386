"""Dates in questions and in article sentences, as the day ranges retrieval and evidence selection use.

Why dateparser for questions: it knows Indonesian and English month names, weekdays ("Jumat (29/11)"),
day/month order and relative words ("kemarin", "3 hari yang lalu", "last month") and says how precise a date
is (a day, a month, a year), which decides the range a question asks about. Its search over free text costs
~10 ms, once per question. The few forms it misses are added here: Indonesian weeks ("pekan lalu", "minggu
ini"), "sejak/since" and "sampai/until" bounds, and day ranges inside one month ("1-10 Mei 2017").

Sentences are dated with a pattern pass instead (numeric "29/11", "29 November 2024", "November 29" and
weekday names), each resolved against the article's publication date: every evidence candidate is dated on
every question, and dateparser's search costs ~100x more per sentence (docs/benchmarks.md).

Relative expressions are resolved against an anchor day, by default today; ``Settings.date_anchor`` can make
it the newest article's date (an old archive) or a fixed day, and the answer's notice says which was used.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal

from dateparser.date import DateDataParser
from dateparser.search import search_dates

from qa.types import Language
from vectorstore.dates import day_number

__all__ = [
    "TimeScope",
    "day_number",
    "format_day",
    "format_range",
    "Mention",
    "mentioned_days",
    "parse_day",
    "question_scope",
    "without_date",
]

# News reports an event on the day or in the days after it: a question about 29 November reads articles
# published from 29 November up to this many days later (and the month/year of a period question likewise).
REPORT_LAG_DAYS = 7

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

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})\s+({_MONTH})\.?(?:\s+(\d{{4}}))?\b", re.I)
_MONTH_DAY = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I)
# "29/11/2024" anywhere; "29/11" only as datelines write it, "(29/11)" or "tanggal 29/11", not a score "2/3".
_NUMERIC = re.compile(
    r"(?:(?<=\()|(?<=tanggal )|(?<=tgl\. )|(?<=tgl ))(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/.,]\d)"
    r"|(?<![\d/.,])(\d{1,2})/(\d{1,2})/(\d{4})(?![\d/.,]\d)",
    re.I,
)
# A month without a day, where it names a time: "pada bulan Juni", "sejak Juni 2024", "in June".
_MONTH_ONLY = re.compile(
    rf"\b(?:pada|sejak|awal|akhir|pertengahan|bulan|in|since|early|late|mid-?)\s+(?:bulan\s+)?({_MONTH})\b"
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

# Weeks, which dateparser does not know in Indonesian: (pattern, days back to the start, back to the end).
_WEEK_RULES: list[tuple[re.Pattern[str], int, int]] = [
    (re.compile(r"\b(pekan|minggu) (lalu|kemarin)\b|\blast week\b", re.I), 13, 7),
    (re.compile(r"\b(pekan|minggu) ini\b|\bthis week\b", re.I), 6, 0),
    (re.compile(r"\bbulan ini\b|\bthis month\b", re.I), 30, 0),
    (re.compile(r"\btahun ini\b|\bthis year\b", re.I), 365, 0),
    (re.compile(r"\b(hari ini|today)\b", re.I), 0, 0),
]
_SINCE = re.compile(r"\b(sejak|semenjak|since|after|setelah|sesudah|from)\s*$", re.I)
_UNTIL = re.compile(r"\b(sampai|hingga|until|till|before|sebelum|up to)\s*$", re.I)
_DAY_RANGE = re.compile(
    rf"\b(\d{{1,2}})\s*(?:-|–|s\.?d\.?|sampai|hingga|dan|and|to|until)\s*(\d{{1,2}}\s+(?:{_MONTH})(?:\s+\d{{4}})?)",
    re.I,
)
# What a dateparser match must contain to count as a date: it reads some plain words as dates.
_DATE_WORD = re.compile(
    rf"\d|\b({_MONTH}|kemarin|yesterday|lalu|ago|tahun|year|month|bulan|week|pekan|"
    r"senin|selasa|rabu|kamis|jum'?at|sabtu|ahad|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.I,
)
_SEARCH_SETTINGS = {"PREFER_DATES_FROM": "past", "DATE_ORDER": "DMY", "RETURN_AS_TIMEZONE_AWARE": False}

Granularity = Literal["day", "week", "month", "year", "range"]


@dataclass(frozen=True)
class TimeScope:
    """The days a question asks about, ``since``..``until`` (either open), as written (``expression``).

    ``relative`` scopes were resolved against ``anchor`` (``anchor_kind``: today, newest article, a set day).
    """

    since: date | None
    until: date | None
    expression: str
    granularity: Granularity
    relative: bool = False
    anchor: date | None = None
    anchor_kind: str = ""

    def publication_window(self) -> tuple[date | None, date | None]:
        """The publication days of articles that can report on the scope: from its first day to
        ``REPORT_LAG_DAYS`` after its last (news is written after the event)."""
        until = self.until + timedelta(days=REPORT_LAG_DAYS) if self.until else None
        return self.since, until

    def contains(self, day: date) -> bool:
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)

    def overlaps(self, mention: Mention) -> bool:
        """Whether a mentioned day or month falls in the scope (a month only partly in it counts)."""
        return (self.since is None or mention.last >= self.since) and (
            self.until is None or mention.first <= self.until
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
            return cls(*_span(date.fromisoformat(value + "-01"), "month"))
        day = date.fromisoformat(value)
        return cls(day, day)

    def label(self, language: Language) -> str:
        if self.is_month:
            return f"{MONTH_NAMES[language][self.first.month - 1]} {self.first.year}"
        return format_day(self.first, language)


def parse_day(value: str | date | None) -> date | None:
    """A day given by a caller (ISO ``YYYY-MM-DD``); a clear error for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise ValueError(f"not an ISO date (YYYY-MM-DD): {value!r}") from exc


def _span(day: date, granularity: str) -> tuple[date, date]:
    if granularity == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    if granularity == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if granularity == "week":
        return day, day + timedelta(days=6)
    return day, day


@lru_cache(maxsize=8)
def _parser(anchor: date) -> DateDataParser:
    """A parser per anchor day (there are few: today, the newest article's day): building one costs more
    than a parse."""
    base = datetime.combine(anchor, datetime.min.time())
    return DateDataParser(languages=["id", "en"], settings={**_SEARCH_SETTINGS, "RELATIVE_BASE": base})


def _parse(text: str, anchor: date) -> tuple[date, str] | None:
    data = _parser(anchor).get_date_data(text)
    if data.date_obj is None:
        return None
    return data.date_obj.date(), data.period or "day"


def question_scope(question: str, anchor: date, anchor_kind: str = "today") -> TimeScope | None:
    """The days ``question`` asks about, or None when it names no date.

    Absolute dates without a year ("29 November", "Juni") take the latest such day not after ``anchor``.
    """
    for pattern, back_start, back_end in _WEEK_RULES:
        m = pattern.search(question)
        if m:
            since, until = anchor - timedelta(days=back_start), anchor - timedelta(days=back_end)
            return TimeScope(since, until, m.group(0), "range", True, anchor, anchor_kind)
    m = _DAY_RANGE.search(question)
    if m:
        end = _parse(m.group(2), anchor)
        if end is not None:
            try:
                since = end[0].replace(day=int(m.group(1)))
            except ValueError:
                since = None
            if since is not None and since <= end[0]:
                return TimeScope(since, end[0], m.group(0), "range")
    base = datetime.combine(anchor, datetime.min.time())
    found = search_dates(
        question, languages=["id", "en"], settings={**_SEARCH_SETTINGS, "RELATIVE_BASE": base}
    )
    for text, _ in found or []:
        if not _DATE_WORD.search(text):
            continue
        parsed = _parse(text, anchor)
        if parsed is None:
            continue
        day, granularity = parsed
        since, until = _span(day, granularity)
        relative = not re.search(r"\d{4}", text) and not re.search(rf"\b({_MONTH})\b", text, re.I)
        before = question[: question.find(text)]
        if _SINCE.search(before):
            until = None
        elif _UNTIL.search(before):
            since = None
        return TimeScope(since, until, text.strip(), granularity, relative, anchor, anchor_kind)  # type: ignore[arg-type]
    return None


_LEAD_IN = re.compile(
    r"\s*\b(pada|di|tanggal|tgl\.?|bulan|tahun|sejak|semenjak|sampai|hingga|antara|selama|on|in|at|during|"
    r"since|until|between|from|after|before|setelah|sebelum)(\s+(hari|tanggal|bulan|tahun))?\s*$",
    re.I,
)


def without_date(question: str, scope: TimeScope | None) -> str:
    """The question with its date expression (and the word introducing it) taken out: what retrieval and
    the evidence scorer read once the date has become a filter. A date's digits and month name match no
    evidence sentence that says "Jumat" or "kemarin", and the scorer was trained on questions without them."""
    if scope is None or not scope.expression or scope.expression not in question:
        return question
    head, _, tail = question.partition(scope.expression)
    head = _LEAD_IN.sub("", head)
    text = " ".join(f"{head} {tail}".split())
    text = re.sub(r"\s+([?.!,])", r"\1", text)
    return text if len(text.split()) >= 2 else question


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
    return Mention(*_span(date(y, month, 1), "month"))


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


MONTH_NAMES: dict[Language, tuple[str, ...]] = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}  # fmt: skip


def format_day(day: date, language: Language) -> str:
    """'29 November 2024' / '29 June 2024': how a date is written in an answer in ``language``."""
    return f"{day.day} {MONTH_NAMES[language][day.month - 1]} {day.year}"


RANGE_WORDS: dict[Language, dict[str, str]] = {
    "id": {"since": "sejak", "until": "sampai", "between": "antara", "and": "dan"},
    "en": {"since": "since", "until": "until", "between": "between", "and": "and"},
}


def format_range(since: date | None, until: date | None, language: Language, between: bool = False) -> str:
    """'29 November 2024', '1 Juni 2024 – 30 Juni 2024' (``between``: 'antara 1 Juni 2024 dan 30 Juni
    2024'), 'sejak 1 Juni 2024', 'until 12 November 2024': a range of days as a notice writes it."""
    words = RANGE_WORDS[language]
    if since and until:
        if since == until:
            return format_day(since, language)
        first, last = format_day(since, language), format_day(until, language)
        return f"{words['between']} {first} {words['and']} {last}" if between else f"{first} – {last}"
    if since:
        return f"{words['since']} {format_day(since, language)}"
    return f"{words['until']} {format_day(until, language)}" if until else ""


def anchor_day(setting: str, newest: date | None, today: date) -> tuple[date | None, str]:
    """The day relative expressions resolve against, and which it is: ``setting`` is 'today', 'newest'
    (the newest article's date, for an archive read long after) or an ISO day."""
    if setting == "today":
        return today, "today"
    if setting == "newest":
        return newest, "newest"
    return parse_day(setting), "given"


def is_dated(value: str) -> bool:
    return day_number(value) != 0
