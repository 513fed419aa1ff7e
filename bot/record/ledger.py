"""The consent ledger: every consent decision with its evidence, only ever added to.

Each `consent_changed` conversation event becomes one ledger row named by the same
stable id as its `conversation_events` row, so writing a stream entry twice adds it
once. Retention never trims the ledger (bot/record/retention.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from bot.record.schema import consent_ledger
from bot.record.times import moment, utc

EVENT = "consent_changed"  # the conversation event each ledger row comes from
# What the API shows of each decision, in this order.
FIELDS = ("purpose", "granted", "method", "source", "evidence", "disclosure", "at")
# How a decision logged before decisions said how they were made was made.
UNSAID_METHOD = "api"


def ledger_rows(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the ledger rows of the consent decisions among conversation event rows.

    Each event row is as the writer makes it: id, seq, phone, type, at, and the event's
    other fields in `data`.
    """
    rows = []
    for event in events:
        if event["type"] != EVENT:
            continue
        data = event.get("data") or {}
        if "purpose" not in data or "granted" not in data:
            continue  # not a decision the ledger can state
        rows.append(
            {
                "id": event["id"],
                "seq": int(event.get("seq") or 0),
                "phone": event["phone"],
                "purpose": str(data["purpose"]),
                "granted": bool(data["granted"]),
                "method": str(data.get("method") or UNSAID_METHOD),
                "source": _text(data.get("source")),
                "evidence": _text(data.get("evidence")),
                "disclosure": _text(data.get("disclosure")),
                "at": event["at"],
            }
        )
    return rows


def contact_ledger(engine: Engine, phone: str) -> list[dict[str, Any]]:
    """Return the contact's ledger rows oldest first, times in UTC."""
    table = consent_ledger
    query = (
        select(table).where(table.c.phone == phone).order_by(table.c.at, table.c.seq, table.c.id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [{**row._asdict(), "at": utc(row.at)} for row in rows]


def view(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return a ledger row, or a decision as the event log holds it, as the API shows it."""
    at = row["at"]
    when = at if isinstance(at, datetime) else moment(str(at))
    shown = dict(row, at=utc(when).isoformat() if when is not None else None)
    shown["method"] = shown.get("method") or UNSAID_METHOD
    return {name: shown.get(name) for name in FIELDS}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
