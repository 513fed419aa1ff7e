"""Tests for the pure journey engine: golden transcripts, templates and run invariants."""

from __future__ import annotations

import copy
import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from flows.definition import load_journeys, read_journey
from flows.engine import (
    MAX_STEPS,
    ActionResult,
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
from flows.events import MessageCreated, as_dict
from flows.model import Delay, Journey, JourneyKind, Segment, Step, Wait
from flows.rules import entry_decision, exit_matches, keyword_matches, matches_segment
from flows.template import compile_template, render
from flows.timing import date_trigger_time, delay_due, next_schedule_time, zone_named

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts" / "engine"
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


RUN_KEYS = {"step", "status", "wait_seq", "timeout_at", "ended_at"}


def _input(turn: dict[str, Any]) -> Reply | Timeout | ActionResult:
    if "timeout" in turn:
        return Timeout(turn["timeout"])
    if "action" in turn:
        action = turn["action"]
        return ActionResult(action.get("fields", {}), tuple(action.get("messages", ())))
    reply = turn["reply"]
    if isinstance(reply, str):
        return Reply(reply)
    return Reply(reply["intent"], reply.get("text", ""), reply.get("entities", {}))


@pytest.mark.parametrize(("spec", "conversation"), _conversations())
def test_transcript(spec: dict[str, Any], conversation: dict[str, Any]) -> None:
    def setting(name: str) -> Any:
        return conversation.get(name, spec.get(name))

    journey = JOURNEYS[spec["journey"]]
    contact, business = setting("contact"), setting("business")
    # the contact's other runs: those of the same event_id share their results
    others = tuple(Run.from_dict(other) for other in setting("runs") or ())
    ctx = Context(contact, business, datetime.fromisoformat(setting("started_at")), others)

    run, events = start(journey, ctx, setting("data"), setting("run_id"), setting("event_id"))
    assert [as_dict(e) for e in events] == setting("start")

    for number, turn in enumerate(conversation["turns"], 1):
        before = copy.deepcopy(run.to_dict())
        ctx = Context(contact, business, datetime.fromisoformat(turn["at"]), others)
        new, events = resume(run, journey, ctx, _input(turn))
        assert [as_dict(e) for e in events] == turn["events"], f"turn {number}"
        assert run.to_dict() == before, f"turn {number} changed the run it was given"
        run = new

    state = run.to_dict()
    assert {key: state[key] for key in conversation["run"]} == conversation["run"]
    assert set(conversation["run"]) == RUN_KEYS
    assert state["data"] == setting("data")


def test_transcripts_cover_every_builtin_journey() -> None:
    covered = {yaml.safe_load(p.read_text())["journey"] for p in TRANSCRIPTS.glob("*.yaml")}
    assert covered == set(JOURNEYS)


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


# Shown in Kiritimati (UTC+14) or Pago Pago (UTC-11), these fall off the calendar.
CALENDAR_EDGES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T10:00:00+14:00",
    "0001-01-02",
    "9999-12-31T23:59:59Z",
    "9999-12-31",
]


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Hong_Kong"])
@pytest.mark.parametrize("value", CALENDAR_EDGES)
def test_times_at_the_ends_of_the_calendar_render_as_written(value: str, zone: str) -> None:
    variables = {"contact": {"timezone": zone}, "event": {"at": value}}
    assert render("{{ event.at | local_time }}", variables) == value
    assert render("{{ event.at | local_date }}", variables) == value
    assert render("{{ event.at | hours_until is none }}", variables) == "True"


@pytest.mark.parametrize(
    "name", ["America", "Etc", "posix", "right", "Europe/", "A" * 300, "America/" + "x" * 500,
             "../etc/passwd", "/etc/localtime", "Europe/Paris\x00", "zone1970.tab", "", None],
)  # fmt: skip
def test_only_names_in_the_time_zone_database_are_zones(name: Any) -> None:
    assert zone_named(name) is None


def test_zone_names_are_the_databases() -> None:
    assert zone_named("Pacific/Kiritimati") == ZoneInfo("Pacific/Kiritimati")
    assert zone_named("UTC") == ZoneInfo("UTC")


def test_templates_are_compiled_once_per_text() -> None:
    text = "Hello {{ contact.first_name }} from the cache test"
    assert compile_template(text) is compile_template(text)


# -- engine semantics ----------------------------------------------------------------------


