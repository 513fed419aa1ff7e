"""Advance journey runs: pure functions from (run, journey, context, input) to (run, events)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flows.event_data import key_of
from flows.events import Event, FieldSet, JourneyEnded
from flows.model import CLICKED, OTHER, TIMEOUT, Journey
from flows.runner import MAX_STEPS, Runner
from flows.state import (
    OPEN_STATUSES,
    ActionResult,
    Click,
    Context,
    Input,
    Reply,
    Run,
    RunStatus,
    Timeout,
)
from nlu.intents import RATING

__all__ = [
    "MAX_STEPS",
    "OPEN_STATUSES",
    "ActionResult",
    "Click",
    "Context",
    "Input",
    "Reply",
    "Run",
    "RunStatus",
    "Timeout",
    "expecting",
    "interrupt",
    "resume",
    "start",
]


def start(
    journey: Journey,
    ctx: Context,
    data: Mapping[str, Any],
    run_id: str,
    event_id: str | None = None,
) -> tuple[Run, list[Event]]:
    """Start a run of journey with the triggering event's data and run it to its first pause.

    event_id names the API event that started it: the runs of one event share their results.
    """
    run = Run(
        id=run_id,
        journey=journey.id,
        step=journey.first.id,
        status=RunStatus.ACTIVE,
        started_at=ctx.now,
        data=dict(data),
        key=key_of(journey, data),
        event_id=event_id,
    )
    runner = Runner(run, journey, ctx)
    runner.walk(journey.first.id)
    return runner.result()


def resume(run: Run, journey: Journey, ctx: Context, input: Input) -> tuple[Run, list[Event]]:
    """Feed a reply, a timeout, an action's result or a click to a paused run; return a new
    run and events.

    An input the run is not paused for (a reply to a delayed run, a stale timeout, a click
    at a wait with no `clicked` branch) changes nothing and emits no events.
    """
    if run.journey != journey.id:
        raise ValueError(f"run {run.id!r} belongs to {run.journey!r}, not {journey.id!r}")
    if not isinstance(input, Reply | Timeout | ActionResult | Click):
        given = type(input).__name__
        raise TypeError(f"resume takes a Reply, Timeout, ActionResult or Click, not {given}")
    runner = Runner(run, journey, ctx)
    expected = {
        RunStatus.WAITING: (Reply, Timeout, Click),
        RunStatus.DELAYED: (Timeout,),
        RunStatus.AWAITING_ACTION: (ActionResult,),
    }.get(run.status, ())
    if not isinstance(input, expected):
        return runner.result()
    if isinstance(input, Timeout) and input.seq != run.wait_seq:
        return runner.result()
    # The journey file may have changed under a paused run: end it rather than strand it.
    if not journey.has_step(run.step):
        runner.end(RunStatus.EXPIRED, f"step {run.step!r} is no longer in the journey")
        return runner.result()
    step = journey.step(run.step)
    if run.status is RunStatus.WAITING:
        if step.wait is None:
            runner.end(RunStatus.EXPIRED, f"step {run.step!r} no longer waits for a reply")
        elif isinstance(input, Timeout):
            runner.time_out(step, step.wait)
        elif isinstance(input, Click):
            target = step.wait.on.get(CLICKED)
            if target is not None:
                runner.walk(target)
        else:
            assert isinstance(input, Reply)
            runner.answer(step, step.wait, input)
    elif run.status is RunStatus.DELAYED:
        if step.delay is None:
            runner.end(RunStatus.EXPIRED, f"step {run.step!r} no longer has a delay")
        else:
            runner.go_on(step)
    else:
        assert isinstance(input, ActionResult)
        for name, value in input.fields.items():
            runner.fields[name] = value
            runner.events.append(FieldSet(name, value))
        for text in input.messages:
            runner.say(step, text)
        runner.go_on(step)
    return runner.result()


def interrupt(
    run: Run, ctx: Context, status: RunStatus = RunStatus.INTERRUPTED, reason: str | None = None
) -> tuple[Run, list[Event]]:
    """End an open run from outside (opt-out, staff, an exit event); closed runs stay closed."""
    if status in OPEN_STATUSES:
        raise ValueError(f"interrupt needs a closed status, not {status.value!r}")
    new = replace(run, data=dict(run.data), results=dict(run.results))
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
    names = {name for name in wait.on if name not in (TIMEOUT, OTHER, CLICKED)}
    return frozenset(names | ({RATING} if wait.ratings else set()))
