"""Values kept with a run (`set: {run.x: ...}`), shared by the runs one event started."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flows.definition import load_journeys, read_journey
from flows.engine import Context, Reply, Run, RunStatus, Timeout, resume, start
from flows.events import FieldSet, ResultSaved
from flows.model import Journey
from flows.rules import entry_decision

NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
ANA = {"phone": "+14155550100", "fields": {"first_name": "Ana"}, "timezone": "America/Los_Angeles"}
JOURNEYS = load_journeys()


def _parse(text: str) -> Journey:
    reading = read_journey("<test>", textwrap.dedent(text))
    assert reading.journey is not None, "\n".join(str(e) for e in reading.errors)
    return reading.journey


def _errors(text: str) -> list[str]:
    return [str(error) for error in read_journey("<test>", textwrap.dedent(text)).errors]


SAVES = """\
id: saves
kind: transactional
trigger: {event: thing_booked}
fields: [contact.first_name]
steps:
  - id: ask
    send: "Keep it?"
    wait: {timeout: 1d, on: {affirm: kept, deny: dropped}}
  - id: kept
    set: {run.status: kept, last_answer: kept}
    send: "Kept ({{ run.status }}), {{ contact.first_name }}."
  - id: dropped
    set: {run.status: dropped}
    send: "Dropped ({{ run.status }})."
"""

READS = """\
id: reads
kind: transactional
trigger: {event: thing_booked}
fields: [run.status]
steps:
  - id: look
    send: "Status: {{ run.status | default('unknown', true) }}."
"""


def _texts(events: list) -> list[str]:
    return [e.text for e in events if e.type == "message_created"]


def test_a_run_value_is_kept_with_the_run_and_not_on_the_contact() -> None:
    journey = _parse(SAVES)
    run, _ = start(journey, Context(ANA, {}, NOW), {}, "r1")
    done, events = resume(run, journey, Context(ANA, {}, NOW), Reply("deny"))
    assert [e.type for e in events] == ["result_saved", "message_created", "journey_ended"]
    saved = events[0]
    assert isinstance(saved, ResultSaved)
    assert (saved.run_id, saved.journey, saved.name, saved.value) == (
        "r1",
        "saves",
        "status",
        "dropped",
    )
    assert done.results == {"status": "dropped"}
    assert run.results == {}  # the run given is left alone
    assert _texts(events) == ["Dropped (dropped)."]


def test_contact_fields_and_run_values_can_be_set_together() -> None:
    journey = _parse(SAVES)
    run, _ = start(journey, Context(ANA, {}, NOW), {}, "r1")
    done, events = resume(run, journey, Context(ANA, {}, NOW), Reply("affirm"))
    assert [(e.type, e.name) for e in events if isinstance(e, FieldSet | ResultSaved)] == [
        ("result_saved", "status"),
        ("field_set", "last_answer"),
    ]
    assert done.results == {"status": "kept"}
    assert _texts(events) == ["Kept (kept), Ana."]


def _sibling(results: dict, event_id: str | None, started: datetime = NOW) -> Run:
    return Run(
        id=f"sib-{event_id}-{started.minute}",
        journey="saves",
        step="dropped",
        status=RunStatus.COMPLETED,
        started_at=started,
        event_id=event_id,
        results=results,
    )


@pytest.mark.parametrize(
    ("siblings", "expected"),
    [
        ([], "Status: unknown."),
        ([_sibling({"status": "dropped"}, "evt-1")], "Status: dropped."),
        # Another event's runs are about another thing.
        ([_sibling({"status": "dropped"}, "evt-2")], "Status: unknown."),
        ([_sibling({"status": "dropped"}, None)], "Status: unknown."),
        # The latest started run's value wins.
        (
            [
                _sibling({"status": "kept"}, "evt-1", NOW + timedelta(minutes=5)),
                _sibling({"status": "dropped"}, "evt-1"),
            ],
            "Status: kept.",
        ),
    ],
)
def test_runs_started_by_the_same_event_read_each_others_values(
    siblings: list[Run], expected: str
) -> None:
    ctx = Context(ANA, {}, NOW, runs=tuple(siblings))
    _, events = start(_parse(READS), ctx, {}, "r2", event_id="evt-1")
    assert _texts(events) == [expected]


def test_a_run_without_an_event_sees_only_its_own_values() -> None:
    ctx = Context(ANA, {}, NOW, runs=(_sibling({"status": "dropped"}, None),))
    _, events = start(_parse(READS), ctx, {}, "r2")
    assert _texts(events) == ["Status: unknown."]


def test_the_key_comes_from_the_first_key_field_the_event_carries() -> None:
    journey = _parse(
        """\
        id: keyed
        kind: transactional
        trigger: {event: thing_booked}
        key: [event.booking_id, event.appointment_id]
        event_data: {booking_id: optional text, appointment_id: optional text}
        steps:
          - {id: hello, send: "Hi"}
        """
    )
    assert journey.key == ("booking_id", "appointment_id")
    ctx = Context(ANA, {}, NOW)
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"booking_id": "A-1", "appointment_id": "x"}, "A-1"),
        ({"appointment_id": 42}, "42"),
        ({"booking_id": " ", "appointment_id": "B"}, "B"),
        ({}, None),
    ]
    for data, key in cases:
        run, _ = start(journey, ctx, data, "r")
        assert run.key == key, data


def test_run_values_key_and_event_round_trip_and_old_runs_load() -> None:
    journey = JOURNEYS["appointment_confirmation"]
    data = {"appointment_at": "2026-12-01T17:30:00Z", "booking_id": "A-1"}
    run, _ = start(journey, Context(ANA, {}, NOW), data, "r", event_id="evt-1")
    done, _ = resume(run, journey, Context(ANA, {}, NOW), Reply("deny"))
    assert (done.key, done.event_id, done.results) == (
        "A-1",
        "evt-1",
        {"appointment_status": "cancelled"},
    )
    assert Run.from_dict(json.loads(json.dumps(done.to_dict()))) == done
    old = done.to_dict()
    del old["key"], old["event_id"], old["results"]
    assert (Run.from_dict(old).key, Run.from_dict(old).results) == (None, {})


def _booking_runs(answer: str | None) -> tuple[Run, Run]:
    """Start a booking's confirmation and reminders from one event; answer the first."""
    data = {"appointment_at": "2026-12-01T17:30:00Z", "provider": "Dr. Lee"}
    confirmation = JOURNEYS["appointment_confirmation"]
    asked, _ = start(confirmation, Context(ANA, {}, NOW), data, "c", event_id="evt-1")
    if answer is not None:
        asked, _ = resume(asked, confirmation, Context(ANA, {}, NOW), Reply(answer))
    at = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
    ctx = Context(ANA, {}, at, runs=(asked,))
    reminders, _ = start(JOURNEYS["appointment_reminders"], ctx, data, "r", event_id="evt-1")
    return asked, reminders


