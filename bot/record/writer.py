"""Writing committed transitions into the record: in batches, idempotently, in order.

Each entry is what one commit in Redis changed for one contact: the contact as it now
is, the messages it wrote and the events it logged. Applying an entry twice, or an older
entry after a newer one, leaves the record as it was: rows have stable ids, and a row is
only replaced by one at least as recent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from bot.record.schema import contacts, conversation_events, journey_runs, messages

# Event fields that have columns of their own; the rest go to `data`.
_EVENT_COLUMNS = ("type", "at", "intent", "confidence", "journey", "run_id")


@dataclass(frozen=True)
class Entry:
    """What one committed transition adds to the record."""

    commit: str  # the commit's id: its events are numbered within it
    at: str  # when it was committed (ISO-8601)
    contact: Mapping[str, Any]  # Contact.to_dict()
    messages: Sequence[Mapping[str, str]] = ()  # Message.to_hash() of each message written
    events: Sequence[Mapping[str, Any]] = ()  # the log events, each with `at` and `type`


def moment(text: str | None) -> datetime | None:
    """Return an ISO-8601 time as an aware datetime (UTC when it names no zone)."""
    if not text:
        return None
    found = datetime.fromisoformat(text)
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


class RecordWriter:
    """Applies entries to the record, one transaction per batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite

    def apply(self, entries: Sequence[Entry]) -> None:
        """Write a batch of entries, all or nothing; replays change nothing."""
        latest: dict[str, Entry] = {}
        message_rows: dict[str, dict[str, Any]] = {}
        event_rows: list[dict[str, Any]] = []
        for entry in entries:  # in commit order: a later entry wins within the batch
            latest[entry.contact["phone"]] = entry
            for data in entry.messages:
                message_rows[data["id"]] = _message_row(data, entry.at)
            event_rows.extend(_event_rows(entry))
        contact_rows = [_contact_row(entry) for entry in latest.values()]
        run_rows = [row for entry in latest.values() for row in _run_rows(entry)]
        with self.engine.begin() as connection:
            if contact_rows:
                connection.execute(self._newer_wins(contacts, ["phone"]), contact_rows)
            if message_rows:
                connection.execute(self._newer_wins(messages, ["id"]), list(message_rows.values()))
            if run_rows:
                connection.execute(self._newer_wins(journey_runs, ["id"]), run_rows)
            if event_rows:
                insert = self._dialect.insert(conversation_events).on_conflict_do_nothing(
                    index_elements=["id"]
                )
                connection.execute(insert, event_rows)

    def _newer_wins(self, table: Table, key: list[str]) -> Insert:
        """Return an upsert that replaces a row only with one at least as recent."""
        insert = self._dialect.insert(table)
        columns = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in key}
        return insert.on_conflict_do_update(
            index_elements=key,
            set_=columns,
            where=insert.excluded["updated_at"] >= table.c.updated_at,
        )


def _contact_row(entry: Entry) -> dict[str, Any]:
    contact = entry.contact
    fields = dict(contact.get("fields") or {})
    return {
        "phone": contact["phone"],
        "first_name": _text(fields.get("first_name")),
        "last_name": _text(fields.get("last_name")),
        "fields": fields,
        "tags": list(contact.get("tags") or []),
        "language": contact.get("language"),
        "timezone": contact["timezone"],
        "stage": contact.get("stage"),
        "subscribed": bool(contact.get("subscribed", True)),
        "handoff": bool(contact.get("handoff", False)),
        "handoff_reason": contact.get("handoff_reason"),
        "undeliverable": contact.get("undeliverable"),
        "created_at": moment(contact.get("created_at")) or moment(entry.at),
        "last_active_at": moment(contact.get("last_active_at")),
        "updated_at": moment(entry.at),
    }


def _message_row(data: Mapping[str, str], at: str) -> dict[str, Any]:
    return {
        "id": data["id"],
        "phone": data["phone"],
        "direction": data["direction"],
        "body": data.get("body", ""),
        "kind": data.get("kind"),
        "journey": data.get("journey"),
        "step": data.get("step"),
        "status": data["status"],
        "status_history": [[data["status"], at]],
        "reason": data.get("reason"),
        "sid": data.get("sid"),
        "error_code": int(data["error_code"]) if data.get("error_code") else None,
        "segments": None,
        "created_at": moment(data["at"]),
        "updated_at": moment(at),
    }


def _event_rows(entry: Entry) -> Iterable[dict[str, Any]]:
    phone = entry.contact["phone"]
    for number, event in enumerate(entry.events):
        yield {
            "id": f"{entry.commit}:{number}",
            "phone": phone,
            "type": event["type"],
            "at": moment(event.get("at")) or moment(entry.at),
            "intent": event.get("intent"),
            "confidence": event.get("confidence"),
            "journey": event.get("journey"),
            "run_id": event.get("run_id"),
            "data": {k: v for k, v in event.items() if k not in _EVENT_COLUMNS},
        }


def _run_rows(entry: Entry) -> Iterable[dict[str, Any]]:
    phone = entry.contact["phone"]
    for run in entry.contact.get("runs") or []:
        yield {
            "id": run["id"],
            "phone": phone,
            "journey": run["journey"],
            "key": run.get("key"),
            "event_id": run.get("event_id"),
            "status": run["status"],
            "step": run.get("step"),
            "steps": [],
            "variant": None,
            "started_at": moment(run["started_at"]),
            "ended_at": moment(run.get("ended_at")),
            "end_reason": None,
            "updated_at": moment(entry.at),
        }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
