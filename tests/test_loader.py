"""Tests for loading and validating journey files: every mistake names its file and line."""

from __future__ import annotations

import pickle
import re
import textwrap
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path

import pytest

from flows.loader import (
    BUILTIN_DIR,
    JourneyError,
    JourneyLoadError,
    check,
    load_journey,
    load_journeys,
)
from flows.model import Delay, Entry, Journey, JourneyKind, Segment, Text
from flows.sms import segments
from flows.wording import find_keyword_requests

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


def errors_in(tmp_path: Path, text: str) -> tuple[Path, list[JourneyError]]:
    path = write(tmp_path, "journey.yaml", text)
    return path, check(path)


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
    assert dict(appointment.step("confirmed").set) == {"appointment_status": "confirmed"}
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


def _texts(journey: Journey) -> list[str]:
    """Return every message template in a journey, language variants and reminders included."""
    found: list[Text | None] = []
    for step in journey.steps:
        found.append(step.send)
        if step.wait is not None:
            found.append(step.wait.retry)
            found.extend(reminder.send for reminder in step.wait.reminders)
    out: list[str] = []
    for text in found:
        if isinstance(text, str):
            out.append(text)
        elif text is not None:
            out.extend(text.values())
    return out


def test_builtin_texts_never_ask_for_a_carrier_keyword() -> None:
    texts = [text for journey in load_journeys().values() for text in _texts(journey)]
    assert len(texts) == 50
    for text in texts:
        assert find_keyword_requests(text) == [], text
        assert re.search(r"\bCANCEL\b", text) is None, text


def test_the_library() -> None:
    journeys = load_journeys()
    assert set(journeys) == LIBRARY
    assert all(journey.fields is not None for journey in journeys.values())
    welcome = journeys["welcome"]
    assert welcome.kind is JourneyKind.TRANSACTIONAL
    assert welcome.step("offer").kind is JourneyKind.MARKETING
    assert [t.kind for t in welcome.triggers] == ["keyword", "event"]
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
    wait, delay = feedback.step("ask").wait, feedback.step("morning").delay
    assert wait is not None and [r.label for r in wait.ratings] == ["4-5", "3", "1-2"]
    assert dict(feedback.step("happy").split) == {"ask_review": 50, "ask_referral": 50}
    assert delay is not None and delay.at == time(10, 0)
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


# -- one test per kind of mistake ----------------------------------------------------------


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path, errors = errors_in(tmp_path, "id: x\nsteps:\n  - id: a\n    send: [unclosed\n")
    assert len(errors) == 1
    assert errors[0].path == str(path) and "YAML syntax error" in errors[0].message
    assert errors[0].line == 5


def test_not_a_mapping(tmp_path: Path) -> None:
    path, errors = errors_in(tmp_path, "- id: x\n- steps: []\n")
    assert_error(errors, path, 1, "must be a mapping")


def test_empty_file(tmp_path: Path) -> None:
    path, errors = errors_in(tmp_path, "# nothing here\n")
    assert_error(errors, path, 1, "empty")


def test_missing_id_and_steps(tmp_path: Path) -> None:
    path, errors = errors_in(tmp_path, "# a comment\nname: Nameless\n")
    assert_error(errors, path, 2, "missing `id`")
    assert_error(errors, path, 2, "missing `steps`")


def test_unknown_keys_say_which_and_what_is_allowed(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        colour: red
        steps:
          - id: a
            sned: hi
        """,
    )
    assert_error(errors, path, 2, "unknown journey key 'colour'", "allowed: id, name, kind")
    assert_error(errors, path, 5, "unknown step key 'sned'", "send")


def test_unknown_kind(tmp_path: Path) -> None:
    path, errors = errors_in(tmp_path, "id: x\nkind: promo\nsteps:\n  - id: a\n")
    assert_error(errors, path, 2, "unknown kind 'promo'", "transactional, marketing")


def test_duplicate_step_ids(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            next: a2
          - id: a2
          - id: a
        """,
    )
    assert_error(errors, path, 6, "duplicate step id 'a'", "first at line 3")


def test_links_to_missing_steps(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            wait:
              on:
                affirm: b
                deny: nowhere
          - id: b
            next: ghost
        """,
    )
    assert_error(errors, path, 7, "branch 'deny' points at missing step 'nowhere'")
    assert_error(errors, path, 9, "`next` points at missing step 'ghost'")


def test_unknown_intent_in_a_wait(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            wait:
              timeout: 1h
              on: {affirm: b, other: b, timeout: b}
          - id: b
            wait:
              timeout: never
              on:
                maybe: a
        """,
    )
    assert_error(errors, path, 11, "unknown intent 'maybe'", "affirm", "timeout, other")
    assert len(errors) == 1