@pytest.mark.parametrize(("answer", "reminded"), [(None, True), ("affirm", True), ("deny", False)])
def test_the_reminders_read_the_answer_to_their_own_booking(
    answer: str | None, reminded: bool
) -> None:
    _, reminders = _booking_runs(answer)
    assert (reminders.status is RunStatus.DELAYED) is reminded


def test_a_later_no_stops_reminders_already_under_way() -> None:
    asked, reminders = _booking_runs(None)
    assert reminders.status is RunStatus.DELAYED
    cancelled, _ = resume(
        asked, JOURNEYS["appointment_confirmation"], Context(ANA, {}, NOW), Reply("deny")
    )
    later = Context(ANA, {}, datetime(2026, 12, 1, 15, 30, tzinfo=UTC), runs=(cancelled,))
    ended, events = resume(
        reminders, JOURNEYS["appointment_reminders"], later, Timeout(reminders.wait_seq)
    )
    assert [e.type for e in events] == ["journey_ended"]
    assert ended.status is RunStatus.COMPLETED


def _open(journey: str, key: str | None, run_id: str) -> Run:
    return Run(run_id, journey, "ask", RunStatus.WAITING, NOW, key=key)


def test_entry_rules_apply_per_key() -> None:
    journey = JOURNEYS["appointment_confirmation"]
    runs = [_open(journey.id, "A", "a"), _open(journey.id, None, "n")]
    assert entry_decision(journey, runs, key="A") == ("start", [runs[0]])
    assert entry_decision(journey, runs, key="B") == ("start", [])
    assert entry_decision(journey, runs) == ("start", [runs[1]])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            'steps:\n  - {id: a, send: "{{ run.staus }}"}\n',
            "uses run.staus, which no step sets and `fields` does not declare",
        ),
        (
            "steps:\n  - {id: a, set: {run.bad-name: x}}\n",
            "'run.bad-name' in `set` must be run and a field name",
        ),
    ],
)
def test_run_values_are_checked_at_load(text: str, says: str) -> None:
    header = "id: x\nkind: transactional\ntrigger: {event: e}\nfields: [contact.first_name]\n"
    errors = _errors(header + text)
    assert any(says in error for error in errors), errors
    assert all(error.startswith("<test>:") for error in errors)


def test_run_values_set_or_declared_need_nothing_else() -> None:
    assert _parse(SAVES).id == "saves"
    assert _parse(READS).id == "reads"
