"""Walk a run through its journey's steps within one engine call, collecting the events."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Any, Final, Literal

from flows.events import (
    ActionRequested,
    ConsentGranted,
    Event,
    FieldSet,
    GoalReached,
    HandoffRequested,
    JourneyEnded,
    JourneyStartRequested,
    MessageCreated,
    ResultSaved,
    SplitChosen,
    StageChanged,
    TagsChanged,
    WaitStarted,
)
from flows.model import CLICKED, OTHER, TIMEOUT, Journey, Step, Text, Wait
from flows.results import RUN, result_name, shared_results
from flows.state import Context, Reply, Run, RunStatus
from flows.template import NOW, evaluate, render
from flows.timing import delay_due, zone_of
from nlu.intents import RATING

# Steps one call may run before it gives up on a journey that never pauses.
MAX_STEPS = 50


class _Paused(Enum):
    """What route() answers when the run stops at the step (one value, typed apart)."""

    PAUSED = "paused"


_PAUSED: Final = _Paused.PAUSED
_EDGES = re.compile(r"^\W+|\W+$")


def pick_text(text: Text, language: str | None, fallback: str) -> str:
    """Return the variant for the contact's language, else the journey's, else en, else any."""
    if isinstance(text, str):
        return text
    for code in (language, fallback, "en"):
        if not code:
            continue
        if code in text:
            return text[code]
        # "es-MX" finds "es", and "pt" finds "pt-BR".
        primary = code.split("-")[0].lower()
        for key, variant in text.items():
            if key.split("-")[0].lower() == primary:
                return variant
    return next(iter(text.values()))


def choose_variant(run_id: str, step_id: str, weights: Mapping[str, int]) -> str:
    """Pick a split variant by weight, the same one every time for this run and step."""
    digest = hashlib.sha256(f"{run_id}:{step_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(weights.values())
    for variant, weight in weights.items():
        if point < weight:
            return variant
        point -= weight
    raise AssertionError("weights must be positive")


def rating_of(reply: Reply) -> int | None:
    """Return the reply's rating value as an int, if it carries one."""
    value = reply.entities.get(RATING)
    if isinstance(value, Mapping):
        value = value.get("value")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


