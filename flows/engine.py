"""Advance journey runs: pure functions from (run, journey, context, input) to (run, events)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from flows.events import (
    Event,
    FieldSet,
    GoalReached,
    HandoffRequested,
    JourneyEnded,
    MessageCreated,
    StageChanged,
    WaitStarted,
)
from flows.model import OTHER, TIMEOUT, Journey, Step
from flows.template import render

# Steps one call may run before it gives up on a journey that never waits.
MAX_STEPS = 50


class RunStatus(StrEnum):
    """Where a run is in its life: open (active, waiting) or closed."""

    ACTIVE = "active"
    WAITING = "waiting"
    COMPLETED = "completed"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"


OPEN_STATUSES = frozenset({RunStatus.ACTIVE, RunStatus.WAITING})


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass
class Run:
    """One contact's trip through one journey."""

    id: str
    journey: str
    step: str
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None = None
    wait_seq: int = 0
    timeout_at: datetime | None = None
    data: dict = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        """Tell whether the run can still move (active or waiting)."""
        return self.status in OPEN_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """Return the run as a JSON-safe dict."""
        return {
            "id": self.id,
            "journey": self.journey,
            "step": self.step,
            "status": self.status.value,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "wait_seq": self.wait_seq,
            "timeout_at": self.timeout_at.isoformat() if self.timeout_at else None,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Run:
        """Rebuild a run from to_dict() output."""
        return cls(
            id=d["id"],
            journey=d["journey"],
            step=d["step"],
            status=RunStatus(d["status"]),
            started_at=datetime.fromisoformat(d["started_at"]),
            ended_at=_time(d.get("ended_at")),
            wait_seq=int(d.get("wait_seq", 0)),
            timeout_at=_time(d.get("timeout_at")),
            data=dict(d.get("data") or {}),
        )


@dataclass(frozen=True)
class Context:
    """What the engine may know about the world: the contact, the business and the time."""

    # phone, fields (dict), language, timezone (IANA name), stage
    contact: Mapping[str, Any]
    business: Mapping[str, Any]
    now: datetime


@dataclass(frozen=True)
class Reply:
    """A parsed inbound message."""

    intent: str
    text: str = ""
    entities: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Timeout:
    """A scheduled wake-up for the wait numbered seq."""

    seq: int


class _Turn:
    """One call's scratch space: a copy of the run, the events so far, the contact as updated."""

    def __init__(self, run: Run, journey: Journey, ctx: Context) -> None:
        self.run = replace(run, data=dict(run.data))
        self.journey = journey
        self.ctx = ctx
        self.events: list[Event] = []
        self.fields: dict[str, Any] = dict(ctx.contact.get("fields") or {})
        self.stage = ctx.contact.get("stage")

    def result(self) -> tuple[Run, list[Event]]:
        return self.run, self.events

    def variables(self) -> dict[str, Any]:
        contact = self.ctx.contact
        return {
            "contact": {
                **self.fields,
                "phone": contact.get("phone"),
                "language": contact.get("language"),
                "timezone": contact.get("timezone"),
                "stage": self.stage,
            },
            "event": self.run.data,
            "business": dict(self.ctx.business),
        }

    def walk(self, step_id: str) -> None:
        """Run steps from step_id until one waits or the run ends."""
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
            if step.wait is not None:
                self.wait(step)
                return
            if step.next is None:
                break
            step_id = step.next
        else:
            self.end(RunStatus.EXPIRED, f"ran {MAX_STEPS} steps without waiting: the steps loop")
            return
        self.end(RunStatus.COMPLETED)

    def perform(self, step: Step) -> None:
        run_id, journey_id = self.run.id, self.journey.id
        if step.stage is not None:
            self.stage = step.stage
            self.events.append(StageChanged(step.stage))
        for name, value in step.set.items():
            self.fields[name] = value
            self.events.append(FieldSet(name, value))
        if step.send is not None:
            self.message(step.id, step.send)
        if step.goal is not None:
            self.events.append(GoalReached(run_id, journey_id, step.goal))
        if step.handoff is not None:
            self.events.append(HandoffRequested(run_id, journey_id, step.id, step.handoff))

    def message(self, step_id: str, template: str) -> None:
        text = render(template, self.variables())
        # A template that renders to nothing has nothing to send.
        if text:
            kind = self.journey.kind.value
            self.events.append(MessageCreated(self.run.id, self.journey.id, step_id, text, kind))

    def wait(self, step: Step) -> None:
        assert step.wait is not None
        run = self.run
        run.status = RunStatus.WAITING
        run.wait_seq += 1
        run.timeout_at = self.ctx.now + step.wait.timeout if step.wait.timeout else None
        self.events.append(WaitStarted(run.id, run.journey, step.id, run.wait_seq, run.timeout_at))

    def end(self, status: RunStatus, reason: str | None = None) -> None:
        run = self.run
        run.status = status
        run.ended_at = self.ctx.now
        run.timeout_at = None
        self.events.append(JourneyEnded(run.id, run.journey, status.value, reason))


def start(
    journey: Journey, ctx: Context, data: Mapping[str, Any], run_id: str
) -> tuple[Run, list[Event]]:
    """Start a run of journey with the triggering event's data and run it to its first wait."""
    run = Run(
        id=run_id,
        journey=journey.id,
        step=journey.first.id,
        status=RunStatus.ACTIVE,
        started_at=ctx.now,
        data=dict(data),
    )
    turn = _Turn(run, journey, ctx)
    turn.walk(journey.first.id)
    return turn.result()


def resume(
    run: Run, journey: Journey, ctx: Context, input: Reply | Timeout
) -> tuple[Run, list[Event]]:
    """Feed a reply or a timeout to a waiting run; return a new run and the events."""
    if run.journey != journey.id:
        raise ValueError(f"run {run.id!r} belongs to {run.journey!r}, not {journey.id!r}")
    if not isinstance(input, Reply | Timeout):
        raise TypeError(f"resume takes a Reply or a Timeout, not {type(input).__name__}")
    turn = _Turn(run, journey, ctx)
    if run.status is not RunStatus.WAITING:
        return turn.result()
    # The journey file may have changed under a waiting run: end it rather than strand it.
    if not journey.has_step(run.step):
        turn.end(RunStatus.EXPIRED, f"step {run.step!r} is no longer in the journey")
        return turn.result()
    step = journey.step(run.step)
    wait = step.wait
    if wait is None:
        turn.end(RunStatus.EXPIRED, f"step {run.step!r} no longer waits for a reply")
        return turn.result()
    if isinstance(input, Timeout):
        if input.seq != run.wait_seq:
            return turn.result()
        target = wait.on.get(TIMEOUT)
        if target is None:
            turn.end(RunStatus.EXPIRED, "no reply before the timeout")
        else:
            turn.walk(target)
        return turn.result()
    # "timeout" and "other" are branch names, never intents a reply can carry.
    target = None if input.intent in (TIMEOUT, OTHER) else wait.on.get(input.intent)
    target = target or wait.on.get(OTHER)
    if target is not None:
        turn.walk(target)
    elif wait.retry is not None:
        turn.message(step.id, wait.retry)
    return turn.result()


def interrupt(
    run: Run, ctx: Context, status: RunStatus = RunStatus.INTERRUPTED, reason: str | None = None
) -> tuple[Run, list[Event]]:
    """End an open run from outside (opt-out, staff, a newer run); closed runs stay as they are."""
    if status in OPEN_STATUSES:
        raise ValueError(f"interrupt needs a closed status, not {status.value!r}")
    new = replace(run, data=dict(run.data))
    if not run.is_open:
        return new, []
    new.status = status
    new.ended_at = ctx.now
    new.timeout_at = None
    return new, [JourneyEnded(new.id, new.journey, status.value, reason)]


def expecting(run: Run, journey: Journey) -> frozenset[str]:
    """Return the intents the run's current wait branches on (not timeout or other)."""
    if run.status is not RunStatus.WAITING or not journey.has_step(run.step):
        return frozenset()
    wait = journey.step(run.step).wait
    if wait is None:
        return frozenset()
    return frozenset(name for name in wait.on if name not in (TIMEOUT, OTHER))
