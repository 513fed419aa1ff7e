"""Tests for a journey's sending policy: read from YAML, carried on every message emitted."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from flows import (
    ActionResult,
    Context,
    Event,
    Journey,
    JourneyKind,
    MessageCreated,
    QuietHours,
    Reply,
    Step,
    Timeout,
    WhenCapped,
    as_dict,
    check,
    load_journey,
    resume,
    start,
)
from flows.definition.policy import STRICTEST_QUIET, in_strictest_quiet

NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
ANA = {"phone": "+14155550100", "fields": {"first_name": "Ana"}, "language": "es"}

POLICY = """\
id: policy
kind: transactional
quiet_hours: ignore
when_capped: skip
trigger: {event: order_placed}
steps:
  - id: shipped
    send: "Your order shipped."
    next: offer
  - id: offer
    kind: marketing
    quiet_hours: respect
    when_capped: defer
    send: {en: "10% off your next order?", es: "¿10% en su próximo pedido?"}
    wait:
      timeout: 2d
      on: {affirm: code, timeout: bye}
      retry: "Reply YES for the code."
      reminders:
        - {after: 1d, send: "Still want 10% off?"}
  - id: code
    kind: marketing
    quiet_hours: respect
    action: make_code
    next: bye
  - id: bye
    send: "Thanks for shopping with us."
"""


def _load(tmp_path: Path, source: str) -> Journey:
    path = tmp_path / "journey.yaml"
    path.write_text(source, encoding="utf-8")
    assert check(path, warnings=True) == []
    return load_journey(path)


def _policies(events: Sequence[Event]) -> list[tuple[str, str, str, str]]:
    return [
        (e.step, e.kind, e.quiet_hours, e.when_capped)
        for e in events
        if isinstance(e, MessageCreated)
    ]


def test_the_policy_keys_are_read_onto_the_journey_and_its_steps(tmp_path: Path) -> None:
    journey = _load(tmp_path, POLICY)
    assert journey.quiet_hours is QuietHours.IGNORE
    assert journey.when_capped is WhenCapped.SKIP
    offer = journey.step("offer")
    assert (offer.quiet_hours, offer.when_capped) == (QuietHours.RESPECT, WhenCapped.DEFER)
    shipped = journey.step("shipped")
    assert (shipped.quiet_hours, shipped.when_capped) == (None, None)


def test_every_message_carries_its_steps_policy_over_the_journeys(tmp_path: Path) -> None:
    journey = _load(tmp_path, POLICY)
    ctx = Context(ANA, {}, NOW)
    run, events = start(journey, ctx, {}, "r")
    # The step's own policy wins; a step that says nothing gets the journey's.
    assert _policies(events) == [
        ("shipped", "transactional", "ignore", "skip"),
        ("offer", "marketing", "respect", "defer"),
    ]
    # The retry and the reminder belong to the waiting step.
    _, retried = resume(run, journey, ctx, Reply("greet", "hmm"))
    assert _policies(retried) == [("offer", "marketing", "respect", "defer")]
    later = Context(ANA, {}, NOW + timedelta(days=1))
    reminded_run, reminded = resume(run, journey, later, Timeout(run.wait_seq))
    assert _policies(reminded) == [("offer", "marketing", "respect", "defer")]
    # A custom action's messages belong to the action's step (respect, with the journey's skip).
    waiting, _ = resume(reminded_run, journey, later, Reply("affirm", "yes"))
    _, acted = resume(waiting, journey, later, ActionResult({}, ("Your code: SAVE10",)))
    assert _policies(acted) == [
        ("code", "marketing", "respect", "skip"),
        ("bye", "transactional", "ignore", "skip"),
    ]


def test_a_journey_that_says_nothing_leaves_quiet_hours_to_the_bot(tmp_path: Path) -> None:
    source = "id: quiet\ntrigger: {event: x}\nsteps:\n  - id: a\n    send: Hi\n"
    journey = _load(tmp_path, source)
    assert (journey.quiet_hours, journey.when_capped) == (None, WhenCapped.DEFER)
    _, events = start(journey, Context(ANA, {}, NOW), {}, "r")
    (message,) = [e for e in events if isinstance(e, MessageCreated)]
    assert as_dict(message) == {
        "type": "message_created",
        "run_id": "r",
        "journey": "quiet",
        "step": "a",
        "text": "Hi",
        "kind": "marketing",
        "quiet_hours": "",
        "when_capped": "defer",
    }


def test_journeys_and_steps_built_in_code_default_to_no_policy() -> None:
    step = Step("a", 1, send="Hi")
    journey = Journey("j", "J", JourneyKind.TRANSACTIONAL, (), (step,), "<test>")
    assert (step.quiet_hours, step.when_capped) == (None, None)
    assert journey.quiet_hours_of(step) is None
    assert journey.when_capped_of(step) is WhenCapped.DEFER


def test_a_message_created_without_the_policy_fields_gets_their_defaults() -> None:
    # Events written before the policy existed carry neither field.
    old = {"run_id": "r", "journey": "j", "step": "a", "text": "Hi", "kind": "marketing"}
    event = MessageCreated(**old)
    assert (event.quiet_hours, event.when_capped) == ("", "defer")
    names = [f.name for f in dataclasses.fields(MessageCreated)]
    assert names[names.index("kind") + 1 :] == ["quiet_hours", "when_capped"]


@pytest.mark.parametrize(
    ("clock", "quiet"),
    [("20:00", True), ("23:59", True), ("00:00", True), ("07:59", True), ("08:00", False),
     ("12:00", False), ("19:59", False)],
)  # fmt: skip
def test_the_strictest_quiet_window_runs_from_20_to_08(clock: str, quiet: bool) -> None:
    start, end = STRICTEST_QUIET
    assert (start, end) == (time(20), time(8))
    assert in_strictest_quiet(time.fromisoformat(clock)) is quiet


def test_a_quiet_hours_warning_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "late.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            id: late
            trigger: {event: x}
            steps:
              - id: a
                delay: {until: "21:00"}
                next: b
              - id: b
                send: Flash sale tonight only.
            """
        ),
        encoding="utf-8",
    )
    (warning,) = check(path, warnings=True)
    assert warning.is_warning and warning.line == 5
    assert str(warning).startswith(f"{path}:5: warning: step 'a' waits until 21:00 local time")
    # A warning does not stop the journey from loading.
    assert load_journey(path).id == "late"
