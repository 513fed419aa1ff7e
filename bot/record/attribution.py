"""Credit a conversion to the journey message that earned it: last touch, within windows.

A conversion (`conversion_reported`, logged when a business event such as
`order_placed` arrives) goes to the journey message the contact last clicked within its
journey's click window (5 days unless the journey says otherwise); failing that, to the
journey message the contact last received within its receipt window (12 hours). A
message counts as received when Twilio reported it delivered, else when it was sent,
unless Twilio reported it failed or undelivered.
Only journeys the event converts for can be credited; a conversion nothing earned is
kept with no journey.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from bot.record.schema import link_clicks, messages
from bot.record.times import moment, utc

CANDIDATES = 200  # touches looked at, newest first
SLACK = timedelta(days=2)  # a message can be received this long after it was made (deferred)
RECEIVED = ("delivered", "read")
LEFT = ("sent", "queued")
NEVER_RECEIVED = frozenset(("failed", "undelivered"))


def conversion_row(connection: Connection, event: Mapping[str, Any]) -> dict[str, Any]:
    """Return the conversions row for a `conversion_reported` event row."""
    data = event.get("data") or {}
    at: datetime = event["at"]
    windows = {
        journey: (timedelta(seconds=pair[0]), timedelta(seconds=pair[1]))
        for journey, pair in (data.get("windows") or {}).items()
    }
    touch = _clicked(connection, event["phone"], at, windows) or _received(
        connection, event["phone"], at, windows
    )
    total = data.get("total")
    return {
        "id": event["id"],
        "phone": event["phone"],
        "event": str(data.get("event") or "")[:100],
        "journey": touch["journey"] if touch else None,
        "step": touch["step"] if touch else None,
        "message_id": touch["message_id"] if touch else None,
        "total": Decimal(total).quantize(Decimal("0.0001")) if total is not None else None,
        "currency": data.get("currency"),
        "at": at,
    }


def _clicked(
    connection: Connection, phone: str, at: datetime, windows: Mapping[str, tuple[timedelta, ...]]
) -> dict[str, Any] | None:
    if not windows:
        return None
    longest = max(click for click, _ in windows.values())
    query = (
        select(
            link_clicks.c.journey, link_clicks.c.step, link_clicks.c.message_id, link_clicks.c.at
        )
        .where(link_clicks.c.phone == phone)
        .where(link_clicks.c.counted.is_(True))
        .where(link_clicks.c.journey.in_(list(windows)))
        .where(link_clicks.c.at.between(at - longest, at))
        .order_by(link_clicks.c.at.desc())
        .limit(CANDIDATES)
    )
    for row in connection.execute(query):
        clicked = utc(row.at)
        if at - clicked <= windows[row.journey][0]:
            return {"journey": row.journey, "step": row.step, "message_id": row.message_id}
    return None


def _received(
    connection: Connection, phone: str, at: datetime, windows: Mapping[str, tuple[timedelta, ...]]
) -> dict[str, Any] | None:
    if not windows:
        return None
    longest = max(receipt for _, receipt in windows.values())
    query = (
        select(messages.c.id, messages.c.journey, messages.c.step, messages.c.status_history)
        .where(messages.c.phone == phone)
        .where(messages.c.direction == "outbound")
        .where(messages.c.journey.in_(list(windows)))
        .where(messages.c.created_at.between(at - longest - SLACK, at))
        .order_by(messages.c.created_at.desc())
        .limit(CANDIDATES)
    )
    touches = []
    for row in connection.execute(query):
        if {status for status, _ in row.status_history or ()} & NEVER_RECEIVED:
            continue
        received = _received_at(row.status_history or [])
        if received is not None and received <= at and at - received <= windows[row.journey][1]:
            touches.append((received, row))
    if not touches:
        return None
    _, row = max(touches, key=lambda touch: touch[0])
    return {"journey": row.journey, "step": row.step, "message_id": row.id}


def _received_at(history: list[list[str]]) -> datetime | None:
    """Return when a message reached the phone: delivered, else sent (no receipt came)."""
    for statuses in (RECEIVED, LEFT):
        times = [moment(at) for status, at in history if status in statuses]
        found = [t for t in times if t is not None]
        if found:
            return min(found)
    return None
