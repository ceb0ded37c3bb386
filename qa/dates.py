"""Relative dates in questions ("pekan lalu", "last week") resolved against the newest article date.

Why the newest article and not today's date: a news archive is read after the fact, so "last week" means
the week before the latest news the store holds, which keeps answers stable over time.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

_RULES: list[tuple[re.Pattern[str], int, int]] = [
    # (pattern, days back for 'since', days back for 'until')
    (re.compile(r"\b(hari ini|today)\b", re.I), 0, 0),
    (re.compile(r"\b(kemarin|yesterday)\b", re.I), 1, 1),
    (re.compile(r"\b(pekan|minggu) (lalu|kemarin)\b|\blast week\b", re.I), 13, 7),
    (re.compile(r"\b(pekan|minggu) ini\b|\bthis week\b", re.I), 6, 0),
    (re.compile(r"\bbulan (lalu|kemarin)\b|\blast month\b", re.I), 60, 30),
    (re.compile(r"\bbulan ini\b|\bthis month\b", re.I), 30, 0),
    (re.compile(r"\btahun (lalu|kemarin)\b|\blast year\b", re.I), 730, 365),
    (re.compile(r"\btahun ini\b|\bthis year\b", re.I), 365, 0),
]


def resolve_relative(question: str, anchor: date | None) -> tuple[date, date] | None:
    """(since, until) for the first relative date expression in ``question``, or None."""
    if anchor is None:
        return None
    for pattern, back_since, back_until in _RULES:
        if pattern.search(question):
            return anchor - timedelta(days=back_since), anchor - timedelta(days=back_until)
    return None


def parse_day(value: str | date | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise ValueError(f"not an ISO date (YYYY-MM-DD): {value!r}") from exc


def day_number(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day
