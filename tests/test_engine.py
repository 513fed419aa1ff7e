"""Tests for the pure journey engine: golden transcripts, templates and run invariants."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.engine import (
    MAX_STEPS,
    Context,
    Reply,
    Run,
    RunStatus,
    Timeout,
    expecting,
    interrupt,
    resume,
    start,
)
from flows.events import as_dict
from flows.loader import load_journeys
from flows.model import Journey, JourneyKind, Step, Wait
from flows.template import compile_template, render

TRANSCRIPTS = Path(__file__).parent / "transcripts" / "engine"
JOURNEYS = load_journeys()
NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
ANA = {
    "phone": "+14155550100",
    "fields": {"first_name": "Ana"},
    "language": "en",
    "timezone": "America/Los_Angeles",
    "stage": None,
}
APPOINTMENT = {"appointment_at": "2026-12-01T17:30:00Z", "provider": "Dr. Lee"}


def _conversations() -> list[Any]:
    cases = []
    for path in sorted(TRANSCRIPTS.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        for conversation in spec["conversations"]:
            cases.append(
                pytest.param(spec, conversation, id=f"{path.stem}: {conversation['name']}")
            )
    return cases


def _input(turn: dict[str, Any]) -> Reply | Timeout:
    if "timeout" in turn:
        return Timeout(turn["timeout"])
    reply = turn["reply"]
    return Reply(reply) if isinstance(reply, str) else Reply(reply["intent"], reply.get("text", ""))


@pytest.mark.parametrize(("spec", "conversation"), _conversations())
def test_transcript(spec: dict[str, Any], conversation: dict[str, Any]) -> None:
    def setting(name: str) -> Any:
        return conversation.get(name, spec.get(name))

    journey = JOURNEYS[spec["journey"]]
    contact, business = setting("contact"), setting("business")
    ctx = Context(contact, business, datetime.fromisoformat(spec["started_at"]))

    run, events = start(journey, ctx, setting("data"), spec["run_id"])
    assert [as_dict(e) for e in events] == setting("start")

    for number, turn in enumerate(conversation["turns"], 1):
        before = copy.deepcopy(run.to_dict())
        ctx = Context(contact, business, datetime.fromisoformat(turn["at"]))
        new, events = resume(run, journey, ctx, _input(turn))
        assert [as_dict(e) for e in events] == turn["events"], f"turn {number}"
        assert run.to_dict() == before, f"turn {number} changed the run it was given"
        run = new

    state = run.to_dict()
    assert {key: state[key] for key in conversation["run"]} == conversation["run"]
    assert set(conversation["run"]) == {"step", "status", "wait_seq", "timeout_at", "ended_at"}
    assert state["data"] == setting("data")


def test_transcripts_cover_both_builtin_journeys() -> None:
    covered = {yaml.safe_load(p.read_text())["journey"] for p in TRANSCRIPTS.glob("*.yaml")}
    assert covered == {"appointment_confirmation", "abandoned_cart"}


# -- templates -------------------------------------------------------------------------------


def _texts(events: list[Any]) -> list[str]:
    return [e.text for e in events if e.type == "message_created"]


def test_missing_and_null_values_never_render_none() -> None:
    journey = JOURNEYS["appointment_confirmation"]
    contact = {"phone": "+14155550100", "fields": {"first_name": None}, "timezone": None}
    ctx = Context(contact, {"name": None}, NOW)
    run, events = start(journey, ctx, {"provider": None, "appointment_at": None}, "r")
    texts = _texts(events)
    for intent in ("affirm", "deny", "reschedule", "greet"):
        texts += _texts(resume(run, journey, ctx, Reply(intent))[1])
    texts += _texts(resume(run, journey, ctx, Timeout(1))[1])
    assert len(texts) == 6
    for text in texts:
        assert "None" not in text
        assert "{{" not in text and "{%" not in text
    assert texts[0] == "Hi there. You're booked with us. " + (
        "Reply YES to confirm, NO to cancel or R to reschedule."
    )


def test_undefined_names_render_empty_even_when_chained() -> None:
    variables = {"contact": {"first_name": None}, "event": {}, "business": {}}
    text = (
        "[{{ contact.first_name }}|{{ contact.last_name }}|{{ event.a.b.c }}|{{ business.name }}]"
    )
    assert render(text, variables) == "[|||]"


def test_mapping_keys_win_over_dict_methods() -> None:
    assert render("{{ event.items }}", {"event": {"items": "2 shirts"}}) == "2 shirts"


def test_templates_cannot_mutate_the_data_they_see() -> None:
    data = {"tags": ["a"]}
    with pytest.raises(Exception, match=r"unsafe"):
        render("{{ event.tags.append('b') }}", {"event": data})
    assert data == {"tags": ["a"]}


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2026-11-24T23:30:00Z", "America/Los_Angeles", "Tue, Nov 24 at 3:30 PM"),
        ("2026-11-24T23:30:00+00:00", "America/New_York", "Tue, Nov 24 at 6:30 PM"),
        # Naive times are UTC.
        ("2026-11-24T23:30:00", "Asia/Tokyo", "Wed, Nov 25 at 8:30 AM"),
        ("2026-07-04T12:05:00Z", "UTC", "Sat, Jul 4 at 12:05 PM"),
        ("2026-07-04T00:00:00Z", "UTC", "Sat, Jul 4 at 12:00 AM"),
        (datetime(2026, 7, 4, 16, 0, tzinfo=UTC), "America/Denver", "Sat, Jul 4 at 10:00 AM"),
        # A date alone has no time to convert.
        ("2026-07-04", "Asia/Tokyo", "Sat, Jul 4"),
        ("next Tuesday", "UTC", "next Tuesday"),
        # An unknown zone falls back to UTC rather than failing the message.
        ("2026-11-24T23:30:00Z", "Mars/Olympus", "Tue, Nov 24 at 11:30 PM"),
    ],
)
def test_local_time(value: Any, zone: str, expected: str) -> None:
    variables = {"contact": {"timezone": zone}, "event": {"at": value}}
    assert render("{{ event.at | local_time }}", variables) == expected


def test_local_date_uses_the_contacts_day() -> None:
    variables = {"contact": {"timezone": "Pacific/Auckland"}, "event": {"at": "2026-11-24T13:00Z"}}
    assert render("{{ event.at | local_date }}", variables) == "Wed, Nov 25"
    assert render("{{ event.missing | local_date }}", variables) == ""


def test_local_time_falls_back_to_the_business_time_zone() -> None:
    variables = {
        "contact": {"timezone": None},
        "business": {"timezone": "Europe/London"},
        "event": {"at": "2026-06-01T12:00:00Z"},
    }
    assert render("{{ event.at | local_time }}", variables) == "Mon, Jun 1 at 1:00 PM"


def test_templates_are_compiled_once_per_text() -> None:
    text = "Hello {{ contact.first_name }} from the cache test"
    assert compile_template(text) is compile_template(text)


# -- engine semantics ----------------------------------------------------------------------


def _journey(*steps: Step, kind: JourneyKind = JourneyKind.TRANSACTIONAL) -> Journey:
    return Journey("test", "Test", kind, None, steps, "<test>")


def test_a_step_emits_its_events_in_order() -> None:
    step = Step(
        "all",
        1,
        stage="loyalty",
        send="Stage {{ contact.stage }}, tier {{ contact.tier }}",
        set={"tier": "gold"},
        goal="upgraded",
        handoff="vip",
    )
    run, events = start(_journey(step), Context(ANA, {}, NOW), {}, "r")
    assert [as_dict(e) for e in events] == [
        {"type": "stage_changed", "stage": "loyalty"},
        {"type": "field_set", "name": "tier", "value": "gold"},
        {
            "type": "message_created",
            "run_id": "r",
            "journey": "test",
            "step": "all",
            "text": "Stage loyalty, tier gold",
            "kind": "transactional",
        },
        {"type": "goal_reached", "run_id": "r", "journey": "test", "goal": "upgraded"},
        {
            "type": "handoff_requested",
            "run_id": "r",
            "journey": "test",
            "step": "all",
            "reason": "vip",
        },
        {
            "type": "journey_ended",
            "run_id": "r",
            "journey": "test",
            "status": "completed",
            "reason": None,
        },
    ]
    assert run.status is RunStatus.COMPLETED and run.ended_at == NOW


def test_fields_set_earlier_in_a_call_reach_later_templates() -> None:
    journey = _journey(
        Step("a", 1, set={"plan": "gold"}, next="b"),
        Step("b", 2, send="Hi {{ contact.first_name }}, you're on {{ contact.plan }}."),
    )
    _, events = start(journey, Context(ANA, {}, NOW), {}, "r")
    assert _texts(events) == ["Hi Ana, you're on gold."]
    assert ANA["fields"] == {"first_name": "Ana"}


def test_steps_do_not_fall_through_to_the_next_in_the_list() -> None:
    journey = _journey(Step("a", 1, send="one"), Step("b", 2, send="two"))
    run, events = start(journey, Context(ANA, {}, NOW), {}, "r")
    assert _texts(events) == ["one"]
    assert (run.step, run.status) == ("a", RunStatus.COMPLETED)


def test_end_stops_a_run_at_that_step() -> None:
    journey = _journey(Step("a", 1, send="bye", end=True, next="b"), Step("b", 2, send="never"))
    run, events = start(journey, Context(ANA, {}, NOW), {}, "r")
    assert _texts(events) == ["bye"]
    assert run.status is RunStatus.COMPLETED


def test_a_loop_through_next_ends_the_run_instead_of_spinning() -> None:
    journey = _journey(Step("a", 1, send="tick", next="b"), Step("b", 2, next="a"))
    run, events = start(journey, Context(ANA, {}, NOW), {}, "r")
    assert len(_texts(events)) == MAX_STEPS // 2
    assert as_dict(events[-1])["status"] == "expired"
    assert "loop" in as_dict(events[-1])["reason"]
    assert run.status is RunStatus.EXPIRED and run.ended_at == NOW


def test_wait_without_timeout_never_schedules_one() -> None:
    journey = _journey(
        Step("ask", 1, send="?", wait=Wait(None, {"affirm": "done"}, None, 2)),
        Step("done", 3),
    )
    run, events = start(journey, Context(ANA, {}, NOW), {}, "r")
    assert (run.status, run.wait_seq, run.timeout_at) == (RunStatus.WAITING, 1, None)
    assert as_dict(events[-1])["timeout_at"] is None
    # A timeout for a wait that has no timeout branch ends the run as expired.
    run, events = resume(run, journey, Context(ANA, {}, NOW), Timeout(1))
    assert run.status is RunStatus.EXPIRED


def test_other_branch_catches_unlisted_intents_but_not_listed_ones() -> None:
    wait = Wait(timedelta(hours=1), {"affirm": "yes", "other": "what"}, "retry", 2)
    journey = _journey(
        Step("ask", 1, wait=wait), Step("yes", 3, send="yes"), Step("what", 4, send="what")
    )
    run, _ = start(journey, Context(ANA, {}, NOW), {}, "r")
    assert _texts(resume(run, journey, Context(ANA, {}, NOW), Reply("affirm"))[1]) == ["yes"]
    assert _texts(resume(run, journey, Context(ANA, {}, NOW), Reply("greet"))[1]) == ["what"]


def test_a_reply_cannot_pose_as_a_timeout() -> None:
    journey = JOURNEYS["appointment_confirmation"]
    ctx = Context(ANA, {}, NOW)
    run, _ = start(journey, ctx, APPOINTMENT, "r")
    new, events = resume(run, journey, ctx, Reply("timeout"))
    assert [e.step for e in events] == ["ask"]  # the retry text, not the reminder
    assert new.wait_seq == 1


def test_retry_keeps_the_same_wait() -> None:
    journey = JOURNEYS["appointment_confirmation"]
    run, _ = start(journey, Context(ANA, {}, NOW), APPOINTMENT, "r")
    later = Context(ANA, {}, NOW + timedelta(hours=3))
    new, events = resume(run, journey, later, Reply("thanks"))
    assert [e.type for e in events] == ["message_created"]
    assert (new.status, new.wait_seq, new.timeout_at) == (run.status, 1, run.timeout_at)


@pytest.mark.parametrize(
    "given", [Reply("affirm", "yes"), Reply("greet"), Timeout(1), Timeout(7)], ids=repr
)
def test_resume_returns_a_new_run_and_leaves_its_input_alone(given: Reply | Timeout) -> None:
    journey = JOURNEYS["appointment_confirmation"]
    run, _ = start(journey, Context(ANA, {}, NOW), dict(APPOINTMENT), "r")
    before = copy.deepcopy(run)
    new, _ = resume(run, journey, Context(ANA, {}, NOW + timedelta(days=1)), given)
    assert run == before
    assert new is not run and new.data is not run.data


def test_unhandled_reply_returns_an_equal_run_and_no_events() -> None:
    journey = JOURNEYS["abandoned_cart"]
    run, _ = start(journey, Context(ANA, {}, NOW), {}, "r")
    new, events = resume(run, journey, Context(ANA, {}, NOW), Reply("rating"))
    assert events == [] and new == run


def test_resume_rejects_a_run_of_another_journey() -> None:
    run, _ = start(JOURNEYS["abandoned_cart"], Context(ANA, {}, NOW), {}, "r")
    with pytest.raises(ValueError, match="abandoned_cart"):
        resume(run, JOURNEYS["appointment_confirmation"], Context(ANA, {}, NOW), Reply("affirm"))


def test_a_run_whose_wait_was_edited_away_ends_expired() -> None:
    run, _ = start(JOURNEYS["appointment_confirmation"], Context(ANA, {}, NOW), APPOINTMENT, "r")
    edited = Journey(
        "appointment_confirmation", "Edited", JourneyKind.TRANSACTIONAL, None, (Step("x", 1),), "-"
    )
    new, events = resume(run, edited, Context(ANA, {}, NOW), Reply("affirm"))
    assert new.status is RunStatus.EXPIRED
    assert as_dict(events[0])["reason"] == "step 'ask' is no longer in the journey"
    edited = Journey(
        "appointment_confirmation",
        "Edited",
        JourneyKind.TRANSACTIONAL,
        None,
        (Step("ask", 1),),
        "-",
    )
    new, events = resume(run, edited, Context(ANA, {}, NOW), Timeout(1))
    assert new.status is RunStatus.EXPIRED
    assert as_dict(events[0])["reason"] == "step 'ask' no longer waits for a reply"


def test_interrupt_closes_an_open_run_once() -> None:
    run, _ = start(JOURNEYS["abandoned_cart"], Context(ANA, {}, NOW), {}, "r")
    later = Context(ANA, {}, NOW + timedelta(minutes=5))
    closed, events = interrupt(run, later)
    assert run.status is RunStatus.WAITING
    assert (closed.status, closed.ended_at, closed.timeout_at) == (
        RunStatus.INTERRUPTED,
        later.now,
        None,
    )
    assert [as_dict(e) for e in events] == [
        {
            "type": "journey_ended",
            "run_id": "r",
            "journey": "abandoned_cart",
            "status": "interrupted",
            "reason": None,
        }
    ]
    again, events = interrupt(closed, later, RunStatus.EXPIRED)
    assert events == [] and again.status is RunStatus.INTERRUPTED
    with pytest.raises(ValueError):
        interrupt(run, later, RunStatus.WAITING)


def test_expecting_lists_the_intents_of_the_current_wait() -> None:
    journey = JOURNEYS["appointment_confirmation"]
    run, _ = start(journey, Context(ANA, {}, NOW), APPOINTMENT, "r")
    assert expecting(run, journey) == {"affirm", "deny", "reschedule", "human"}
    done, _ = resume(run, journey, Context(ANA, {}, NOW), Reply("affirm"))
    assert expecting(done, journey) == frozenset()


def test_run_round_trips_through_json() -> None:
    run, _ = start(JOURNEYS["appointment_confirmation"], Context(ANA, {}, NOW), APPOINTMENT, "r")
    restored = Run.from_dict(json.loads(json.dumps(run.to_dict())))
    assert restored == run
    assert restored.timeout_at == NOW + timedelta(hours=24)
    assert restored.is_open and not interrupt(restored, Context(ANA, {}, NOW))[0].is_open