def _journey(*steps: Step, kind: JourneyKind = JourneyKind.TRANSACTIONAL) -> Journey:
    return Journey("test", "Test", kind, (), steps, "<test>")


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
            "quiet_hours": "",
            "when_capped": "defer",
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
    (event,) = events
    assert isinstance(event, MessageCreated) and event.step == "ask"  # the retry, not the reminder
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
        "appointment_confirmation", "Edited", JourneyKind.TRANSACTIONAL, (), (Step("x", 1),), "-"
    )
    new, events = resume(run, edited, Context(ANA, {}, NOW), Reply("affirm"))
    assert new.status is RunStatus.EXPIRED
    assert as_dict(events[0])["reason"] == "step 'ask' is no longer in the journey"
    edited = Journey(
        "appointment_confirmation",
        "Edited",
        JourneyKind.TRANSACTIONAL,
        (),
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


# -- the rest of the journey language, from YAML ---------------------------------------------


def _parse(text: str) -> Journey:
    reading = read_journey("<test>", textwrap.dedent(text))
    assert reading.journey is not None, "\n".join(str(e) for e in reading.errors)
    return reading.journey


def _types(events: list[Any]) -> list[str]:
    return [e.type for e in events]


ACTION = """\
id: order_status
kind: transactional
steps:
  - id: look_up
    send: "One moment..."
    action: action_order_status
    next: ask_more
  - id: ask_more
    send: "Anything else, {{ contact.first_name }}? Status: {{ contact.order_status }}."
"""


def test_an_action_pauses_the_run_until_its_result_comes_back() -> None:
    journey = _parse(ACTION)
    run, events = start(journey, Context(ANA, {}, NOW), {"order_id": "A1"}, "r")
    assert [as_dict(e) for e in events][1:] == [
        {
            "type": "action_requested",
            "run_id": "r",
            "journey": "order_status",
            "step": "look_up",
            "action": "action_order_status",
        }
    ]
    assert (run.status, run.step, run.is_open) == (RunStatus.AWAITING_ACTION, "look_up", True)
    # Replies and timeouts are not what the run waits for.
    assert resume(run, journey, Context(ANA, {}, NOW), Reply("affirm"))[1] == []
    assert resume(run, journey, Context(ANA, {}, NOW), Timeout(0))[1] == []
    result = ActionResult({"order_status": "shipped"}, ("Order A1 is on its way.",))
    done, events = resume(run, journey, Context(ANA, {}, NOW), result)
    assert [as_dict(e) for e in events][:2] == [
        {"type": "field_set", "name": "order_status", "value": "shipped"},
        {
            "type": "message_created",
            "run_id": "r",
            "journey": "order_status",
            "step": "look_up",
            "text": "Order A1 is on its way.",
            "kind": "transactional",
            "quiet_hours": "",
            "when_capped": "defer",
        },
    ]
    assert _texts(events)[1] == "Anything else, Ana? Status: shipped."
    assert done.status is RunStatus.COMPLETED
    # A second result for the same action changes nothing.
    assert resume(done, journey, Context(ANA, {}, NOW), result)[1] == []


def test_start_asks_for_another_journey_with_the_run_data_and_its_own() -> None:
    journey = _parse(
        """\
        id: booked
        kind: transactional
        steps:
          - id: hand_on
            start: appointment_confirmation
            data: {provider: "{{ event.doctor }}", source: booked}
        """
    )
    _, events = start(journey, Context(ANA, {}, NOW), {"doctor": "Dr. Lee", "at": "x"}, "r")
    assert as_dict(events[0]) == {
        "type": "journey_start_requested",
        "run_id": "r",
        "journey": "booked",
        "target": "appointment_confirmation",
        "data": {"doctor": "Dr. Lee", "at": "x", "provider": "Dr. Lee", "source": "booked"},
    }


BRANCHY = """\
id: branchy
kind: transactional
steps:
  - id: pick
    branch:
      - if: contact.tier == "gold"
        goto: gold
      - if: "'vip' in contact.tags"
        goto: vip
      - if: event.total > 100
        goto: big
      - else: plain
  - id: gold
    send: gold
  - id: vip
    send: vip
  - id: big
    send: big
  - id: plain
    send: plain
"""


@pytest.mark.parametrize(
    ("fields", "tags", "data", "expected"),
    [
        ({"tier": "gold"}, ["vip"], {}, "gold"),
        ({}, ["vip"], {}, "vip"),
        ({}, [], {"total": 150}, "big"),
        ({}, [], {"total": 50}, "plain"),
        # Comparing text with a number fails: a failing condition is false.
        ({}, [], {"total": "lots"}, "plain"),
        ({}, [], {}, "plain"),
    ],
)
def test_branch_takes_the_first_rule_that_holds(
    fields: dict, tags: list, data: dict, expected: str
) -> None:
    contact = {**ANA, "fields": fields, "tags": tags}
    _, events = start(_parse(BRANCHY), Context(contact, {}, NOW), data, "r")
    assert _texts(events) == [expected]


def test_a_contact_without_tags_reads_as_no_tags() -> None:
    contact = {key: value for key, value in ANA.items() if key != "tags"}
    _, events = start(_parse(BRANCHY), Context(contact, {}, NOW), {}, "r")
    assert _texts(events) == ["plain"]


SPLIT = """\
id: ab
steps:
  - id: pick
    split: {a: 3, b: 1}
  - id: a
    send: A
  - id: b
    send: B
"""


def test_split_is_the_same_for_a_run_and_follows_the_weights() -> None:
    journey = _parse(SPLIT)
    ctx = Context(ANA, {}, NOW)
    first = [_texts(start(journey, ctx, {}, f"run-{n}")[1]) for n in range(400)]
    again = [_texts(start(journey, ctx, {}, f"run-{n}")[1]) for n in range(400)]
    assert first == again
    share = sum(texts == ["A"] for texts in first) / len(first)
    assert 0.68 < share < 0.82
    _, events = start(journey, ctx, {}, "run-1")
    assert as_dict(events[0]) == {
        "type": "split_chosen",
        "run_id": "run-1",
        "journey": "ab",
        "step": "pick",
        "variant": _texts(events)[0].lower(),
    }


def test_tags_change_and_templates_see_them() -> None:
    journey = _parse(
        """\
        id: tags
        kind: transactional
        steps:
          - id: t
            tag: [vip, gold]
            untag: lead
            send: "{{ contact.tags | join(',') }}"
        """
    )
    contact = {**ANA, "tags": ["lead", "news"]}
    _, events = start(journey, Context(contact, {}, NOW), {}, "r")
    assert as_dict(events[0]) == {
        "type": "tags_changed",
        "added": ["vip", "gold"],
        "removed": ["lead"],
    }
    assert _texts(events) == ["news,vip,gold"]
    assert contact["tags"] == ["lead", "news"]


DELAYS = """\
id: delays
kind: transactional
steps:
  - id: a
    delay: {for: 2h}
    next: b
  - id: b
    send: two hours on
    next: c
  - id: c
    delay: {until: "09:00"}
    next: d
  - id: d
    send: nine o'clock
    next: e
  - id: e
    delay: {before: event.due_at, by: 1d}
    next: f
  - id: f
    send: a day before
    next: g
  - id: g
    delay: {after: contact.last_order_at, by: 30d}
    next: h
  - id: h
    send: a month after the last order
"""


def test_delays_hold_the_run_until_their_time() -> None:
    journey = _parse(DELAYS)
    # 18:00 UTC is 10 AM in Los Angeles: the next 09:00 there is tomorrow, 17:00 UTC.
    contact = {**ANA, "fields": {"last_order_at": "2026-12-01"}}
    data = {"due_at": "2026-12-10T12:00:00Z"}
    run, events = start(journey, Context(contact, {}, NOW), data, "r")
    wakes = []
    while run.status is RunStatus.DELAYED:
        wait = as_dict(events[-1])
        assert (wait["type"], wait["waiting_for"], wait["seq"]) == (
            "wait_started",
            "time",
            run.wait_seq,
        )
        assert run.timeout_at is not None
        wakes.append(run.timeout_at)
        run, events = resume(
            run, journey, Context(contact, {}, run.timeout_at), Timeout(run.wait_seq)
        )
    assert wakes == [
        NOW + timedelta(hours=2),
        datetime(2026, 11, 29, 17, 0, tzinfo=UTC),
        datetime(2026, 12, 9, 12, 0, tzinfo=UTC),
        # A plain date starts at midnight in the contact's time zone (PST, UTC-8).
        datetime(2026, 12, 31, 8, 0, tzinfo=UTC),
    ]
    assert run.status is RunStatus.COMPLETED


def test_a_delay_already_past_or_without_its_date_carries_on_at_once() -> None:
    journey = _parse(DELAYS.replace("for: 2h", 'until: "10:00"'))
    contact = {**ANA, "fields": {}}
    run, events = start(journey, Context(contact, {}, NOW), {"due_at": "2026-11-01"}, "r")
    # 10:00 in Los Angeles is now: the until-delay and the rest go straight through.
    assert _texts(events) == ["two hours on"]
    assert run.status is RunStatus.DELAYED and run.step == "c" and run.timeout_at is not None
    run, events = resume(run, journey, Context(contact, {}, run.timeout_at), Timeout(1))
    assert _texts(events) == ["nine o'clock", "a day before", "a month after the last order"]


def test_replies_do_not_reach_a_delayed_run() -> None:
    journey = _parse(DELAYS)
    run, _ = start(journey, Context(ANA, {}, NOW), {}, "r")
    assert expecting(run, journey) == frozenset()
    assert resume(run, journey, Context(ANA, {}, NOW), Reply("affirm")) == (run, [])
    # A timeout from an older wait is stale.
    assert resume(run, journey, Context(ANA, {}, NOW), Timeout(0))[1] == []


WAITS = """\
id: waits
kind: transactional
steps:
  - id: ask
    send: "Rate us 1-5, or reply MENU"
    wait:
      timeout: 1d
      rating: {">=4": promoter, "<=2": detractor, "3": passive}
      keywords: {MENU: menu}
      on: {rating: odd, human: person}
      retry: "1 to 5 please"
      reminders:
        - {after: 2h, send: "Still there?"}
        - {after: 20h, send: {en: "Last chance", es: "Ultima oportunidad"}}
  - {id: promoter, send: promoter}
  - {id: detractor, send: detractor}
  - {id: passive, send: passive}
  - {id: menu, send: menu}
  - {id: odd, send: odd}
  - {id: person, send: person}
"""


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply("rating", "5", {"rating": 5}), ["promoter"]),
        (Reply("rating", "4", {"rating": "4"}), ["promoter"]),
        (Reply("rating", "2", {"rating": {"value": 2}}), ["detractor"]),
        (Reply("rating", "3", {"rating": 3}), ["passive"]),
        # Without a value the intent branch takes it.
        (Reply("rating", "great"), ["odd"]),
        (Reply("nlu_fallback", " menu! "), ["menu"]),
        (Reply("human", "menu please"), ["person"]),
        (Reply("greet", "hi"), ["1 to 5 please"]),
    ],
    ids=repr,
)
def test_a_reply_takes_keyword_then_rating_then_intent(reply: Reply, expected: list[str]) -> None:
    journey = _parse(WAITS)
    run, _ = start(journey, Context(ANA, {}, NOW), {}, "r")
    assert expecting(run, journey) == {"rating", "human"}
    assert _texts(resume(run, journey, Context(ANA, {}, NOW), reply)[1]) == expected


