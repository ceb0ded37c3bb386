"""The one number a date becomes wherever articles are filtered by date.

Chroma's ``where`` filters compare numbers, not strings, and the keyword index filters the same chunks in
Python; both must agree on what a date is, so both call ``day_number`` (the store writes it as the chunk's
``published_day``, qa.retrieval builds the filters with it). An unknown date is 0, which no date range
contains: an article without a stated date is never given the ingest day or any other guessed one.
"""

from __future__ import annotations

from datetime import date

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