@pytest.mark.parametrize("bad", ["3 weeks", "90", "1.5h", "0m", "h", "24 h", "1m1h"])
def test_bad_duration(tmp_path: Path, bad: str) -> None:
    path, errors = errors_in(
        tmp_path, f"id: x\nsteps:\n  - id: a\n    wait:\n      timeout: {bad}\n      on: {{}}\n"
    )
    assert_error(errors, path, 5, f"bad duration {bad!r}", "30s, 15m, 24h, 2d or 1h30m")


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


def test_unknown_stage(tmp_path: Path) -> None:
    path, errors = errors_in(tmp_path, "id: x\nsteps:\n  - id: a\n    stage: buying\n")
    assert_error(errors, path, 4, "unknown stage 'buying'", "post_purchase")


def test_template_syntax_error_points_at_its_line(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            send: |
              Hello {{ contact.first_name }},
              your order is ready.
              Total: {{ event.total }
        """,
    )
    assert_error(errors, path, 7, "template error in `send`")


def test_template_unknown_filter_and_variable(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            send: "{{ event.at | local_tim }}"
            wait:
              on: {affirm: a}
              retry: "{{ customer.name }}, say again?"
        """,
    )
    assert_error(errors, path, 4, "template error in `send`", "local_tim")
    assert_error(errors, path, 7, "unknown template variable 'customer' in `retry`")


def test_asking_for_an_opt_out_keyword_is_an_error(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            send: >-
              Your visit is tomorrow at 10.
              Reply CANCEL to cancel your appointment.
              Reply STOP to opt out.
            wait:
              timeout: never
              on: {deny: a}
              retry: "Sorry. Reply YES to keep it or END to drop it."
        """,
    )
    assert_error(errors, path, 6, "`send` asks people to reply CANCEL", "opt-out keyword")
    assert_error(errors, path, 11, "`retry` asks people to reply END")
    assert len(errors) == 2


@pytest.mark.parametrize(
    "text",
    [
        "Reply CANCEL to cancel your appointment.",
        "reply cancel to cancel your booking",
        "Text END to finish the survey.",
        'Respond with "QUIT" to leave the waitlist.',
        "Reply YES to confirm or CANCEL to cancel.",
        "To skip this order, text us STOPALL",
        "Send UNSUBSCRIBE for the weekly digest only.",
        "Reply UNSUBSCRIBE to leave the waitlist.",
        "Reply REVOKE to undo your last change.",
        "Reply OPTOUT if you can't make it.",
    ],
)
def test_keyword_requests_that_are_flagged(text: str) -> None:
    assert find_keyword_requests(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Reply STOP to opt out.",
        "Reply STOP to opt-out of marketing texts.",
        "Reply STOP to unsubscribe.",
        "Text STOP to stop receiving messages.",
        "Reply STOP to cancel.",
        "Reply END to stop these texts.",
        "Reply YES to confirm, NO to cancel or R to reschedule.",
        "Your appointment is cancelled. Text us any time to book again.",
        "We can't wait to see you. This is the END of the season sale!",
    ],
)
def test_opt_out_wording_that_is_fine(text: str) -> None:
    assert find_keyword_requests(text) == []


def test_unreachable_steps(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            next: b
          - id: b
          - id: island
            send: "nobody gets here"
        """,
    )
    assert_error(errors, path, 6, "step 'island' cannot be reached from the first step 'a'")
    assert len(errors) == 1


def test_a_loop_of_next_steps_without_a_wait(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            next: b
          - id: b
            next: c
          - id: c
            next: b
        """,
    )
    assert_error(errors, path, 5, "steps loop without a wait or delay: b -> c -> b")
    assert len(errors) == 1


def test_contradicting_step_keys(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            next: b
            wait: {on: {affirm: b}}
          - id: b
            end: true
            next: a
          - id: c
            end: maybe
        """,
    )
    assert_error(errors, path, 4, "both `next` and `wait`")
    assert_error(errors, path, 7, "`end: true` cannot also have `next`")
    assert_error(errors, path, 10, "`end` must be true or false")


# -- reporting ------------------------------------------------------------------------------


def test_all_mistakes_in_a_file_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "many.yaml",
        """\
        id: many
        kind: promo
        steps:
          - id: a
            stage: buying
            wait:
              timeout: soon
              on: {affirm: gone}
        """,
    )
    with pytest.raises(JourneyLoadError) as caught:
        load_journey(path)
    errors = caught.value.errors
    assert [e.line for e in errors] == [2, 5, 7, 8]
    assert str(caught.value).splitlines() == [str(e) for e in errors]
    assert str(errors[0]) == f"{path}:2: unknown kind 'promo' (allowed: transactional, marketing)"


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