def test_reminders_go_out_while_the_wait_goes_on() -> None:
    journey = _parse(WAITS)
    spanish = {**ANA, "language": "es"}
    run, events = start(journey, Context(spanish, {}, NOW), {}, "r")
    assert run.timeout_at == NOW + timedelta(hours=2)
    later = Context(spanish, {}, NOW + timedelta(hours=2, minutes=5))
    run, events = resume(run, journey, later, Timeout(1))
    assert _texts(events) == ["Still there?"]
    assert (run.status, run.wait_seq, run.reminders_sent) == (RunStatus.WAITING, 2, 1)
    # Later timers count from when the wait began, not from a late delivery.
    assert run.timeout_at == NOW + timedelta(hours=20)
    run, events = resume(run, journey, Context(spanish, {}, run.timeout_at), Timeout(2))
    assert _texts(events) == ["Ultima oportunidad"]
    assert run.timeout_at == NOW + timedelta(days=1)
    run, events = resume(run, journey, Context(spanish, {}, run.timeout_at), Timeout(3))
    assert (run.status, as_dict(events[-1])["reason"]) == (
        RunStatus.EXPIRED,
        "no reply before the timeout",
    )


def test_a_wait_that_never_times_out_schedules_nothing() -> None:
    journey = _parse(
        """\
        id: forever
        kind: transactional
        steps:
          - id: ask
            wait: {timeout: never, on: {affirm: done}}
          - id: done
        """
    )
    run, events = start(journey, Context(ANA, {}, NOW), {}, "r")
    assert (run.status, run.timeout_at, as_dict(events[-1])["timeout_at"]) == (
        RunStatus.WAITING,
        None,
        None,
    )


