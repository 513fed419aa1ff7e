"""The staff inbox's conversation list from the record: views, counts, and each row's context.

A view is a condition on the contacts table (where each conversation's standing with
staff is kept, indexed); a page is the contact list's keyset page under that condition,
then one query for the pages' last messages and one for their open journey runs. Counts
are one query of a subquery per view, each answered from an index, not a table scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, and_, func, or_, select, true

from bot.record.reading import ContactPage, contact_page
from bot.record.schema import contacts, journey_runs, messages
from bot.record.times import utc

# The views, in the order the inbox shows them, with what each is called there.
VIEWS = {
    "waiting": "Waiting for staff",
    "mine": "Mine",
    "unassigned": "Unassigned",
    "bot": "Bot",
    "snoozed": "Snoozed",
    "resolved": "Resolved",
    "all": "All",
}
OPEN_RUNS = ("active", "waiting", "delayed", "awaiting_action")


@dataclass(frozen=True)
class Row:
    """One conversation in the list."""

    contact: dict[str, Any]  # the contacts table's row
    last: dict[str, Any] | None  # its last message's row
    run: dict[str, Any] | None  # its newest open journey run's row

    @property
    def unread(self) -> bool:
        """Say whether the contact wrote something staff have not opened yet."""
        last = self.last
        return bool(last and last["direction"] == "inbound" and last["seq"] > self.read_seq)

    @property
    def read_seq(self) -> int:
        """Return the last message staff have seen."""
        return int(self.contact["read_seq"] or 0)

    @property
    def name(self) -> str:
        """Return the contact's name, else their phone number."""
        first, last = self.contact["first_name"] or "", self.contact["last_name"] or ""
        return f"{first} {last}".strip() or self.contact["phone"]


@dataclass(frozen=True)
class Page:
    """A page of conversations and the next page's cursor (None on the last)."""

    rows: Sequence[Row]
    cursor: str | None


def condition(view: str, staff: str) -> ColumnElement[bool]:
    """Return the SQL condition that keeps a view's conversations; ValueError if unknown."""
    status, assignee = contacts.c.conversation, contacts.c.assignee
    if view == "waiting":
        return and_(status == "open", contacts.c.waiting_since.is_not(None))
    if view == "mine":
        return and_(assignee == staff, status.in_(("open", "snoozed")))
    if view == "unassigned":
        return and_(status == "open", assignee.is_(None))
    if view in ("bot", "snoozed", "resolved"):
        return status == view
    if view == "all":
        return true()
    raise ValueError(f"no view {view!r}; views are {', '.join(VIEWS)}")


def conversation_page(
    engine: Engine,
    view: str,
    staff: str,
    limit: int,
    cursor: str | None = None,
    query: str | None = None,
) -> Page:
    """Return a page of a view's conversations, most recently active first.

    Raise ValueError for an unknown view or a bad cursor.
    """
    page: ContactPage = contact_page(
        engine, limit, cursor, query=query, where=[condition(view, staff)]
    )
    phones = [row["phone"] for row in page.contacts]
    with engine.connect() as connection:
        lasts = _last_messages(connection, page.contacts)
        runs = _open_runs(connection, phones)
    rows = [Row(row, lasts.get(row["phone"]), runs.get(row["phone"])) for row in page.contacts]
    return Page(rows, page.cursor)


def counts(engine: Engine, staff: str) -> dict[str, int]:
    """Return how many conversations each view holds."""
    columns = [_count(view, staff).scalar_subquery().label(view) for view in VIEWS]
    with engine.connect() as connection:
        row = connection.execute(select(*columns)).one()
    return {view: int(getattr(row, view)) for view in VIEWS}


def _count(view: str, staff: str) -> Select[int]:
    """Return the count of one view's conversations: each view's condition has an index."""
    query = select(func.count()).select_from(contacts)
    return query if view == "all" else query.where(condition(view, staff))


def waiting_count(engine: Engine) -> int:
    """Return how many conversations wait for staff (shown on every inbox page)."""
    query = _count("waiting", "")
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _last_messages(connection: Any, rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    wanted = [(row["phone"], row["message_seq"]) for row in rows if row["message_seq"]]
    if not wanted:
        return {}
    # One index lookup per pair: a row-value IN makes SQLite scan the whole index.
    pairs = [and_(messages.c.phone == phone, messages.c.seq == seq) for phone, seq in wanted]
    query = select(messages).where(or_(*pairs))
    found: dict[str, dict[str, Any]] = {}
    for row in connection.execute(query):
        found[row.phone] = row._asdict()
    return found


def _open_runs(connection: Any, phones: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not phones:
        return {}
    query = (
        select(journey_runs)
        .where(journey_runs.c.phone.in_(phones), journey_runs.c.status.in_(OPEN_RUNS))
        .order_by(journey_runs.c.started_at)
    )
    newest: dict[str, dict[str, Any]] = {}
    for row in connection.execute(query):
        newest[row.phone] = row._asdict()  # later rows are newer
    return newest


def waited(row: Row, now: datetime) -> float | None:
    """Return how long the contact has waited for staff, in seconds, or None."""
    since = row.contact["waiting_since"]
    return (now - utc(since)).total_seconds() if since else None
