"""Tests for loading journey files: the library, folders, ids across files, what a file reads as.

What a single source reports (each error and warning at its line) is data: see cases/.
"""

from __future__ import annotations

import pickle
import textwrap
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path

import pytest

from flows.definition import (
    BUILTIN_DIR,
    JourneyError,
    JourneyLoadError,
    check,
    load_journey,
    load_journeys,
)
from flows.model import Delay, Entry, JourneyKind, Segment

LIBRARY = {
    "abandoned_cart",
    "appointment_confirmation",
    "appointment_reminders",
    "consideration",
    "loyalty_referral",
    "order_status",
    "post_purchase_feedback",
    "re_engagement",
    "welcome",
}

GOOD = """\
id: good
name: Good
kind: transactional
trigger: {event: thing_happened}
steps:
  - id: ask
    send: "Hi {{ contact.first_name }}, reply YES or NO."
    wait:
      timeout: 1h30m
      on: {affirm: yes_step, deny: no_step}
  - id: yes_step
    send: "Great."
  - id: no_step
    handoff: sad
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def assert_error(errors: list[JourneyError], path: Path, line: int, *fragments: str) -> None:
    """Assert one error names path and line and says all the fragments."""
    for error in errors:
        if (
            error.path == str(path)
            and error.line == line
            and all(f in error.message for f in fragments)
        ):
            return
    listing = "\n".join(str(e) for e in errors) or "(no errors)"
    pytest.fail(f"no error at {path}:{line} saying {fragments!r}; got:\n{listing}")


# -- the built-in journeys -------------------------------------------------------------------


def test_builtin_journeys_load_cleanly() -> None:
    journeys = load_journeys()
    assert check(BUILTIN_DIR) == []
    appointment = journeys["appointment_confirmation"]
    assert appointment.kind is JourneyKind.TRANSACTIONAL
    assert appointment.trigger_event == "appointment_booked"
    assert appointment.first.id == "ask" and appointment.first.stage == "purchase"
    assert appointment.first.wait is not None
    assert appointment.first.wait.timeout == timedelta(hours=24)
    assert dict(appointment.first.wait.on) == {
        "affirm": "confirmed",
        "deny": "cancelled",
        "reschedule": "reschedule",
        "human": "reschedule",
        "timeout": "remind",
    }
    assert appointment.step("reschedule").handoff == "reschedule"
    assert dict(appointment.step("confirmed").set) == {
        "run.appointment_status": "confirmed",
        "appointment_status": "confirmed",
    }
    assert appointment.step("confirmed").goal == "confirmed"

    cart = journeys["abandoned_cart"]
    assert cart.kind is JourneyKind.MARKETING
    assert cart.trigger_event == "cart_abandoned"
    assert cart.exit_events == {"order_placed"}
    assert cart.first.delay == Delay("after", 18, timedelta(hours=1), field="event.abandoned_at")
    remind = cart.step("remind")
    assert remind.stage == "consideration"
    assert remind.wait is not None and remind.wait.on["timeout"] == "nudge"
    assert "Reply STOP to opt out." in str(remind.send)


def test_the_library() -> None:
    journeys = load_journeys()
    assert set(journeys) == LIBRARY
    assert all(journey.fields is not None for journey in journeys.values())
    welcome = journeys["welcome"]
    assert welcome.kind is JourneyKind.TRANSACTIONAL
    assert welcome.step("offer").kind is JourneyKind.MARKETING
    assert [t.kind for t in welcome.triggers] == ["keyword", "event", "opt_in"]
    assert welcome.trigger_keywords == {"JOIN"} and welcome.trigger_event == "signup"
    ask = welcome.step("ask")
    assert isinstance(ask.send, Mapping) and set(ask.send) == {"en", "es", "fr"}
    for part in ("Reply YES to confirm", "Msg & data rates may apply", "msgs/month"):
        assert part in ask.send["en"]
    assert "Reply STOP to opt out." in ask.send["en"]
    assert welcome.vocabulary_spec["examples"]["affirm"] == ("count me in", "sign me up")
    assert welcome.step("confirmed").goal == "confirmed"
    assert welcome.step("confirmed").consent == "marketing"
    assert dict(welcome.step("confirmed").set) == {"marketing_confirmed": True}

    reminders = journeys["appointment_reminders"]
    assert reminders.entry is Entry.RESTART
    date = reminders.triggers[0]
    assert (date.kind, dict(date.params)) == (
        "date",
        {
            "field": "appointment_at",
            "source": "event",
            "offset": -timedelta(hours=24),
            "event": "appointment_booked",
        },
    )
    feedback = journeys["post_purchase_feedback"]
    wait = feedback.step("ask").wait
    assert wait is not None
    assert [r.label for r in wait.ratings] == ["4-5", "3", "1-2"]
    assert dict(feedback.step("happy").split) == {"ask_review": 50, "ask_referral": 50}
    delay = feedback.step("morning").delay
    assert delay is not None
    assert delay.at == time(10, 0)
    schedule = journeys["re_engagement"].triggers[0]
    assert schedule.kind == "schedule"
    assert schedule.params["segment"].inactive_for == timedelta(days=60)
    assert journeys["consideration"].exit_events == {"order_placed"}
    assert journeys["loyalty_referral"].step("reward").tag == ("vip",)


def test_a_good_file_loads_with_its_values(tmp_path: Path) -> None:
    path = write(tmp_path, "good.yaml", GOOD)
    journey = load_journey(path)
    assert (journey.id, journey.name, journey.path) == ("good", "Good", str(path))
    assert journey.first.wait is not None
    assert journey.first.wait.timeout == timedelta(hours=1, minutes=30)
    assert journey.first.line == 6 and journey.first.wait.line == 9
    assert journey.step("no_step").handoff == "sad"


def test_extra_directories_load_after_the_builtins(tmp_path: Path) -> None:
    write(tmp_path, "good.yml", GOOD)
    journeys = load_journeys(tmp_path)
    assert set(journeys) == LIBRARY | {"good"}
    # Naming the built-in directory again does not make its journeys duplicates.
    assert set(load_journeys(BUILTIN_DIR)) == LIBRARY


def test_a_journey_id_used_twice_is_an_error(tmp_path: Path) -> None:
    clash = write(tmp_path, "mine.yaml", GOOD.replace("id: good", "id: abandoned_cart", 1))
    with pytest.raises(JourneyLoadError) as caught:
        load_journeys(tmp_path)
    assert_error(caught.value.errors, clash, 1, "duplicate journey id 'abandoned_cart'")


def test_missing_kind_defaults_to_marketing(tmp_path: Path) -> None:
    journey = load_journey(write(tmp_path, "j.yaml", GOOD.replace("kind: transactional\n", "")))
    assert journey.kind is JourneyKind.MARKETING


def test_builtin_journeys_have_no_warnings() -> None:
    assert check(BUILTIN_DIR, warnings=True) == []


# -- reporting ------------------------------------------------------------------------------


def test_check_on_a_good_and_a_bad_directory(tmp_path: Path) -> None:
    good_dir, bad_dir = tmp_path / "good", tmp_path / "bad"
    good_dir.mkdir()
    bad_dir.mkdir()
    write(good_dir, "good.yaml", GOOD)
    write(good_dir, "notes.txt", "not a journey: ignored")
    broken = write(bad_dir, "broken.yml", "id: broken\nsteps:\n  - id: a\n    next: b\n")
    listed = write(bad_dir, "listed.yaml", "- not a journey\n")
    write(bad_dir, "fine.yaml", GOOD)

    assert check(good_dir) == []
    errors = check(bad_dir)
    assert {e.path for e in errors} == {str(broken), str(listed)}
    assert_error(errors, broken, 4, "missing step 'b'")
    assert_error(errors, listed, 1, "must be a mapping")


def test_check_reports_missing_paths_and_never_raises(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    errors = check(missing, write(tmp_path, "bad.yaml", ": : :\n"))
    assert errors[0].path == str(missing) and "no such file" in errors[0].message
    assert len(errors) == 2


def test_errors_survive_pickling() -> None:
    error = JourneyError("a.yaml", 3, "oops")
    copy = pickle.loads(pickle.dumps(JourneyLoadError([error])))
    assert str(copy) == "a.yaml:3: oops"
    assert (copy.errors[0].path, copy.errors[0].line) == ("a.yaml", 3)


def test_warnings_survive_pickling() -> None:
    warning = JourneyError("a.yaml", 3, "long", "warning")
    copy = pickle.loads(pickle.dumps(warning))
    assert (copy.severity, str(copy)) == ("warning", "a.yaml:3: warning: long")


# -- the full journey language ----------------------------------------------------------------


def test_every_trigger_kind_loads(tmp_path: Path) -> None:
    journey = load_journey(
        write(
            tmp_path,
            "t.yaml",
            """\
            id: t
            trigger:
              - {event: signup}
              - {keyword: [join, Vip]}
              - {opt_in: true}
              - {date: {field: contact.birthday, offset: 9h}}
              - schedule: {every: 7d, at: "9:30"}
                segment: {stage: loyalty, tags: vip, inactive_for: 30d, field: {tier: gold}}
              - schedule: {every: 6h}
                segment: {}
            steps:
              - id: a
            """,
        )
    )
    kinds = [(t.kind, t.line) for t in journey.triggers]
    assert kinds == [
        ("event", 3), ("keyword", 4), ("opt_in", 5), ("date", 6), ("schedule", 7),
        ("schedule", 9),
    ]  # fmt: skip
    event, keyword, _, date, weekly, hourly = journey.triggers
    assert dict(event.params) == {"name": "signup"}
    assert keyword.params["words"] == ("JOIN", "VIP")
    assert dict(date.params) == {
        "field": "birthday",
        "source": "contact",
        "offset": timedelta(hours=9),
        "event": None,
    }
    assert (weekly.params["every"], weekly.params["at"]) == (timedelta(days=7), time(9, 30))
    segment = weekly.params["segment"]
    assert (segment.stage, segment.tags, segment.inactive_for, dict(segment.fields)) == (
        "loyalty",
        ("vip",),
        timedelta(days=30),
        {"tier": "gold"},
    )
    assert hourly.params["at"] is None and hourly.params["segment"] == Segment()
    assert journey.trigger_event == "signup"


def test_journey_settings_load(tmp_path: Path) -> None:
    journey = load_journey(
        write(
            tmp_path,
            "s.yaml",
            """\
            id: s
            language: es
            entry: interrupt
            exit: {events: [order_placed, refund]}
            fields: [contact.first_name, event.total]
            defaults: {contact.first_name: amigo, business.name: nosotros}
            nlu:
              affirm: {keywords: [SIMON, VALE], examples: ["me apunto"]}
              deny: {examples: [paso]}
            steps:
              - id: a
                send: "Hola {{ contact.first_name }}, {{ event.total | money }}"
            """,
        )
    )
    assert (journey.language, journey.entry) == ("es", Entry.INTERRUPT)
    assert journey.exit_events == {"order_placed", "refund"}
    assert journey.fields == frozenset({"contact.first_name", "event.total"})
    assert dict(journey.defaults) == {"contact.first_name": "amigo", "business.name": "nosotros"}
    assert {k: dict(v) for k, v in journey.vocabulary_spec.items()} == {
        "keywords": {"affirm": ("SIMON", "VALE")},
        "examples": {"affirm": ("me apunto",), "deny": ("paso",)},
    }


def test_rating_keyword_and_reminder_branches(tmp_path: Path) -> None:
    journey = load_journey(
        write(
            tmp_path,
            "w.yaml",
            """\
            id: w
            steps:
              - id: a
                wait:
                  timeout: 1d
                  rating: {">=4": b, "<= 2": b, "3": b}
                  keywords: {menu: b}
                  reminders: [{after: 20h, send: later}, {after: 2h, send: {en: soon}}]
              - id: b
            """,
        )
    )
    wait = journey.first.wait
    assert wait is not None
    assert [(r.low, r.high, r.label) for r in wait.ratings] == [
        (4, None, ">=4"), (None, 2, "<=2"), (3, 3, "3"),
    ]  # fmt: skip
    assert dict(wait.keywords) == {"MENU": "b"}
    assert [r.after for r in wait.reminders] == [timedelta(hours=2), timedelta(hours=20)]


def test_delays_load(tmp_path: Path) -> None:
    journey = load_journey(
        write(
            tmp_path,
            "d.yaml",
            """\
            id: d
            steps:
              - {id: a, delay: {for: 2h}, next: b}
              - {id: b, delay: {until: "09:00"}, next: c}
              - {id: c, delay: {before: event.due_at, by: 1d}, next: e}
              - {id: e, delay: {after: contact.last_order_at}, next: f}
              - id: f
            """,
        )
    )
    assert [s.delay for s in journey.steps[:4]] == [
        Delay("for", 3, timedelta(hours=2)),
        Delay("until", 4, at=time(9, 0)),
        Delay("before", 5, timedelta(days=1), field="event.due_at"),
        Delay("after", 6, timedelta(0), field="contact.last_order_at"),
    ]


def test_branch_and_split_load(tmp_path: Path) -> None:
    journey = load_journey(
        write(
            tmp_path,
            "b.yaml",
            """\
            id: b
            steps:
              - id: a
                branch:
                  - {if: "contact.tier == 'gold'", goto: b}
                  - {else: c}
              - id: b
                split: {c: 1, d: 3}
              - id: c
              - id: d
            """,
        )
    )
    assert [(c.expression, c.target) for c in journey.first.branch] == [
        ("contact.tier == 'gold'", "b"),
        (None, "c"),
    ]
    assert dict(journey.step("b").split) == {"c": 1, "d": 3}
    assert [e.label for e in journey.step("b").edges()] == ["25%", "75%"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
    ],
)
def test_good_durations(tmp_path: Path, text: str, expected: timedelta) -> None:
    journey = load_journey(write(tmp_path, "j.yaml", GOOD.replace("1h30m", text)))
    assert journey.first.wait is not None and journey.first.wait.timeout == expected