def test_defaults_fill_missing_fields_and_the_language_picks_the_text() -> None:
    journey = _parse(
        """\
        id: hello
        kind: transactional
        language: fr
        defaults: {contact.first_name: there, event.item: your items, business.name: us}
        steps:
          - id: hi
            send:
              en: "Hi {{ contact.first_name }}, {{ event.item }} from {{ business.name }}"
              fr: "Salut {{ contact.first_name }}"
              pt-BR: "Oi {{ contact.first_name }}"
        """
    )
    cases: list[tuple[dict[str, Any], str]] = [
        ({"fields": {}, "language": "en"}, "Hi there, your items from us"),
        ({"fields": {"first_name": ""}, "language": "en-GB"}, "Hi there, your items from us"),
        ({"fields": {"first_name": "Ana"}, "language": "pt"}, "Oi Ana"),
        ({"fields": {"first_name": "Ana"}, "language": None}, "Salut Ana"),
        ({"fields": {"first_name": "Ana"}, "language": "de"}, "Salut Ana"),
    ]
    for contact, expected in cases:
        _, events = start(journey, Context(contact, {}, NOW), {}, "r")
        assert _texts(events) == [expected], contact


@pytest.mark.parametrize(
    ("template", "event", "business", "expected"),
    [
        ("{{ event.total | money }}", {"total": 42.5}, {}, "$42.50"),
        ("{{ event.total | money('EUR') }}", {"total": "42.5"}, {}, "€42.50"),
        ("{{ event.total | money }}", {"total": 1234567}, {"currency": "GBP"}, "£1,234,567.00"),
        ("{{ event.total | money('jpy') }}", {"total": 1999.5}, {}, "¥2,000"),
        ("{{ event.total | money('SEK') }}", {"total": -3}, {}, "-SEK 3.00"),
        ("{{ event.total | money(event.currency) }}", {"total": 5}, {}, "$5.00"),
        ("[{{ event.total | money }}]", {}, {}, "[]"),
        ("{{ event.total | money }}", {"total": "call us"}, {}, "call us"),
    ],
)
def test_money(template: str, event: dict, business: dict, expected: str) -> None:
    assert render(template, {"event": event, "business": business}) == expected