def test_trigger_mistakes(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        trigger:
          - {event: a, keyword: B}
          - {}
          - {event: a, segment: {stage: loyalty}}
          - {keyword: [STOP, two words]}
          - {opt_in: false}
          - {date: {field: order.placed_at, offset: soon}}
          - {schedule: {every: 1d, at: "25:00"}}
          - schedule: {every: 90m, at: "10:00"}
            segment: {stage: buying}
          - just text
        steps:
          - id: a
        """,
    )
    assert_error(errors, path, 3, "exactly one of event, keyword, opt_in, date, schedule")
    assert_error(errors, path, 4, "exactly one of")
    assert_error(errors, path, 5, "`segment` goes with a `schedule` trigger only")
    assert_error(errors, path, 6, "STOP in `keyword` is a carrier keyword")
    assert_error(errors, path, 6, "'two words' in `keyword` must be a single word")
    assert_error(errors, path, 7, "`opt_in: true`")
    assert_error(errors, path, 8, "bad date field 'order.placed_at'")
    assert_error(errors, path, 8, "bad offset 'soon'")
    assert_error(errors, path, 9, "bad time '25:00'", "HH:MM")
    assert_error(errors, path, 9, "needs a `segment`")
    assert_error(errors, path, 10, "`every` must be whole days")
    assert_error(errors, path, 11, "unknown stage 'buying'")
    assert_error(errors, path, 12, "a trigger must be a mapping")


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


def test_journey_setting_mistakes(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        language: Spanish
        entry: always
        exit: {on: [order_placed]}
        fields: [first_name, contact.ok]
        defaults: {customer.name: there, contact.x: [a]}
        nlu:
          maybe: {examples: [perhaps]}
          deny: {keywords: [STOP, NOPE]}
        steps:
          - id: a
        """,
    )
    assert_error(errors, path, 2, "'Spanish' is not a language code")
    assert_error(errors, path, 3, "unknown entry rule 'always'", "skip, restart, interrupt")
    assert_error(errors, path, 4, "unknown exit key 'on'")
    assert_error(errors, path, 4, "`exit` needs `events`")
    assert_error(errors, path, 5, "'first_name' in `fields` must be contact or event")
    assert_error(errors, path, 6, "'customer.name' in `defaults` must be contact or event or")
    assert_error(errors, path, 6, "default for 'contact.x' must be a value")
    assert_error(errors, path, 8, "unknown intent 'maybe' in `nlu`")
    assert_error(errors, path, 9, "STOP in `nlu` keywords is a carrier opt-out keyword")
    assert len(errors) == 9


def test_a_wait_needs_a_timeout_or_never(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            wait:
              on: {affirm: b}
          - id: b
            wait: {timeout: never, on: {affirm: c, timeout: c}}
          - id: c
            wait: {timeout: 1h, on: {affirm: a}}
        """,
    )
    assert_error(errors, path, 5, "a `wait` needs a `timeout`", "`never`")
    assert_error(errors, path, 7, "never runs with `timeout: never`")
    assert len(errors) == 2


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


def test_bad_wait_branches(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            wait:
              timeout: 1d
              rating: {"4+": b, "5-3": b, ">=3": b, "4": b, "<1": nowhere}
              keywords: {HELP: b, MENU: gone}
              reminders:
                - {after: 1d, send: too late}
                - {after: 1h}
                - nope
          - id: b
        """,
    )
    assert_error(errors, path, 6, "bad rating range '4+'", ">=4")
    assert_error(errors, path, 6, "bad rating range '5-3': the low end comes first")
    assert_error(errors, path, 6, "rating range '4' overlaps '>=3'")
    assert_error(errors, path, 6, "step 'a': rating '<1' points at missing step 'nowhere'")
    assert_error(errors, path, 7, "HELP in `keywords` is a carrier keyword")
    assert_error(errors, path, 7, "step 'a': keyword 'MENU' points at missing step 'gone'")
    assert_error(errors, path, 9, "reminder after 1d is not before the wait's 1d timeout")
    assert_error(errors, path, 10, "a reminder needs `after` and `send`")
    assert_error(errors, path, 11, "a reminder must be a mapping")
    assert len(errors) == 9


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


