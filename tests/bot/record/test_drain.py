"""The record stream copied into the record: everything once, nothing lost to a crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from bot.record import database
from bot.record.drain import RecordDrain
from bot.record.schema import contacts, conversation_events, messages
from bot.record.writer import RecordWriter
from bot.runtime import Runtime
from bot.storage import keys
from tests.conftest import free_port

PHONE = "+14155550100"
BOOKING = {"appointment_at": "2030-06-03T16:00:00Z", "provider": "Dr. Lee"}


@pytest.fixture
def dead() -> Iterator[RecordWriter]:
    """A writer whose database does not answer."""
    engine = database.connect(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x")
    yield RecordWriter(engine)
    engine.dispose()


def drain(
    runtime: Runtime, writer: RecordWriter, name: str = "a", claim_after_ms: int = 30_000
) -> RecordDrain:
    return RecordDrain(runtime.redis, writer, keys.RECORD, name, claim_after_ms)


def copy_all(copier: RecordDrain) -> int:
    total = 0
    while count := copier.run_once():
        total += count
    return total


def held(engine: Engine) -> dict[str, object]:
    """Return what the record holds of the contact, in a comparable form."""
    with engine.connect() as connection:
        count = select(func.count()).select_from(conversation_events)
        return {
            "contacts": connection.execute(select(contacts.c.phone)).scalars().all(),
            "messages": sorted(
                tuple(row) for row in connection.execute(select(messages.c.id, messages.c.status))
            ),
            "events": connection.execute(count).scalar(),
        }


def test_commits_and_status_changes_reach_the_record_and_leave_redis(
    runtime: Runtime, engine: Engine
) -> None:
    runtime.conversations.trigger(PHONE, "appointment_booked", BOOKING)
    (question,) = runtime.store.messages(PHONE)
    runtime.store.accept(question.ref, "SM0001", "sent")

    assert copy_all(drain(runtime, RecordWriter(engine))) >= 2
    record = held(engine)
    assert record["contacts"] == [PHONE]
    assert record["messages"] == [(question.id, "sent")]
    assert record["events"] == len(runtime.store.events(PHONE))
    assert runtime.redis.xlen(keys.RECORD) == 0  # copied entries leave Redis
    assert drain(runtime, RecordWriter(engine)).lag().entries == 0


def test_a_batch_whose_database_was_down_is_written_once_it_is_back(
    runtime: Runtime, engine: Engine, dead: RecordWriter
) -> None:
    runtime.conversations.trigger(PHONE, "appointment_booked", BOOKING)
    waiting = runtime.redis.xlen(keys.RECORD)
    with pytest.raises(OperationalError):
        drain(runtime, dead).run_once()
    assert runtime.redis.xlen(keys.RECORD) == waiting  # nothing acknowledged, nothing lost
    assert drain(runtime, dead).lag().entries == waiting

    copy_all(drain(runtime, RecordWriter(engine)))  # the same consumer, its database back
    assert held(engine)["contacts"] == [PHONE]
    assert runtime.redis.xlen(keys.RECORD) == 0


def test_a_dead_consumers_batch_is_claimed_by_another_and_written_once(
    runtime: Runtime, engine: Engine, dead: RecordWriter
) -> None:
    runtime.conversations.trigger(PHONE, "appointment_booked", BOOKING)
    with pytest.raises(OperationalError):
        drain(runtime, dead, "dies").run_once()  # read, never acknowledged
    other = drain(runtime, RecordWriter(engine), "lives", claim_after_ms=0)
    copy_all(other)
    first = held(engine)
    assert first["contacts"] == [PHONE]
    # The dead consumer's batch is gone from its pending list: nothing is written twice.
    assert copy_all(drain(runtime, RecordWriter(engine), "dies")) == 0
    assert held(engine) == first


def test_entries_the_record_cannot_take_are_set_aside_and_the_rest_written(
    runtime: Runtime, engine: Engine
) -> None:
    runtime.conversations.trigger(PHONE, "appointment_booked", BOOKING)
    runtime.redis.xadd(keys.RECORD, {"c": "{not json"})  # unreadable
    no_zone = {"phone": "+14155550199", "timezone": None, "created_at": "2026-11-30T12:00:00Z"}
    runtime.redis.xadd(
        keys.RECORD, {"c": json.dumps({"phone": "+14155550199", "contact": no_zone})}
    )
    runtime.redis.xadd(keys.RECORD, {"m": "+14155550100/x"})  # no status
    shapeless = json.dumps({"phone": PHONE, "messages": [{"id": "m9"}]})  # a message of nothing
    runtime.redis.xadd(keys.RECORD, {"c": shapeless})
    waiting = runtime.redis.xlen(keys.RECORD)

    assert copy_all(drain(runtime, RecordWriter(engine))) == waiting
    assert held(engine)["contacts"] == [PHONE]  # the good entries all written
    assert runtime.redis.xlen(keys.RECORD) == 0
    behind = drain(runtime, RecordWriter(engine)).lag()
    assert (behind.entries, behind.dead) == (0, 4)
    kept: Any = runtime.redis.xrange(keys.RECORD + ":dead")
    assert [fields.get("c") or fields.get("m") for _, fields in kept] == [
        "{not json",
        json.dumps({"phone": "+14155550199", "contact": no_zone}),
        "+14155550100/x",
        shapeless,
    ]
