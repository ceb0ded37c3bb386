"""Dates in questions, as the day ranges retrieval and evidence selection use, and how answers write dates.

Why dateparser for questions: it knows Indonesian and English month names, weekdays ("Jumat (29/11)"),
day/month order and relative words ("kemarin", "3 hari yang lalu", "last month") and says how precise a date
is (a day, a month, a year), which decides the range a question asks about. Its search over free text costs
~10 ms, once per question. The few forms it misses are added here: Indonesian weeks ("pekan lalu", "minggu
ini"), "sejak/since" and "sampai/until" bounds, and day ranges inside one month ("1-10 Mei 2017").

Sentences are dated by ``vectorstore.dates.mentioned_days`` (a pattern pass, re-exported here), since every
chunk and every evidence candidate is dated and dateparser's search costs ~100x more per sentence.

Relative expressions are resolved against an anchor day, by default today; ``Settings.date_anchor`` can make
it the newest article's date (an old archive) or a fixed day, and the answer's notice says which was used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal

from dateparser.date import DateDataParser
from dateparser.search import search_dates

from qa.types import Language
from vectorstore.dates import MONTH_PATTERN, Mention, day_number, day_span, mentioned_days

__all__ = [
    "TimeScope",
    "day_number",
    "format_day",
    "format_range",
    "mention_label",
    "Mention",
    "mentioned_days",
    "parse_day",
    "question_scope",
    "without_date",
]

# News reports an event on the day or in the days after it: a question about 29 November reads articles
# published from 29 November up to this many days later (and the month/year of a period question likewise).
REPORT_LAG_DAYS = 7

# Weeks, which dateparser does not know in Indonesian: (pattern, days back to the start, back to the end).
_WEEK_RULES: list[tuple[re.Pattern[str], int, int]] = [
    (re.compile(r"\b(pekan|minggu) (lalu|kemarin)\b|\blast week\b", re.I), 13, 7),
    (re.compile(r"\bakhir (pekan|minggu) (lalu|kemarin)\b|\blast weekend\b", re.I), 8, 1),
    (re.compile(r"\b(pekan|minggu) ini\b|\bthis week\b", re.I), 6, 0),
    (re.compile(r"\bbulan ini\b|\bthis month\b", re.I), 30, 0),
    (re.compile(r"\btahun ini\b|\bthis year\b", re.I), 365, 0),
    (re.compile(r"\b(hari ini|today)\b", re.I), 0, 0),
]
_CONNECTOR = re.compile(r"\s*(-|–|—|hingga|sampai|s\.?d\.?|to|until|till|through|and|dan)?\s*", re.I)
_SINCE = re.compile(r"\b(sejak|semenjak|since|after|setelah|sesudah|from)\s*$", re.I)
_UNTIL = re.compile(r"\b(sampai|hingga|until|till|before|sebelum|up to)\s*$", re.I)
_DAY_RANGE = re.compile(
    rf"\b(\d{{1,2}})\s*(?:-|–|s\.?d\.?|sampai|hingga|dan|and|to|until)\s*(\d{{1,2}}\s+(?:{MONTH_PATTERN})(?:\s+\d{{4}})?)",
    re.I,
)
# What a dateparser match must contain to count as a date: it reads some plain words as dates.
_DATE_WORD = re.compile(
    rf"\d|\b({MONTH_PATTERN}|kemarin|yesterday|lalu|ago|tahun|year|month|bulan|week|pekan|"
    r"senin|selasa|rabu|kamis|jum'?at|sabtu|ahad|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.I,
)
_YEAR = re.compile(r"\b(1[89]|20)\d\d\b")
_DAY_MONTH_NUMBER = re.compile(r"\b(\d{1,2}) ?/ ?(\d{1,2})\b")


def _is_date_text(text: str) -> bool:
    """Whether a dateparser match is a date a question means: a month name, a year, a valid "29/11", or a
    relative or weekday word. Not the modal "may", an ordinal ("15th century"), "26/62" or a year range
    ("1620-21")."""
    words = text.lower().split()
    if not _DATE_WORD.search(text) or words in (["may"], ["in", "may"]) and text.islower():
        return False
    numeric = _DAY_MONTH_NUMBER.search(text)
    if numeric and not 1 <= int(numeric.group(2)) <= 12:
        return False
    if re.search(r"\d{4}\s*[-–]\s*\d{2}\b", text):
        return False
    has_number = bool(re.search(r"\d", text))
    named = re.search(rf"\b({MONTH_PATTERN})\b", text, re.I) or _YEAR.search(text) or numeric
    relative = re.search(r"\b(ago|lalu|yang lalu|sebelumnya)\b", text, re.I)
    return bool(named or relative) or not has_number


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
    filtered: bool = True  # whether it limits articles by publication (not in an undated store)

    def publication_window(self) -> tuple[date | None, date | None]:
        """The publication days of articles that can report on the scope: from its first day to
        ``REPORT_LAG_DAYS`` after its last (news is written after the event)."""
        until = self.until + timedelta(days=REPORT_LAG_DAYS) if self.until else None
        return self.since, until

    def overlaps(self, mention: Mention) -> bool:
        """Whether a mentioned day or month falls in the scope (a month only partly in it counts)."""
        return (self.since is None or mention.last >= self.since) and (
            self.until is None or mention.first <= self.until
        )


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
    dates: list[
        tuple[int, int, str, date, date, str]
    ] = []  # start, end, text, first day, last day, precision
    pos = 0
    for text, _ in found or []:
        start = question.find(text, pos)
        parsed = _parse(text, anchor) if _is_date_text(text) and start >= 0 else None
        if parsed is None:
            continue
        pos = start + len(text)
        dates.append((start, pos, text, *day_span(*parsed), parsed[1]))
    if not dates:
        return None
    start, end, text, since, until, granularity = dates[0]
    relative = not re.search(r"\d{4}", text) and not re.search(rf"\b({MONTH_PATTERN})\b", text, re.I)
    if len(dates) > 1 and _CONNECTOR.fullmatch(question[end : dates[1][0]]):
        # "sejak Juni 2017 hingga Februari 2018", "from September to December 2017": one range.
        last = dates[1][4]
        if not re.search(r"\d{4}", text) and re.search(r"\d{4}", dates[1][2]):
            since = since.replace(year=last.year)  # "September to December 2017": both in 2017
        if since > last:  # "September to February 2018": the first month is of the year before
            since = since.replace(year=since.year - 1)
        expression = question[start : dates[1][1]]
        return TimeScope(since, last, expression.strip(), "range", relative, anchor, anchor_kind)
    before = question[:start]
    if _SINCE.search(before):
        until = None
    elif _UNTIL.search(before):
        since = None
    return TimeScope(since, until, text.strip(), granularity, relative, anchor, anchor_kind)  # type: ignore[arg-type]


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
    head, tail = _LEAD_IN.sub("", head), re.sub(r"^['’]s\b", "", tail)
    text = " ".join(f"{head} {tail}".split())
    text = re.sub(r"\s+([?.!,])", r"\1", text)
    return text if len(text.split()) >= 2 else question


MONTH_NAMES: dict[Language, tuple[str, ...]] = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}  # fmt: skip


def mention_label(mention: Mention, language: Language) -> str:
    """'Juni 2024' for a month, '29 November 2024' for a day."""
    if mention.is_month:
        return f"{MONTH_NAMES[language][mention.first.month - 1]} {mention.first.year}"
    return format_day(mention.first, language)


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