def test_delay_mistakes(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - {id: a, delay: {}, next: b}
          - {id: b, delay: {for: 1h, until: "10:00"}, next: c}
          - {id: c, delay: {until: noon}, next: d}
          - {id: d, delay: {before: appointment_at, by: 1h}, next: e}
          - {id: e, delay: {for: 1h, by: 2h}, next: f}
          - {id: f, delay: {for: 1h}}
        """,
    )
    assert_error(errors, path, 3, "a `delay` needs exactly one of for, until, before, after")
    assert_error(errors, path, 4, "exactly one of")
    assert_error(errors, path, 5, "bad time 'noon' in `until`")
    assert_error(errors, path, 6, "`before` must name a field like event.appointment_at")
    assert_error(errors, path, 7, "`by` goes with `before` or `after`")
    assert_error(errors, path, 8, "a `delay` needs `next`")
    assert len(errors) == 6


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


def test_branch_mistakes(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            branch:
              - {if: "contact.tier ==", goto: b}
              - {if: "customer.vip", goto: b}
              - {if: true, goto: b}
              - {if: event.total > 5}
              - {else: b}
              - {if: event.total > 9, goto: ghost}
          - id: b
            branch:
              - {else: a, goto: a}
          - id: c
            branch: []
        """,
    )
    assert_error(errors, path, 5, "bad condition 'contact.tier =='")
    assert_error(errors, path, 6, "unknown variable 'customer' in `if`")
    assert_error(errors, path, 7, "`if` needs an expression")
    assert_error(errors, path, 8, "a branch rule needs `if` and `goto`")
    assert_error(errors, path, 9, "`else` comes alone, as the last branch rule")
    assert_error(errors, path, 10, "`branch` needs a final `{else: step}`")
    assert_error(errors, path, 10, "`goto` (if event.total > 9) points at missing step 'ghost'")
    assert_error(errors, path, 13, "`else` comes alone")
    assert_error(errors, path, 15, "`branch` must be a list")


def test_split_mistakes(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            split: {b: 0, c: half, d: -5, e: true, f: 1.5}
          - id: b
            split: {a: 1}
          - id: c
            split: {a: 1, ghost: 2}
          - {id: d, end: true}
          - {id: e, end: true}
          - {id: f, end: true}
        """,
    )
    for weight in ("'0' for 'b'", "'half' for 'c'", "'-5' for 'd'", "'true' for 'e'", "'1.5'"):
        assert_error(errors, path, 4, f"bad weight {weight}", "whole number")
    assert_error(errors, path, 6, "a `split` needs at least two variants")
    assert_error(errors, path, 8, "step 'c': split variant 'ghost' is not a step")


def test_keys_that_do_not_go_together(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            wait: {timeout: 1h, on: {affirm: b}}
            delay: {for: 1h}
          - id: b
            branch: [{else: c}]
            next: c
          - id: c
            action: do_it
            end: true
          - id: d
            data: {x: 1}
        """,
    )
    assert_error(errors, path, 5, "a step cannot have both `wait` and `delay`")
    assert_error(errors, path, 8, "both `next` and `branch`: use `else`")
    assert_error(errors, path, 11, "a step with `end: true` cannot also have `action`")
    assert_error(errors, path, 13, "`data` goes with `start`")


def test_loops_through_branches_and_splits_but_not_through_pauses(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            branch: [{if: event.again, goto: b}, {else: d}]
          - id: b
            split: {a: 1, c: 1}
          - id: c
            delay: {for: 1d}
            next: a
          - id: d
            action: check
            next: d
        """,
    )
    assert_error(errors, path, 3, "steps loop without a wait or delay: a -> b -> a")
    assert len(errors) == 1


def test_declared_fields(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        fields: [contact.first_name, event.total]
        defaults: {event.item: your items}
        steps:
          - id: a
            set: {plan: gold}
            send: >-
              {{ contact.first_name }} {{ contact.phone }} {{ contact.plan }} {{ event.item }}
              {{ event.total | money }} {{ business.name }} {{ contact.tier }}
            next: b
          - id: b
            branch: [{if: "event['coupon']", goto: c}, {else: c}]
          - id: c
            delay: {after: contact.last_seen, by: 1d}
            next: d
          - id: d
            wait: {timeout: 1h, on: {affirm: a}, retry: "{{ event.total }}"}
        """,
    )
    assert_error(errors, path, 7, "`send` uses contact.tier, which `fields` does not declare")
    assert_error(errors, path, 12, "`if` uses event.coupon")
    assert_error(errors, path, 14, "`after` uses contact.last_seen")
    assert len(errors) == 3
    # Without `fields` nothing is checked beyond the three names.
    no_fields = path.read_text().replace("fields: [contact.first_name, event.total]\n", "")
    assert check(write(tmp_path, "open.yaml", no_fields)) == []


