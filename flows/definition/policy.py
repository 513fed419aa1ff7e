"""Read and check how a journey's messages are sent: quiet hours and frequency caps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import time

from yaml.nodes import Node

from flows.definition.context import Context
from flows.definition.values import read_choice
from flows.model import JourneyKind, QuietHours, Step, Trigger, WhenCapped

# The widest quiet window any recipient's rules set, in their local time: the TCPA keeps
# 21:00-08:00 quiet, and Florida and Oklahoma start at 20:00. A marketing send fixed
# inside it is held for some recipients at least, whatever QUIET_HOURS the bot runs with.
STRICTEST_QUIET: tuple[time, time] = (time(20), time(8))

ALWAYS_WAITS = "marketing messages always wait out quiet hours"


def read_quiet_hours(ctx: Context, node: Node | None) -> QuietHours | None:
    """Read `quiet_hours: respect | ignore`; None when not said."""
    return read_choice(ctx, node, QuietHours, "quiet_hours")


def read_when_capped(ctx: Context, node: Node | None) -> WhenCapped | None:
    """Read `when_capped: defer | skip`; None when not said."""
    return read_choice(ctx, node, WhenCapped, "when_capped")


def in_strictest_quiet(moment: time) -> bool:
    """Tell whether a local time of day falls in the strictest quiet window."""
    start, end = STRICTEST_QUIET
    return moment >= start or moment < end


def check_policy(
    ctx: Context,
    kind: JourneyKind,
    quiet: QuietHours | None,
    capped: WhenCapped | None,
    top: Mapping[str, Node],
    steps: Sequence[Step],
) -> None:
    """Flag quiet hours ignored by marketing messages, and caps set where none apply.

    quiet and capped are the journey's own settings, top its keys (for their lines);
    a step's lines are in ctx.key_lines.
    """
    transactional = kind is JourneyKind.TRANSACTIONAL
    if quiet is QuietHours.IGNORE and kind is JourneyKind.MARKETING:
        # One error for the journey, not one more for each of its steps.
        said = "" if "kind" in top else " (a journey without `kind` is marketing)"
        ctx.error(
            top["quiet_hours"],
            f"`quiet_hours: ignore` on a marketing journey{said}: {ALWAYS_WAITS}",
        )
    for step in steps:
        marketing = (step.kind or kind) is JourneyKind.MARKETING
        if marketing and step.quiet_hours is QuietHours.IGNORE:
            ctx.error(
                ctx.key_lines.get((step.line, "quiet_hours"), step.line),
                f"step {step.id!r}: `quiet_hours: ignore` on a marketing step: {ALWAYS_WAITS}",
            )
        elif marketing and transactional and quiet is QuietHours.IGNORE and not step.quiet_hours:
            # A marketing step of a transactional journey would inherit the journey's `ignore`.
            ctx.error(
                ctx.key_lines.get((step.line, "kind"), step.line),
                f"step {step.id!r} is `kind: marketing`, and the journey's `quiet_hours: ignore` "
                f"would apply to it: {ALWAYS_WAITS}; give the step `quiet_hours: respect`",
            )
        if step.when_capped is not None and not marketing:
            ctx.warn(
                ctx.key_lines.get((step.line, "when_capped"), step.line),
                f"step {step.id!r}: `when_capped` does nothing on a transactional step: "
                "frequency caps count marketing messages only",
            )
    if capped is not None and transactional and not any(_is_marketing(s) for s in steps):
        ctx.warn(
            top["when_capped"],
            "`when_capped` does nothing on a transactional journey: frequency caps "
            "count marketing messages only",
        )


def warn_quiet_sends(
    ctx: Context, kind: JourneyKind, triggers: Iterable[Trigger], steps: Sequence[Step]
) -> None:
    """Warn where a fixed time of day in the strictest quiet window leads to marketing sends."""
    if not steps:
        return
    start, end = (f"{moment:%H:%M}" for moment in STRICTEST_QUIET)
    window = f"inside quiet hours (the strictest rules keep {start}-{end} quiet)"
    for trigger in triggers:
        at = trigger.params.get("at") if trigger.kind == "schedule" else None
        if at is None or not in_strictest_quiet(at):
            continue
        sends = marketing_sends(steps[0].id, steps, kind)
        if sends:
            ctx.warn(
                trigger.line,
                f"the schedule starts runs at {at:%H:%M} in the business's time zone, {window}: "
                f"the marketing {_listed(sends)}, sent right away, will be held until quiet hours "
                f"end, {end} at the latest, for recipients in that zone; "
                f"pick a time between {end} and {start}",
            )
    for step in steps:
        delay = step.delay
        if delay is None or delay.mode != "until" or delay.at is None or step.next is None:
            continue
        if not in_strictest_quiet(delay.at):
            continue
        sends = marketing_sends(step.next, steps, kind)
        if sends:
            ctx.warn(
                delay.line,
                f"step {step.id!r} waits until {delay.at:%H:%M} local time, {window}: "
                f"the marketing {_listed(sends)}, sent right after, will be held until quiet "
                f"hours end, {end} at the latest; pick a time between {end} and {start}",
            )


def marketing_sends(first: str, steps: Sequence[Step], kind: JourneyKind) -> list[str]:
    """Return the steps whose marketing `send` goes out at once when a run arrives at first.

    A run goes on through steps that do not pause; a step that pauses still sends its own
    message on arrival, and what comes after it goes out later.
    """
    by_id = {step.id: step for step in steps}
    seen: set[str] = set()
    todo = [first]
    found: list[str] = []
    while todo:
        step = by_id.get(todo.pop(0))
        if step is None or step.id in seen:
            continue
        seen.add(step.id)
        if step.send is not None and (step.kind or kind) is JourneyKind.MARKETING:
            found.append(step.id)
        if not (step.pauses or step.end):
            todo.extend(edge.target for edge in step.edges())
    return found


def _is_marketing(step: Step) -> bool:
    return step.kind is JourneyKind.MARKETING


def _listed(step_ids: Sequence[str]) -> str:
    names = ", ".join(repr(step_id) for step_id in step_ids)
    return f"message of step {names}" if len(step_ids) == 1 else f"messages of steps {names}"
