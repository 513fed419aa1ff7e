"""Times as the record keeps them: aware, in UTC.

SQLite stores a time without its zone, so every time written shares one (UTC), and a
time read back without a zone is taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


def utc(moment: datetime) -> datetime:
    """Return `moment` in UTC; a naive one (as SQLite gives them back) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def moment(text: str | None) -> datetime | None:
    """Return an ISO-8601 time as an aware datetime in UTC (a time naming no zone is UTC)."""
    return utc(datetime.fromisoformat(text)) if text else None


# A batch parses the same times many times over (a message's status history is sorted at
# every change): the writer parses each once.
cached_moment = lru_cache(maxsize=65_536)(moment)
