"""Exporting the record: messages, conversation events or the consent ledger, oldest first,
as JSON lines or CSV.

Rows are read in pages in time order (ties broken by `seq` for messages, then by id),
each page a short query of its own that starts after the last row of the one before: an
export of millions of rows holds one page in memory and keeps no transaction open while
it writes.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import ColumnElement, Engine, Table, func, literal, select, tuple_

from bot.record.schema import consent_ledger, conversation_events, messages
from bot.record.times import utc

# What can be exported: the table, and the columns that put its rows in order, the first
# saying when each happened (messages of one transition share it; `seq` orders them).
TABLES: dict[str, Table] = {
    "messages": messages,
    "events": conversation_events,
    "consent": consent_ledger,  # `python -m bot consent export`
}
ORDER = {
    "messages": ("created_at", "seq", "id"),
    "events": ("at", "seq", "id"),
    "consent": ("at", "seq", "id"),
}
# Each export's columns, in order: CSV's header and the keys of each JSON line (README,
# "The record"). They stay as they are; new ones are only ever added at the end.
COLUMNS: dict[str, tuple[str, ...]] = {
    "messages": (
        "id",
        "created_at",
        "phone",
        "seq",
        "direction",
        "body",
        "kind",
        "journey",
        "step",
        "status",
        "reason",
        "sid",
        "error_code",
        "segments",
        "status_history",
        "updated_at",
    ),
    "events": (
        "id",
        "at",
        "phone",
        "type",
        "intent",
        "confidence",
        "journey",
        "run_id",
        "data",
        "seq",
    ),
    "consent": (
        "id",
        "at",
        "phone",
        "purpose",
        "granted",
        "method",
        "source",
        "evidence",
        "disclosure",
        "seq",
    ),
}
# Columns holding JSON: CSV carries them as JSON text.
JSON_COLUMNS = frozenset({"status_history", "data"})
FORMATS = ("jsonl", "csv")
PAGE = 1000  # rows per query


def instant(text: str) -> datetime:
    """Return an ISO-8601 date (its midnight) or time as UTC; a time without zone is UTC.

    Raise ValueError saying what is expected.
    """
    try:
        found = datetime.fromisoformat(text.strip())
        return utc(found)
    except (ValueError, OverflowError):  # OverflowError: year 1 moved west of UTC
        raise ValueError(
            f"must be an ISO-8601 date or time such as 2026-11-30 or 2026-11-30T15:00:00Z,"
            f" not {text!r}"
        ) from None


@dataclass(frozen=True)
class Selection:
    """Which rows an export takes: a kind, a time range and perhaps one contact."""

    kind: str  # messages | events | consent
    since: datetime | None = None  # from this time on
    until: datetime | None = None  # up to, not including, this time
    phone: str | None = None  # E.164

    def __post_init__(self) -> None:
        if self.kind not in TABLES:
            raise ValueError(f"nothing to export called {self.kind!r}: {' or '.join(TABLES)}")

    @property
    def table(self) -> Table:
        """Return the table the rows come from."""
        return TABLES[self.kind]

    @property
    def order(self) -> list[ColumnElement[Any]]:
        """Return the columns rows come out in the order of: a time, then the tie-breakers."""
        return [self.table.c[name] for name in ORDER[self.kind]]

    @property
    def when(self) -> ColumnElement[Any]:
        """Return the column the range goes by."""
        return self.order[0]

    def conditions(self) -> list[ColumnElement[bool]]:
        """Return what a row must meet to be exported."""
        found: list[ColumnElement[bool]] = []
        # Always bound in UTC: SQLite keeps times as text without their zone.
        if self.since is not None:
            found.append(self.when >= utc(self.since))
        if self.until is not None:
            found.append(self.when < utc(self.until))
        if self.phone is not None:
            found.append(self.table.c.phone == self.phone)
        return found


def count(engine: Engine, selection: Selection) -> int:
    """Return how many rows `selection` takes."""
    query = select(func.count()).select_from(selection.table).where(*selection.conditions())
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def rows(engine: Engine, selection: Selection, page: int = 0) -> Iterator[dict[str, Any]]:
    """Yield the selected rows oldest first, times as ISO-8601 UTC text, a page at a time."""
    size = page or PAGE
    order = selection.order
    columns = [selection.table.c[name] for name in COLUMNS[selection.kind]]
    query = select(*columns).where(*selection.conditions()).order_by(*order).limit(size)
    after: list[Any] | None = None
    while True:
        paged = query
        if after is not None:  # the next page starts after the last row of this one
            last = tuple_(*(literal(v, c.type) for v, c in zip(after, order, strict=True)))
            paged = query.where(tuple_(*order) > last)
        with engine.connect() as connection:  # one short read per page
            batch = connection.execute(paged).all()
        for row in batch:
            yield {name: _shown(value) for name, value in row._mapping.items()}
        if len(batch) < size:
            return
        after = [batch[-1]._mapping[column.name] for column in order]


def _shown(value: Any) -> Any:
    return utc(value).isoformat() if isinstance(value, datetime) else value


def write(rows: Iterable[Mapping[str, Any]], kind: str, form: str, out: TextIO) -> int:
    """Write rows of `kind` to `out` as `form` (jsonl or csv); return how many."""
    written = 0
    if form == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
        return written
    if form != "csv":
        raise ValueError(f"no export format {form!r}: {' or '.join(FORMATS)}")
    columns = COLUMNS[kind]
    table = csv.writer(out)
    table.writerow(columns)
    for row in rows:
        table.writerow([_cell(name, row[name]) for name in columns])
        written += 1
    return written


def _cell(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):  # as JSON says it, not as Python does
        return "true" if value else "false"
    if name in JSON_COLUMNS:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


@contextmanager
def output(path: str) -> Iterator[TextIO]:
    """Yield where an export goes: stdout for '-', else a file that appears only complete.

    The file is written beside its destination under a temporary name and renamed over
    it at the end, so an export that fails leaves no half file (nor harms an old one).
    It is readable by its owner alone: it holds phone numbers and what people wrote.
    """
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    final = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    try:
        with open(handle, "w", encoding="utf-8", newline="") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, final)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
