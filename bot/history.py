"""A contact's history: the record, with Redis' recent window laid over it.

The record has every message, event and consent decision the recorder has copied;
Redis has the recent ones, some perhaps not copied yet, and the freshest status of each
message. Merging the two answers with what was accepted a moment ago (read-your-writes)
and still walks only one page of the record's index, however long the history.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from bot.domain.messages import Direction, Message, held_view
from bot.record import ledger
from bot.record.reading import Place, events_before, message_place, messages_before
from bot.record.times import moment, utc
from bot.storage.store import Store

PAGE = 100  # messages per page unless asked otherwise
LONGEST_PAGE = 500


class UnknownMessage(LookupError):
    """`before` names no message of this contact."""


class History:
    """Reads message history from the record and Redis together."""

    def __init__(self, store: Store, record: Engine) -> None:
        self.store = store
        self.record = record

    def messages(
        self, phone: str, limit: int = PAGE, before: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the newest `limit` messages (before message `before`), oldest first.

        Each is the JSON API's view: id, direction, body, status, at (and kind, journey,
        step, error code for outbound messages). Raise UnknownMessage for a bad `before`.
        """
        recent = self.store.messages(phone)
        cursor = None
        if before is not None:
            held = next((m for m in recent if m.id == before), None)
            cursor = _place(held) if held else message_place(self.record, phone, before)
            if cursor is None:
                raise UnknownMessage(before)
        found: dict[str, tuple[Place, dict[str, Any]]] = {}
        for row in messages_before(self.record, phone, limit, cursor):
            place = Place(row["seq"], row["created_at"], row["id"])
            found[row["id"]] = (place, _from_row(row))
        for message in recent:  # Redis' copy is the fresher: it wins
            place = _place(message)
            if cursor is None or place < cursor:
                found[message.id] = (place, public(message))
        newest = sorted(found.values(), key=lambda pair: pair[0], reverse=True)[:limit]
        return [view for _, view in reversed(newest)]

    def events(
        self, phone: str, limit: int = PAGE, before: int | None = None
    ) -> list[dict[str, Any]]:
        """Return the newest `limit` conversation events (numbered below `before`), oldest first.

        Events logged before they were numbered (seq 0) come from Redis' log alone.
        """
        found: dict[Any, dict[str, Any]] = {}
        for event in events_before(self.record, phone, limit, before):
            if event["seq"]:
                found[event["seq"]] = event
        for index, event in enumerate(self.store.events(phone)):
            seq = int(event.get("seq") or 0)
            if before is None or seq < before:
                found[seq or (0, index)] = {**event, "seq": seq}

        def order(event: dict[str, Any]) -> tuple[int, str]:
            return int(event["seq"]), str(event.get("at", ""))

        newest = sorted(found.values(), key=order, reverse=True)[:limit]
        return list(reversed(newest))

    def consent(self, phone: str) -> list[dict[str, Any]]:
        """Return the contact's consent decisions, oldest first, as the JSON API shows them.

        The record's ledger, with the decisions in Redis' event log that the recorder may
        not have copied yet: one made a moment ago is there at once, and none twice.
        """
        found: dict[Any, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        for row in ledger.contact_ledger(self.record, phone):
            shown = ledger.view(row)
            found[_decision(row["seq"], shown)] = ((row["at"], row["seq"]), shown)
        for event in self.store.events(phone):
            if event.get("type") != ledger.EVENT or "purpose" not in event:
                continue
            seq = int(event.get("seq") or 0)
            shown = ledger.view(event)
            found.setdefault(_decision(seq, shown), ((moment(shown["at"]), seq), shown))
        return [shown for _, shown in sorted(found.values(), key=lambda pair: pair[0])]


def _decision(seq: int, shown: dict[str, Any]) -> tuple[Any, ...]:
    """Return what tells one decision from another: its number, else what it says."""
    if seq:
        return ("seq", seq)
    return ("said", shown["at"], shown["purpose"], shown["granted"], shown["source"])


def public(message: Message) -> dict[str, Any]:
    """Return a message as the JSON API shows it."""
    return {"id": message.id, **message.public()}


def _place(message: Message) -> Place:
    at = moment(message.at)
    assert at is not None, "a stored message always has its time"
    return Place(message.seq, at, message.id)


def _from_row(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "direction": row["direction"],
        "body": row["body"],
        "status": row["status"],
        "at": row["created_at"].isoformat(),
    }
    if row["direction"] == Direction.OUTBOUND:
        out["kind"] = row["kind"]
        out["journey"] = row["journey"]
        out["step"] = row["step"]
        if row["author"]:
            out["author"] = row["author"]
        if row["error_code"] is not None:
            out["error_code"] = row["error_code"]
        send_at = utc(row["send_at"]).isoformat() if row.get("send_at") else None
        out.update(held_view(row["status"], send_at, row.get("reason")))
    return out
