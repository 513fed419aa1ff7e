"""Reading the record: a contact's history page by page, and the contact list.

Every query walks an index in order and stops after a page, so a contact with 10,000
messages answers as fast as one with 10, and a list of a million contacts as fast as
one of ten.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, and_, func, or_, select

from bot.record.schema import contacts, conversation_events, messages
from bot.record.times import utc

CONTACT_PAGE = 50  # contacts per page unless asked otherwise
LONGEST_CONTACT_PAGE = 500
# How far back a search walks the activity index before it scans every contact instead.
SEARCH_RECENT = 2000


@dataclass(frozen=True, order=True)
class Place:
    """Where a message sits in its contact's history: by number, creation time, then id."""

    seq: int
    at: datetime
    id: str


def message_place(engine: Engine, phone: str, message_id: str) -> Place | None:
    """Return where one of the contact's messages sits, or None if the record lacks it."""
    query = select(messages.c.seq, messages.c.created_at).where(
        messages.c.id == message_id, messages.c.phone == phone
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return Place(row.seq, utc(row.created_at), message_id) if row is not None else None


def messages_before(
    engine: Engine, phone: str, limit: int, before: Place | None = None
) -> list[dict[str, Any]]:
    """Return up to `limit` of the contact's messages before `before`, newest first."""
    query = select(messages).where(messages.c.phone == phone)
    if before is not None:
        seq, at, ident = messages.c.seq, messages.c.created_at, messages.c.id
        query = query.where(
            or_(
                seq < before.seq,
                and_(seq == before.seq, _before(at, ident, before.at, before.id)),
            )
        )
    newest = (messages.c.seq.desc(), messages.c.created_at.desc(), messages.c.id.desc())
    query = query.order_by(*newest).limit(limit)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [{**row._asdict(), "created_at": utc(row.created_at)} for row in rows]


def events_before(
    engine: Engine, phone: str, limit: int, before: int | None = None
) -> list[dict[str, Any]]:
    """Return up to `limit` of the contact's events numbered below `before`, newest first.

    Each as the event log holds it: its time, type and fields, and its number (`seq`).
    """
    table = conversation_events
    query = select(table).where(table.c.phone == phone)
    if before is not None:
        query = query.where(table.c.seq < before)
    query = query.order_by(table.c.seq.desc(), table.c.at.desc(), table.c.id.desc())
    with engine.connect() as connection:
        rows = connection.execute(query.limit(limit)).all()
    return [_event(row._asdict()) for row in rows]


def _event(row: dict[str, Any]) -> dict[str, Any]:
    named = {
        name: row[name]
        for name in ("intent", "confidence", "journey", "run_id")
        if row[name] is not None
    }
    at = utc(row["at"]).isoformat()
    return {"at": at, "type": row["type"], **named, **(row["data"] or {}), "seq": row["seq"]}


def _before(at: ColumnElement[Any], ident: ColumnElement[Any], when: datetime, key: str) -> Any:
    """Return SQL for (at, ident) < (when, key), which every database can use an index for."""
    return or_(at < when, and_(at == when, ident < key))


@dataclass(frozen=True)
class ContactPage:
    """One page of the contact list and the cursor of the next (None on the last)."""

    contacts: Sequence[dict[str, Any]]
    cursor: str | None


def contact_page(
    engine: Engine,
    limit: int,
    cursor: str | None = None,
    *,
    handoff: bool | None = None,
    query: str | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> ContactPage:
    """Return contacts, most recently active first (never active: by creation), a page at a time.

    `cursor` is the previous page's; `handoff` keeps only contacts handed to staff (or
    only those not); `query` matches any run of the phone number's digits (digits only
    are compared) or any part of a name, ignoring case; `where` adds conditions on the
    contacts table. Raise ValueError for a bad cursor.
    """
    # Contacts never active sort as if active at their creation (active_at says which).
    active = contacts.c.active_at
    select_ = select(contacts).where(*where)
    if handoff is not None:
        select_ = select_.where(contacts.c.handoff.is_(handoff))
    if query:
        select_ = select_.where(_matching(query))
    if cursor:
        when, phone = _cursor(cursor)
        select_ = select_.where(_before(active, contacts.c.phone, when, phone))
    newest = (contacts.c.phone.desc(),)
    with engine.connect() as connection:
        if query:
            rows = _search(connection, select_, limit + 1, active, newest)
        else:
            page = select_.order_by(active.desc(), *newest).limit(limit + 1)
            rows = [row._asdict() for row in connection.execute(page)]
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    next_cursor = _cursor_text(utc(last["active_at"]), last["phone"]) if last else None
    return ContactPage(rows, next_cursor)


def _search(
    connection: Connection,
    select_: Select[Any],
    count: int,
    active: ColumnElement[Any],
    newest: tuple[Any, ...],
) -> list[dict[str, Any]]:
    """Return the `count` newest contacts a search matches, quickly however many match.

    Walking the activity index finds a common name at once but visits every contact
    (each a table lookup) before giving up on a rare one; scanning the table and sorting
    what matches costs the same for both. So the walk goes only as far back as the
    SEARCH_RECENT most recent contacts, and the scan runs when that finds too few. Both
    give the same page: the walk saw every contact active since its horizon.
    """
    horizon = connection.execute(
        select(active).order_by(active.desc()).offset(SEARCH_RECENT).limit(1)
    ).scalar()
    if horizon is not None:
        recent = select_.where(active >= horizon).order_by(active.desc(), *newest).limit(count)
        rows = [row._asdict() for row in connection.execute(recent)]
        if len(rows) == count:
            return rows
    # An expression is not an index: both databases scan the table and sort the matches.
    everyone = select_.order_by(func.coalesce(active, active).desc(), *newest).limit(count)
    return [row._asdict() for row in connection.execute(everyone)]


def _matching(text: str) -> Any:
    digits = "".join(ch for ch in text if ch.isdigit())
    # "first last" holds every run of either name; the user's % and _ are only themselves.
    wanted = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    full_name = (
        func.coalesce(contacts.c.first_name, "") + " " + func.coalesce(contacts.c.last_name, "")
    )
    name = func.lower(full_name).like(f"%{wanted}%", escape="\\")
    return or_(name, contacts.c.phone.like(f"%{digits}%")) if digits else name


def _cursor_text(at: datetime, phone: str) -> str:
    """Return a page's cursor: opaque, and safe in a URL as it is."""
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{phone}".encode()).decode().rstrip("=")


def _cursor(text: str) -> tuple[datetime, str]:
    wrong = ValueError("cursor must be the one a previous page gave")
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        at, bar, phone = decoded.partition("|")
        if not (bar and phone):
            raise wrong
        return utc(datetime.fromisoformat(at)), phone
    except (ValueError, UnicodeDecodeError):
        raise wrong from None


def contact_view(row: dict[str, Any]) -> dict[str, Any]:
    """Return a contact row as the JSON API lists it."""
    return {
        "phone": row["phone"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "fields": row["fields"],
        "tags": row["tags"],
        "language": row["language"],
        "timezone": row["timezone"],
        "stage": row["stage"],
        "subscribed": row["subscribed"],
        "handoff": row["handoff"],
        "handoff_reason": row["handoff_reason"],
        "created_at": utc(row["created_at"]).isoformat(),
        "last_active_at": (
            utc(row["last_active_at"]).isoformat() if row["last_active_at"] else None
        ),
    }
