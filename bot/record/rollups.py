"""The analytics rollups: each journey's figures per day, kept as the record is written.

The writer adds, in the same transaction as the rows it writes, the difference their
facts make (bot/record/facts.py); `rebuild` sums every row's facts again from scratch.
RapidPro keeps path counts the same way and squashes them later; one recorder writes at
a time here (its lease), so an upsert that adds is enough.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import date, tzinfo
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from bot.record.facts import (
    FACT_EVENTS,
    Facts,
    conversion_facts,
    event_facts,
    message_facts,
    run_facts,
)
from bot.record.schema import (
    conversation_events,
    conversions,
    journey_counts,
    journey_runs,
    messages,
)

PAGE = 5_000  # rows a rebuild reads at a time


def add(connection: Connection, facts: Facts) -> None:
    """Add `facts` to the rollups (negative values take away)."""
    rows = [
        {"journey": journey[:100], "day": day, "metric": metric, "key": key[:200], "value": value}
        for (journey, day, metric, key), value in facts.items()
        if value
    ]
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(journey_counts)
    upsert = insert.on_conflict_do_update(
        index_elements=["journey", "day", "metric", "key"],
        set_={"value": journey_counts.c.value + insert.excluded.value},
    )
    # Rows in one order, so two transactions never lock the same rows in opposite orders.
    rows.sort(key=lambda row: (row["journey"], row["day"], row["metric"], row["key"]))
    connection.execute(upsert, rows)


def rebuild(
    engine: Engine,
    zone: tzinfo,
    since: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Recompute the rollups from the record, in one transaction; return the rows read.

    With `since`, only the days from then on: the days before stay as they were (the rows
    they were counted from may have been pruned since). A recorder writing meanwhile
    waits: the rollups are locked first (PostgreSQL; SQLite locks the whole database for
    a write), so what it adds is counted on top of a rebuild that did not see it.
    """
    read = 0
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("LOCK TABLE journey_counts IN EXCLUSIVE MODE"))
        cleared = delete(journey_counts)
        if since is not None:
            cleared = cleared.where(journey_counts.c.day >= since)
        connection.execute(cleared)
        sources: list[tuple[Table, Any, Callable[[Mapping[str, Any], tzinfo], Facts]]] = [
            (journey_runs, None, run_facts),
            (messages, messages.c.direction == "outbound", message_facts),
            (conversation_events, conversation_events.c.type.in_(FACT_EVENTS), event_facts),
            (conversions, None, conversion_facts),
        ]
        for table, where, facts_of in sources:
            for page in _pages(connection, table, where):
                facts: Facts = Counter()
                for row in page:
                    facts.update(facts_of(row, zone))
                if since is not None:
                    facts = Counter({fact: n for fact, n in facts.items() if fact[1] >= since})
                add(connection, facts)
                read += len(page)
                if progress is not None:
                    progress(len(page))
    return read


def _pages(connection: Connection, table: Table, where: Any) -> Iterator[list[dict[str, Any]]]:
    """Yield the table's rows, a page at a time, in the order of their ids."""
    query = select(table).order_by(table.c.id).limit(PAGE)
    if where is not None:
        query = query.where(where)
    last: str | None = None
    while True:
        page = [
            row._asdict()
            for row in connection.execute(query if last is None else query.where(table.c.id > last))
        ]
        if page:
            yield page
        if len(page) < PAGE:
            return
        last = page[-1]["id"]
