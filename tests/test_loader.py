"""Tests for loading and validating journey files: every mistake names its file and line."""

from __future__ import annotations

import pickle
import re
import textwrap
from datetime import timedelta
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
from flows.model import JourneyKind
from flows.wording import find_keyword_requests

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
    assert cart.first.stage == "consideration"
    assert cart.first.wait is not None and cart.first.wait.on["timeout"] == "nudge"
    assert "Reply STOP to opt out." in (cart.first.send or "")


def test_builtin_texts_never_ask_for_a_carrier_keyword() -> None:
    texts = [
        text
        for journey in load_journeys().values()
        for step in journey.steps
        for text in (step.send, step.wait.retry if step.wait else None)
        if text
    ]
    assert len(texts) == 11
    for text in texts:
        assert find_keyword_requests(text) == [], text
        assert re.search(r"\bCANCEL\b", text) is None, text


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
    assert set(journeys) == {"appointment_confirmation", "abandoned_cart", "good"}
    # Naming the built-in directory again does not make its journeys duplicates.
    assert set(load_journeys(BUILTIN_DIR)) == {"appointment_confirmation", "abandoned_cart"}


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
              on: {affirm: b, other: b, timeout: b}
          - id: b
            wait:
              on:
                maybe: a
        """,
    )
    assert_error(errors, path, 9, "unknown intent 'maybe'", "affirm", "timeout, other")
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
              on: {deny: a}
              retry: "Sorry. Reply YES to keep it or END to drop it."
        """,
    )
    assert_error(errors, path, 6, "`send` asks people to reply CANCEL", "opt-out keyword")
    assert_error(errors, path, 10, "`retry` asks people to reply END")
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
    assert_error(errors, path, 5, "steps loop without a wait: b -> c -> b")
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
