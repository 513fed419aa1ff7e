"""The date ranges figures are asked for: `from` and `to` ISO dates, both days included."""

from __future__ import annotations

from datetime import date, timedelta

DEFAULT_DAYS = 30  # the range asked for when none is given: the last 30 days, today included
LONGEST_DAYS = 3_660  # ten years and their leap days
FIRST_YEAR, LAST_YEAR = 1900, 9000  # well inside what dates and weeks can count


class BadRange(ValueError):
    """A range that cannot be read, or runs backwards: the message says why."""


def date_range(raw_from: str | None, raw_to: str | None, today: date) -> tuple[date, date]:
    """Return the first and last day asked for; missing ends default around `today`."""
    end = _day("to", raw_to) if raw_to else today
    start = _day("from", raw_from) if raw_from else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadRange(f"from ({start.isoformat()}) is after to ({end.isoformat()})")
    if (end - start).days >= LONGEST_DAYS:
        raise BadRange(f"a range is at most {LONGEST_DAYS} days")
    return start, end


def _day(name: str, raw: str) -> date:
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise BadRange(f"{name} must be a date such as 2026-11-30, not {raw[:40]!r}") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise BadRange(f"{name} must be a date between the years {FIRST_YEAR} and {LAST_YEAR}")
    return day