# -- rules the bot applies around the engine -------------------------------------------------


def _run(run_id: str, journey: str, status: RunStatus = RunStatus.WAITING) -> Run:
    return Run(run_id, journey, "x", status, NOW)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("skip", ("skip", [])),
        ("restart", ("start", ["mine"])),
        ("interrupt", ("skip", [])),
    ],
)
def test_entry_decision_when_already_in_the_journey(entry: str, expected: tuple) -> None:
    journey = _parse(f"id: j\nentry: {entry}\nsteps:\n  - id: a\n")
    runs = [_run("mine", "j"), _run("other", "k"), _run("old", "j", RunStatus.COMPLETED)]
    decision, ending = entry_decision(journey, runs)
    assert (decision, [run.id for run in ending]) == expected


@pytest.mark.parametrize(
    ("entry", "ending"), [("skip", []), ("restart", []), ("interrupt", ["other", "delayed"])]
)
def test_entry_decision_when_not_in_the_journey(entry: str, ending: list[str]) -> None:
    journey = _parse(f"id: j\nentry: {entry}\nsteps:\n  - id: a\n")
    runs = [
        _run("other", "k"),
        _run("delayed", "m", RunStatus.DELAYED),
        _run("x", "j", RunStatus.EXPIRED),
    ]
    decision, runs_to_end = entry_decision(journey, runs)
    assert (decision, [run.id for run in runs_to_end]) == ("start", ending)


def test_exit_events_and_keywords() -> None:
    cart = JOURNEYS["abandoned_cart"]
    assert exit_matches(cart, "order_placed") and not exit_matches(cart, "cart_abandoned")
    welcome = JOURNEYS["welcome"]
    assert keyword_matches(welcome, " join! ") and not keyword_matches(welcome, "join us")
    assert welcome.trigger_event == "signup" and welcome.trigger_events == ("signup",)
    run, _ = start(cart, Context(ANA, {}, NOW), {}, "r")
    exited, events = interrupt(run, Context(ANA, {}, NOW), RunStatus.EXITED, "order_placed")
    assert (exited.status, exited.is_open, as_dict(events[0])["status"]) == (
        RunStatus.EXITED,
        False,
        "exited",
    )


