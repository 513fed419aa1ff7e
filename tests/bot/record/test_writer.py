"""Writing entries into the record: all of a batch, once, in any order, the newest winning."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bot.record.schema import contacts, conversation_events, journey_runs, messages
from bot.record.writer import Commit, Entry, RecordWriter, StatusChange

PHONE = "+14155550100"
T0 = "2026-11-30T15:00:00+00:00"
T5 = "2026-11-30T15:05:00+00:00"


def contact(at: str, **changes: Any) -> dict[str, Any]:
    """Return a contact as Contact.record_view() gives it."""
    base: dict[str, Any] = {
        "phone": PHONE,
        "timezone": "America/Los_Angeles",
        "created_at": T0,
        "fields": {"first_name": "Ana"},
        "tags": [],
        "language": None,
        "stage": None,
        "subscribed": True,
        "handoff": False,
        "handoff_reason": None,
        "undeliverable": None,
        "last_active_at": at,
    }
    return {**base, **changes}


def run(step: str, status: str = "waiting", ended_at: str | None = None) -> dict[str, Any]:
    return {
        "id": "r1",
        "journey": "appointment_confirmation",
        "key": "b-7",
        "event_id": "e1",
        "status": status,
        "step": step,
        "started_at": T0,
        "ended_at": ended_at,
    }


def message(status: str = "pending", **changes: str) -> dict[str, str]:
    """Return an outbound message as the commit entry carries it."""
    base = {
        "id": "m1",
        "phone": PHONE,
        "direction": "outbound",
        "body": "Reply YES to confirm",
        "status": status,
        "at": T0,
        "kind": "transactional",
        "journey": "appointment_confirmation",
        "step": "ask",
    }
    return {**base, **changes}


def status(entry_id: str, at: str, value: str, **options: Any) -> StatusChange:
    return StatusChange(entry_id, at, PHONE, "m1", value, **options)


FIRST = Commit(
    "1764514800000-0",
    T0,
    PHONE,
    contact=contact(T0),
    runs=[run("ask")],
    messages=[message()],
    events=[
        {"at": T0, "type": "journey_started", "journey": "appointment_confirmation"},
        {"at": T0, "type": "message_created", "run_id": "r1", "step": "ask"},
        {"at": T0, "type": "wait_started", "run_id": "r1", "step": "ask"},
    ],
)
SENT = status("1764514801000-0", "2026-11-30T15:00:01+00:00", "sent", sid="SM1")
DELIVERED = status("1764514802000-0", "2026-11-30T15:00:02+00:00", "delivered")
LATER = Commit(
    "1764515100000-0",
    T5,
    PHONE,
    contact=contact(T5, subscribed=False),
    runs=[run("done", status="completed", ended_at=T5)],
    events=[
        {
            "at": T5,
            "type": "message_received",
            "text": "STOP",
            "intent": "opt_out",
            "confidence": 1.0,
        },
        {"at": T5, "type": "journey_ended", "run_id": "r1", "journey": "x", "reason": "opted out"},
    ],
)
ALL: list[Entry] = [FIRST, SENT, DELIVERED, LATER]


def snapshot(engine: Engine) -> dict[str, Any]:
    """Return what the record holds, table by table, in a comparable form."""
    with engine.connect() as connection:
        return {
            "contacts": [
                tuple(row)
                for row in connection.execute(
                    select(contacts.c.phone, contacts.c.subscribed, contacts.c.first_name)
                )
            ],
            "messages": [
                tuple(row)
                for row in connection.execute(
                    select(
                        messages.c.id,
                        messages.c.body,
                        messages.c.status,
                        messages.c.sid,
                        messages.c.status_history,
                    )
                )
            ],
            "events": [
                tuple(row)
                for row in connection.execute(
                    select(conversation_events.c.id, conversation_events.c.type).order_by(
                        conversation_events.c.id
                    )
                )
            ],
            "runs": [
                tuple(row)
                for row in connection.execute(
                    select(
                        journey_runs.c.id,
                        journey_runs.c.status,
                        journey_runs.c.step,
                        journey_runs.c.steps,
                        journey_runs.c.end_reason,
                    )
                )
            ],
        }


def test_a_batch_writes_contacts_messages_statuses_events_and_runs(engine: Engine) -> None:
    RecordWriter(engine).apply(ALL)
    held = snapshot(engine)
    assert held["contacts"] == [(PHONE, False, "Ana")]
    assert held["messages"] == [
        (
            "m1",
            "Reply YES to confirm",
            "delivered",
            "SM1",
            [
                ["pending", T0],
                ["sent", "2026-11-30T15:00:01+00:00"],
                ["delivered", "2026-11-30T15:00:02+00:00"],
            ],
        )
    ]
    assert [row[1] for row in held["events"]] == [
        "journey_started",
        "message_created",
        "wait_started",
        "message_received",
        "journey_ended",
    ]
    assert held["events"][0][0] == "1764514800000-0:0"
    ((run_id, run_status, step, steps, reason),) = held["runs"]
    assert (run_id, run_status, step, reason) == ("r1", "completed", "done", "opted out")
    assert [name for name, *_ in steps] == ["ask", "done"]
    with engine.connect() as connection:
        received = connection.execute(
            select(conversation_events.c.intent, conversation_events.c.data).where(
                conversation_events.c.type == "message_received"
            )
        ).one()
    assert received.intent == "opt_out" and received.data == {"text": "STOP"}


def test_applying_the_same_entries_again_changes_nothing(engine: Engine) -> None:
    writer = RecordWriter(engine)
    writer.apply(ALL)
    before = snapshot(engine)
    writer.apply(ALL)
    writer.apply([LATER, SENT])
    assert snapshot(engine) == before
    with engine.connect() as connection:
        count = select(func.count()).select_from(conversation_events)
        assert connection.execute(count).scalar() == 5


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_entries_in_any_order_and_any_batches_leave_the_same_record(
    engine: Engine, order: Sequence[int]
) -> None:
    """A batch redelivered after a crash can land behind newer ones: the end is the same."""
    writer = RecordWriter(engine)
    for index in order:
        writer.apply([ALL[index]])
    shuffled = snapshot(engine)
    reference = _fresh_snapshot(engine, ALL)
    assert shuffled == reference


def _fresh_snapshot(engine: Engine, entries: list[Entry]) -> dict[str, Any]:
    """Apply `entries` in order to an emptied record; return its snapshot."""
    with engine.begin() as connection:
        for table in (contacts, messages, conversation_events, journey_runs):
            connection.execute(table.delete())
    RecordWriter(engine).apply(entries)
    return snapshot(engine)


def test_a_status_that_overtakes_its_message_is_kept_and_completed_later(engine: Engine) -> None:
    writer = RecordWriter(engine)
    writer.apply([DELIVERED])
    (placeholder,) = snapshot(engine)["messages"]
    assert placeholder[2] == "delivered" and placeholder[1] == ""
    writer.apply([FIRST])
    ((_, body, state, _, history),) = snapshot(engine)["messages"]
    assert (body, state) == ("Reply YES to confirm", "delivered")
    assert [name for name, _ in history] == ["pending", "delivered"]


def test_a_run_that_loops_keeps_every_visit_in_order(engine: Engine) -> None:
    """ask -> remind -> ask: the second visit to `ask` is its own step, not a replay."""
    commits = [
        Commit(f"17645148{n}0000-0", T0, PHONE, runs=[run(step)])
        for n, step in enumerate(["ask", "remind", "ask"])
    ]
    writer = RecordWriter(engine)
    writer.apply([commits[2], commits[0]])
    writer.apply([commits[1], commits[2]])
    ((_, _, _, steps, _),) = snapshot(engine)["runs"]
    assert [name for name, *_ in steps] == ["ask", "remind", "ask"]


def test_text_too_long_for_its_column_or_holding_nul_is_cut_not_refused(engine: Engine) -> None:
    """PostgreSQL refuses both; the entry (its messages too) must not be lost for it."""
    long_name = "A" * 300
    commit = Commit(
        "1764514900000-0",
        T5,
        PHONE,
        contact=contact(T5, fields={"first_name": long_name}, language="x" * 30),
        messages=[message(journey="j" * 150, body="hi\x00there")],
        events=[{"at": T5, "type": "message_received", "text": "hi", "intent": "i" * 60}],
    )
    RecordWriter(engine).apply([commit])
    with engine.connect() as connection:
        person = connection.execute(select(contacts.c.first_name, contacts.c.language)).one()
        sent = connection.execute(select(messages.c.journey, messages.c.body)).one()
        intent = connection.execute(select(conversation_events.c.intent)).scalar()
    assert (person.first_name, person.language) == ("A" * 200, "x" * 16)
    assert (sent.journey, sent.body) == ("j" * 100, "hithere")
    assert intent == "i" * 40


def test_statuses_of_one_millisecond_end_on_the_further_one(engine: Engine) -> None:
    """A status change is dated by its stream entry, to the millisecond: Twilio's `sent`
    and `delivered` can share one, and the record must still end on `delivered`."""
    same = "2026-11-30T15:00:01.001000+00:00"
    writer = RecordWriter(engine)
    writer.apply([FIRST, status("1764514801001-0", same, "queued", sid="SM1")])
    writer.apply([status("1764514801001-1", same, "sent")])
    writer.apply([status("1764514801001-2", same, "delivered")])
    ((_, _, state, _, history),) = snapshot(engine)["messages"]
    assert state == "delivered"
    assert [name for name, _ in history] == ["pending", "queued", "sent", "delivered"]


def test_the_final_status_is_the_furthest_whatever_the_clocks_say(engine: Engine) -> None:
    """A message is dated by the app's clock, its statuses by Redis': a fast app clock can
    date `pending` after the `failed` that followed it, and the record must say failed."""
    ahead = Commit("1764514800000-0", T0, PHONE, messages=[message(at="2026-11-30T15:00:09+00:00")])
    failed = status("1764514801000-0", "2026-11-30T15:00:01+00:00", "failed", error_code=30003)
    RecordWriter(engine).apply([ahead, failed])
    ((_, _, state, _, history),) = snapshot(engine)["messages"]
    assert state == "failed"
    assert [name for name, _ in history] == ["failed", "pending"]  # as the clocks had it
