"""Retention: deleting from the record what is older than it keeps, a batch at a time.

By default the record keeps everything; `RECORD_RETENTION_DAYS` (or `python -m bot db
prune --days N`) trims the history of conversations, each table by its own time:
messages by when they were written, conversation events and link clicks by when they
happened, and journey runs by when they ended (a run still going is kept, however old).

Three tables are never trimmed, whatever their age:
- the consent ledger: it is the evidence that a person agreed to be texted, or asked
  to stop, and a complaint or a carrier's audit can ask for it years after the
  conversation is gone;
- contacts: one row per person, as they are now, not their history (removing a person
  is erasure, which is a request of its own, not an age);
- conversions: the business events credited to journeys, the revenue that analytics
  reports; they hold no conversation, and their figures must not change with age.

Each batch is a transaction of its own: PostgreSQL never holds one huge transaction,
its locks, or the dead rows it leaves, and the worker's writes go on in between.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, Table, delete, select, text

from bot.record.schema import conversation_events, journey_runs, link_clicks, messages
from bot.record.times import utc

log = logging.getLogger(__name__)

BATCH = 5000  # rows per delete
# What retention trims, and by which time; rows whose time is unset (runs still going) stay.
PRUNED: tuple[tuple[Table, str], ...] = (
    (messages, "created_at"),
    (conversation_events, "at"),
    (link_clicks, "at"),
    (journey_runs, "ended_at"),
)
# Any fixed number, not the migrations' one: the PostgreSQL advisory lock a pruning
# process holds, so that processes calling prune_due at the same time take turns.
PRUNE_LOCK = 0x7072756E  # "prun"


class RetentionSettings(Protocol):
    """What prune_due reads of the settings (bot.config.Settings has it)."""

    @property
    def record_retention_days(self) -> int | None:
        """Return how many days the record keeps what retention trims; None keeps all."""


def cutoff(days: int, now: datetime) -> datetime | None:
    """Return the time `days` before `now`, in UTC; None when that is before year 1."""
    try:
        return utc(now) - timedelta(days=days)
    except OverflowError:
        return None


def prune(
    engine: Engine,
    older_than: datetime,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Delete the rows retention trims that are older than `older_than`; return how many.

    The answer maps each table's name to the rows deleted from it. `progress`, if given,
    hears each batch: the table's name and the rows that batch deleted.
    """
    if batch < 1:
        raise ValueError(f"a batch must be at least one row, not {batch}")
    before = utc(older_than)  # bound in UTC: SQLite keeps times as text without their zone
    deleted: dict[str, int] = {}
    for table, time in PRUNED:
        doomed = select(table.c.id).where(table.c[time] < before).limit(batch)
        statement = delete(table).where(table.c.id.in_(doomed))
        deleted[table.name] = 0
        while True:
            with engine.begin() as connection:
                gone = connection.execute(statement).rowcount
            deleted[table.name] += gone
            if gone and progress is not None:
                progress(table.name, gone)
            if gone < batch:
                break
    return deleted


def prune_due(
    settings: RetentionSettings, engine: Engine, now: datetime, batch: int = BATCH
) -> dict[str, int]:
    """Prune what the retention setting no longer keeps; for a process to call hourly.

    Return the rows deleted from each table, or {} when nothing was tried: no retention
    is set, or another process is pruning the record right now (PostgreSQL).
    """
    days = settings.record_retention_days
    before = None if days is None else cutoff(days, now)
    if before is None:
        return {}
    with _alone(engine) as alone:
        if not alone:
            return {}
        deleted = prune(engine, before, batch)
    if any(deleted.values()):
        log.info(
            "pruned the record of what is older than %d days (before %s): %s",
            days,
            before.isoformat(),
            ", ".join(f"{count} {name}" for name, count in deleted.items()),
        )
    return deleted


@contextmanager
def _alone(engine: Engine) -> Iterator[bool]:
    """Yield whether this process may prune now: no other one is (PostgreSQL's lock)."""
    if engine.dialect.name != "postgresql":
        yield True  # SQLite lets one writer at a time in any case
        return
    with engine.connect() as connection:
        taken: Any = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": PRUNE_LOCK}
        ).scalar_one()
        connection.commit()
        try:
            yield bool(taken)
        finally:
            if taken:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PRUNE_LOCK})
                connection.commit()
