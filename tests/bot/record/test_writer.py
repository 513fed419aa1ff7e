"""Writing entries into the record: all of a batch, once, the newest state winning."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bot.record import database
from bot.record.schema import contacts, conversation_events, journey_runs, messages
from bot.record.writer import Entry, RecordWriter

PHONE = "+14155550100"


@pytest.fixture
def engine(record_url: str) -> Iterator[Engine]:
    database.upgrade(record_url)
    engine = database.connect(record_url)
    yield engine
    engine.dispose()


def contact(at: str, **changes: Any) -> dict[str, Any]:
    """Return a stored contact as Contact.to_dict() writes it."""
    base: dict[str, Any] = {
        "phone": PHONE,
        "timezone": "America/Los_Angeles",
        "created_at": "2026-11-30T15:00:00+00:00",
        "fields": {"first_name": "Ana"},
        "tags": [],
        "subscribed": True,
        "handoff": False,
        "last_active_at": at,
        "runs": [
            {
                "id": "r1",
                "journey": "appointment_confirmation",
                "step": "ask",
                "status": "waiting",
                "started_at": "2026-11-30T15:00:00+00:00",
                "ended_at": None,
                "key": "b-7",
                "event_id": "e1",
            }
        ],
    }
    return {**base, **changes}


def message(status: str) -> dict[str, str]:
    """Return an outbound message's Redis hash."""
    return {
        "id": "m1",
        "phone": PHONE,
        "direction": "outbound",
        "body": "Reply YES to confirm",
        "status": status,
        "at": "2026-11-30T15:00:00+00:00",
        "kind": "transactional",
        "journey": "appointment_confirmation",
        "step": "ask",
    }


FIRST = Entry(
    commit="c1",
    at="2026-11-30T15:00:00+00:00",
    contact=contact("2026-11-30T15:00:00+00:00"),
    messages=[message("pending")],
    events=[
        {"at": "2026-11-30T15:00:00+00:00", "type": "journey_started", "journey": "x"},
        {"at": "2026-11-30T15:00:00+00:00", "type": "message_created", "run_id": "r1"},
    ],
)
LATER = Entry(
    commit="c2",
    at="2026-11-30T15:05:00+00:00",
    contact=contact("2026-11-30T15:05:00+00:00", subscribed=False),
    messages=[message("delivered")],
    events=[
        {
            "at": "2026-11-30T15:05:00+00:00",
            "type": "message_received",
            "text": "STOP",
            "intent": "opt_out",
            "confidence": 1.0,
        }
    ],
)


def snapshot(engine: Engine) -> dict[str, Any]:
    """Return what the record holds, table by table, in a comparable form."""
    with engine.connect() as connection:
        return {
            "contacts": connection.execute(
                select(contacts.c.phone, contacts.c.subscribed, contacts.c.first_name)
            ).all(),
            "messages": connection.execute(select(messages.c.id, messages.c.status)).all(),
            "events": connection.execute(
                select(conversation_events.c.id, conversation_events.c.type).order_by(
                    conversation_events.c.id
                )
            ).all(),
            "runs": connection.execute(select(journey_runs.c.id, journey_runs.c.key)).all(),
        }


def test_a_batch_writes_contacts_messages_events_and_runs(engine: Engine) -> None:
    RecordWriter(engine).apply([FIRST, LATER])
    held = snapshot(engine)
    assert [tuple(row) for row in held["contacts"]] == [(PHONE, False, "Ana")]
    assert [tuple(row) for row in held["messages"]] == [("m1", "delivered")]
    assert [tuple(row) for row in held["events"]] == [
        ("c1:0", "journey_started"),
        ("c1:1", "message_created"),
        ("c2:0", "message_received"),
    ]
    assert [tuple(row) for row in held["runs"]] == [("r1", "b-7")]
    with engine.connect() as connection:
        received = connection.execute(
            select(conversation_events.c.intent, conversation_events.c.data).where(
                conversation_events.c.type == "message_received"
            )
        ).one()
    assert received.intent == "opt_out" and received.data == {"text": "STOP"}


def test_applying_the_same_entries_again_changes_nothing(engine: Engine) -> None:
    writer = RecordWriter(engine)
    writer.apply([FIRST, LATER])
    before = snapshot(engine)
    writer.apply([FIRST, LATER])
    writer.apply([LATER])
    assert snapshot(engine) == before
    with engine.connect() as connection:
        assert (
            connection.execute(select(func.count()).select_from(conversation_events)).scalar() == 3
        )


def test_an_older_entry_replayed_after_a_newer_one_does_not_roll_it_back(engine: Engine) -> None:
    writer = RecordWriter(engine)
    writer.apply([LATER])
    writer.apply([FIRST])  # e.g. redelivered after a crash, behind a newer batch
    held = snapshot(engine)
    assert [tuple(row) for row in held["contacts"]] == [(PHONE, False, "Ana")]
    assert [tuple(row) for row in held["messages"]] == [("m1", "delivered")]