@pytest.mark.parametrize(
    ("contact", "expected"),
    [
        ({"stage": "consideration", "tags": ["vip", "x"], "fields": {"tier": "gold"},
          "last_active_at": "2026-09-01T00:00:00Z"}, True),
        ({"stage": "consideration", "tags": ["vip"], "fields": {"tier": "gold"},
          "last_active_at": "2026-11-20T00:00:00Z"}, False),
        ({"stage": "consideration", "tags": [], "fields": {"tier": "gold"},
          "last_active_at": "2026-09-01T00:00:00Z"}, False),
        ({"stage": "purchase", "tags": ["vip"], "fields": {"tier": "gold"},
          "created_at": "2026-09-01T00:00:00Z"}, False),
        ({"stage": "consideration", "tags": ["vip"], "fields": {"tier": "silver"},
          "created_at": "2026-09-01T00:00:00Z"}, False),
        ({"stage": "consideration", "tags": ["vip"], "fields": {"tier": "gold"},
          "created_at": "2026-09-01T00:00:00Z"}, True),
        # Nothing says how long they have been quiet: not picked.
        ({"stage": "consideration", "tags": ["vip"], "fields": {"tier": "gold"}}, False),
    ],
)  # fmt: skip
def test_segments(contact: dict, expected: bool) -> None:
    segment = Segment("consideration", ("vip",), timedelta(days=30), {"tier": "gold"})
    assert matches_segment(segment, contact, NOW) is expected


def test_a_delay_that_would_leave_the_calendar_does_not_hold_the_run() -> None:
    later = Delay("after", 1, timedelta(days=5), field="event.at")
    earlier = Delay("before", 1, timedelta(days=5), field="event.at")
    assert delay_due(later, {"event": {"at": "9999-12-28T00:00:00Z"}}, NOW, UTC) is None
    assert delay_due(earlier, {"event": {"at": "0001-01-04T00:00:00Z"}}, NOW, UTC) is None
    assert delay_due(later, {"event": {"at": "2026-12-01"}}, NOW, UTC) == datetime(
        2026, 12, 6, tzinfo=UTC
    )


def test_date_and_schedule_trigger_times() -> None:
    reminders = JOURNEYS["appointment_reminders"].triggers_of("date")[0]
    assert date_trigger_time(reminders, ANA, APPOINTMENT) == datetime(
        2026, 11, 30, 17, 30, tzinfo=UTC
    )
    assert date_trigger_time(reminders, ANA, {}) is None
    birthday = _parse(
        "id: b\ntrigger: {date: {field: contact.birthday, offset: 9h}}\nsteps:\n  - id: a\n"
    ).triggers[0]
    contact = {**ANA, "fields": {"birthday": "2026-12-24"}}
    # Midnight in Los Angeles plus nine hours.
    assert date_trigger_time(birthday, contact) == datetime(2026, 12, 24, 17, 0, tzinfo=UTC)

    kiritimati = {**ANA, "timezone": "Pacific/Kiritimati"}
    for edge in CALENDAR_EDGES:
        assert date_trigger_time(reminders, kiritimati, {"appointment_at": edge}) is None

    daily = JOURNEYS["re_engagement"].triggers_of("schedule")[0]
    new_york = ZoneInfo("America/New_York")
    assert next_schedule_time(daily, None, NOW, new_york) == datetime(
        2026, 11, 29, 15, 0, tzinfo=UTC
    )
    fired = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)
    assert next_schedule_time(daily, fired, fired, new_york) == datetime(
        2026, 11, 30, 15, 0, tzinfo=UTC
    )
    weekly = JOURNEYS["loyalty_referral"].triggers_of("schedule")[0]
    assert next_schedule_time(weekly, fired, fired, new_york) == datetime(
        2026, 12, 6, 16, 0, tzinfo=UTC
    )
    assert weekly.params["segment"] == Segment("post_purchase", (), None, {"tier": "gold"})


def test_runs_from_before_reminders_still_load() -> None:
    run, _ = start(JOURNEYS["appointment_confirmation"], Context(ANA, {}, NOW), APPOINTMENT, "r")
    old = run.to_dict()
    del old["wait_started_at"], old["reminders_sent"]
    restored = Run.from_dict(old)
    assert (restored.wait_started_at, restored.reminders_sent) == (None, 0)
    _, events = resume(restored, JOURNEYS["appointment_confirmation"], Context(ANA, {}, NOW),
                         Timeout(1))  # fmt: skip
    assert [e.step for e in events if isinstance(e, MessageCreated)] == ["remind"]


@pytest.mark.parametrize(
    "text", ["Plain text.\n", "  spaced  ", "50% off & more", "tabs\tand\nlines\n\n", "}} alone"]
)
def test_text_without_template_syntax_renders_as_jinja_would(text: str) -> None:
    from flows.template import ENVIRONMENT, render

    assert render(text, {}) == ENVIRONMENT.from_string(text).render().strip()