class Runner:
    """One call's scratch space: a copy of the run, the events so far, the contact as updated."""

    def __init__(self, run: Run, journey: Journey, ctx: Context) -> None:
        self.run = replace(run, data=dict(run.data), results=dict(run.results))
        self.shared = shared_results(run, ctx.runs)
        self.journey = journey
        self.ctx = ctx
        self.events: list[Event] = []
        self.fields: dict[str, Any] = dict(ctx.contact.get("fields") or {})
        self.stage = ctx.contact.get("stage")
        self.tags: list[str] = list(ctx.contact.get("tags") or [])

    @property
    def now(self) -> datetime:
        return self.ctx.now

    def result(self) -> tuple[Run, list[Event]]:
        return self.run, self.events

    def variables(self) -> dict[str, Any]:
        """Return what templates and conditions see, with the journey's defaults filled in."""
        contact = self.ctx.contact
        holders: dict[str, dict[str, Any]] = {
            "contact": {
                **self.fields,
                "phone": contact.get("phone"),
                "language": contact.get("language"),
                "timezone": contact.get("timezone"),
                "stage": self.stage,
                "tags": list(self.tags),
            },
            "event": dict(self.run.data),
            "business": dict(self.ctx.business),
            RUN: {**self.shared, **self.run.results},
        }
        for key, value in self.journey.defaults.items():
            holder, _, name = key.partition(".")
            if holders[holder].get(name) in (None, ""):
                holders[holder][name] = value
        return {**holders, NOW: self.ctx.now}

    # -- walking --------------------------------------------------------------------------

    def walk(self, step_id: str) -> None:
        """Run steps from step_id until one pauses or the run ends."""
        for _ in range(MAX_STEPS):
            if not self.journey.has_step(step_id):
                self.end(RunStatus.EXPIRED, f"step {step_id!r} is not in the journey")
                return
            step = self.journey.step(step_id)
            self.run.step = step.id
            self.run.status = RunStatus.ACTIVE
            self.run.timeout_at = None
            self.perform(step)
            if step.end:
                break
            target = self.route(step)
            if target is _PAUSED:
                return
            if target is None:
                break
            step_id = target
        else:
            self.end(RunStatus.EXPIRED, f"ran {MAX_STEPS} steps without pausing: the steps loop")
            return
        self.end(RunStatus.COMPLETED)

    def go_on(self, step: Step) -> None:
        """Continue after a paused step: to its `next`, or complete the run."""
        if step.next is None:
            self.end(RunStatus.COMPLETED)
        else:
            self.walk(step.next)

    def perform(self, step: Step) -> None:
        """Emit what a step does, in a fixed order."""
        run_id, journey_id = self.run.id, self.journey.id
        if step.stage is not None:
            self.stage = step.stage
            self.events.append(StageChanged(step.stage))
        for name, value in step.set.items():
            result = result_name(name)
            if result is not None:
                self.run.results[result] = value
                self.events.append(ResultSaved(run_id, journey_id, result, value))
            else:
                self.fields[name] = value
                self.events.append(FieldSet(name, value))
        if step.tag or step.untag:
            self.tags = [t for t in self.tags if t not in step.untag]
            self.tags += [t for t in step.tag if t not in self.tags]
            self.events.append(TagsChanged(step.tag, step.untag))
        if step.consent is not None:
            self.events.append(ConsentGranted(run_id, journey_id, step.id, step.consent))
        if step.send is not None:
            self.message(step, step.send)
        if step.goal is not None:
            self.events.append(GoalReached(run_id, journey_id, step.goal))
        if step.handoff is not None:
            self.events.append(HandoffRequested(run_id, journey_id, step.id, step.handoff))
        if step.start is not None:
            data = {**self.run.data, **self.start_data(step)}
            self.events.append(JourneyStartRequested(run_id, journey_id, step.start, data))

    def start_data(self, step: Step) -> dict[str, Any]:
        variables = self.variables()
        return {
            name: render(value, variables) if isinstance(value, str) else value
            for name, value in step.start_data.items()
        }

    def route(self, step: Step) -> str | Literal[_Paused.PAUSED] | None:
        """Return the next step id, None to complete, or _PAUSED when the run stops here."""
        if step.action is not None:
            self.run.status = RunStatus.AWAITING_ACTION
            self.events.append(ActionRequested(self.run.id, self.journey.id, step.id, step.action))
            return _PAUSED
        if step.wait is not None:
            self.wait(step)
            return _PAUSED
        if step.delay is not None:
            zone = zone_of(self.ctx.contact, self.ctx.business)
            due = delay_due(step.delay, self.variables(), self.now, zone)
            # A time already past, or a date field the run does not have, does not hold it up.
            if due is None or due <= self.now:
                return step.next
            self.pause(step, due, RunStatus.DELAYED, "time")
            return _PAUSED
        if step.branch:
            variables = self.variables()
            for condition in step.branch:
                if condition.expression is None or evaluate(condition.expression, variables):
                    return condition.target
            return None
        if step.split:
            variant = choose_variant(self.run.id, step.id, step.split)
            self.events.append(SplitChosen(self.run.id, self.journey.id, step.id, variant))
            return variant
        return step.next

    def message(self, step: Step, template: Text) -> None:
        """Render a message for the contact's language and emit it, unless it renders empty."""
        language = self.ctx.contact.get("language")
        text = render(pick_text(template, language, self.journey.language), self.variables())
        self.say(step, text)

    def say(self, step: Step, text: str) -> None:
        """Emit a message from step, carrying its kind and sending policy; skip empty text."""
        if not text:
            return
        journey = self.journey
        quiet = journey.quiet_hours_of(step)
        self.events.append(
            MessageCreated(
                self.run.id,
                journey.id,
                step.id,
                text,
                journey.kind_of(step).value,
                quiet_hours=quiet.value if quiet is not None else "",
                when_capped=journey.when_capped_of(step).value,
            )
        )

    # -- pausing --------------------------------------------------------------------------

    def pause(self, step: Step, due: datetime | None, status: RunStatus, waiting_for: str) -> None:
        run = self.run
        run.status = status
        run.wait_seq += 1
        run.timeout_at = due
        self.events.append(
            WaitStarted(run.id, run.journey, step.id, run.wait_seq, due, waiting_for)
        )

    def wait(self, step: Step) -> None:
        """Start waiting for a reply: the first timer is the first reminder or the timeout."""
        assert step.wait is not None
        self.run.wait_started_at = self.now
        self.run.reminders_sent = 0
        self.pause(step, self.next_wake(step.wait), RunStatus.WAITING, "reply")

    def next_wake(self, wait: Wait) -> datetime | None:
        """Return when the current wait next needs the engine: a reminder or its timeout."""
        started = self.run.wait_started_at or self.now
        times = []
        if self.run.reminders_sent < len(wait.reminders):
            times.append(started + wait.reminders[self.run.reminders_sent].after)
        if wait.timeout is not None:
            times.append(started + wait.timeout)
        return min(times) if times else None

    def time_out(self, step: Step, wait: Wait) -> None:
        """Handle a wait's timer: send the next reminder, or take the timeout path."""
        run = self.run
        if run.wait_started_at is not None and run.reminders_sent < len(wait.reminders):
            reminder = wait.reminders[run.reminders_sent]
            if wait.timeout is None or reminder.after < wait.timeout:
                self.message(step, reminder.send)
                run.reminders_sent += 1
                self.pause(step, self.next_wake(wait), RunStatus.WAITING, "reply")
                return
        target = wait.on.get(TIMEOUT)
        if target is None:
            self.end(RunStatus.EXPIRED, "no reply before the timeout")
        else:
            self.walk(target)

    def answer(self, step: Step, wait: Wait, reply: Reply) -> None:
        """Follow the branch a reply picks: keyword, then rating range, then intent, then other."""
        word = _EDGES.sub("", reply.text).upper()
        target = wait.keywords.get(word) if word else None
        rating = rating_of(reply) if reply.intent == RATING else None
        if target is None and rating is not None:
            target = next((r.target for r in wait.ratings if r.matches(rating)), None)
        # "timeout", "other" and "clicked" are branch names, never intents a reply can carry.
        if target is None and reply.intent not in (TIMEOUT, OTHER, CLICKED):
            target = wait.on.get(reply.intent)
        target = target or wait.on.get(OTHER)
        if target is not None:
            self.walk(target)
        elif wait.retry is not None:
            self.message(step, wait.retry)

    def end(self, status: RunStatus, reason: str | None = None) -> None:
        run = self.run
        run.status = status
        run.ended_at = self.now
        run.timeout_at = None
        self.events.append(JourneyEnded(run.id, run.journey, status.value, reason))