def test_start_names_a_journey_that_exists(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            start: welcome
            next: b
          - id: b
            start: nowhere_journey
        """,
    )
    assert [str(e) for e in errors] == [
        f"{path}:6: step 'b': `start` names unknown journey 'nowhere_journey'"
    ]


def test_message_languages_and_step_kind(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        steps:
          - id: a
            kind: promo
            send: {english: Hi, es: "{{ nope }}"}
          - id: b
            send: {}
        """,
    )
    assert_error(errors, path, 4, "unknown kind 'promo'")
    assert_error(errors, path, 5, "'english' in `send` is not a language code")
    assert_error(errors, path, 5, "unknown template variable 'nope' in `send (es)`")
    assert_error(errors, path, 7, "`send` needs at least one language")


# -- warnings ---------------------------------------------------------------------------------

LONG = "Hi {{ contact.first_name }}, " + "this sentence is ten words long and keeps on going. " * 4


def test_long_messages_are_warnings_not_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "long.yaml",
        f"""\
        id: long
        defaults: {{contact.first_name: there}}
        steps:
          - id: a
            send: "{LONG}"
            next: b
          - id: b
            send: "Short and sweet \u2019 but curly."
            next: c
          - id: c
            send: "{{% if event.x %}}{LONG}{{% endif %}} \u2019"
        """,
    )
    assert check(path) == []
    load_journey(path)
    warnings = check(path, warnings=True)
    assert all(w.is_warning and w.severity == "warning" for w in warnings)
    assert [w.line for w in warnings] == [5, 11]
    assert warnings[0].message == (
        "`send` costs 2 SMS segments: its fixed text alone is 217 GSM-7 characters, "
        "and one segment holds 160"
    )
    assert "4 SMS segments" in warnings[1].message and "because of '\u2019'" in warnings[1].message
    assert str(warnings[0]) == f"{path}:5: warning: {warnings[0].message}"


def test_check_lists_errors_before_warnings(tmp_path: Path) -> None:
    path = write(
        tmp_path, "mixed.yaml", f'id: m\nsteps:\n  - id: a\n    send: "{LONG}"\n    next: b\n'
    )
    found = check(path, warnings=True)
    assert [(f.severity, f.line) for f in found] == [("error", 5), ("warning", 4)]


@pytest.mark.parametrize(
    ("text", "encoding", "length", "count"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),
        ("[]" * 41, "GSM-7", 164, 2),
        ("é" * 160, "GSM-7", 160, 1),
        ("á" * 70, "UCS-2", 70, 1),
        ("á" * 71, "UCS-2", 71, 2),
        ("á" * 134, "UCS-2", 134, 2),
        ("á" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),
    ],
)
def test_sms_segments(text: str, encoding: str, length: int, count: int) -> None:
    cost = segments(text)
    assert (cost.encoding, cost.length, cost.count) == (encoding, length, count)


def test_builtin_journeys_have_no_warnings() -> None:
    assert check(BUILTIN_DIR, warnings=True) == []


def test_warnings_survive_pickling() -> None:
    warning = JourneyError("a.yaml", 3, "long", "warning")
    copy = pickle.loads(pickle.dumps(warning))
    assert (copy.severity, str(copy)) == ("warning", "a.yaml:3: warning: long")


def test_nlu_words_that_would_change_what_compliance_hears(tmp_path: Path) -> None:
    path, errors = errors_in(
        tmp_path,
        """\
        id: x
        nlu:
          affirm: {keywords: [START]}
          rating: {examples: [five stars]}
          deny: {keywords: [NOPE]}
          thanks: {keywords: [nope]}
        steps:
          - id: a
        """,
    )
    assert_error(errors, path, 3, "`nlu` for 'affirm'", "always means opt_in")
    assert_error(errors, path, 4, "unknown intent 'rating' in `nlu`")
    assert_error(errors, path, 3, "`nlu`:", "given for deny and thanks")
    assert len(errors) == 3


def test_consent_names_a_known_purpose(tmp_path: Path) -> None:
    path = tmp_path / "consent.yaml"
    path.write_text(
        "id: consent\n"
        "kind: transactional\n"
        "trigger: {event: x}\n"
        "steps:\n"
        "  - id: only\n"
        "    consent: everything\n"
        "    send: Thanks!\n"
    )
    (error,) = check(path)
    assert (error.path, error.line) == (str(path), 6)
    assert "unknown consent 'everything'" in error.message
