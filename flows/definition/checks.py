"""Check how a journey fits together: links, reachability, loops, fields and started journeys."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from flows.definition.context import Context, FieldUse, JourneyError
from flows.model import CONTACT_ATTRIBUTES, Edge, Journey, Step
from flows.results import result_name

# report(line, message)
Report = Callable[[int, str], None]
EdgeLines = Mapping[tuple[int, str, str], int]


def check_journey(
    ctx: Context, steps: Sequence[Step], fields: frozenset[str] | None, complete: bool
) -> None:
    """Check what was read of one journey as a whole, recording mistakes in the context.

    complete says whether every step had an id: without them the first step and the
    links are unknown, so reachability is not checked (it would only add noise).
    """
    check_links(steps, ctx.edge_lines, ctx.error)
    check_loops(steps, ctx.error)
    if complete:
        check_reachable(steps, ctx.error)
    check_fields(ctx.uses, fields, ctx.defaults, steps, ctx.error)


def edge_line(step: Step, edge: Edge, lines: EdgeLines) -> int:
    """Return the file line where an edge's target is written."""
    kind = "next" if edge.kind in ("delay", "action") else edge.kind
    return lines.get((step.line, kind, edge.key), step.line)


def _describe(edge: Edge) -> str:
    if edge.kind in ("next", "delay", "action"):
        return "`next`"
    if edge.kind in ("reply", "timeout"):
        return f"branch {edge.key!r}"
    if edge.kind == "branch":
        return "`else`" if edge.key == "else" else f"`goto` (if {edge.key})"
    return f"{edge.kind} {edge.key!r}"


def check_links(steps: Sequence[Step], lines: EdgeLines, report: Report) -> None:
    """Flag every edge that points at a missing step."""
    ids = {step.id for step in steps}
    for step in steps:
        for edge in step.edges():
            if edge.target in ids:
                continue
            line = edge_line(step, edge, lines)
            if edge.kind == "split":
                report(line, f"step {step.id!r}: split variant {edge.key!r} is not a step")
            else:
                message = f"{_describe(edge)} points at missing step {edge.target!r}"
                report(line, f"step {step.id!r}: {message}")


def check_reachable(steps: Sequence[Step], report: Report) -> None:
    """Flag steps that no path from the first step leads to."""
    if not steps:
        return
    by_id = {step.id: step for step in steps}
    seen = {steps[0].id}
    todo = [steps[0]]
    while todo:
        for edge in todo.pop().edges():
            if edge.target in by_id and edge.target not in seen:
                seen.add(edge.target)
                todo.append(by_id[edge.target])
    for step in steps:
        if step.id not in seen:
            message = f"step {step.id!r} cannot be reached from the first step {steps[0].id!r}"
            report(step.line, message)


def _immediate(step: Step) -> list[str]:
    """Return the steps a run goes on to within the same call (no wait, delay or action)."""
    if step.pauses or step.end:
        return []
    return [edge.target for edge in step.edges()]


def check_loops(steps: Sequence[Step], report: Report) -> None:
    """Flag loops a run could go round without ever pausing."""
    following = {step.id: _immediate(step) for step in steps}
    reported: set[str] = set()
    for step in steps:
        if step.id in reported:
            continue
        path = _path_back(step.id, following)
        if path is not None:
            reported.update(path)
            report(step.line, f"steps loop without a wait or delay: {' -> '.join(path)}")


def _path_back(start: str, following: Mapping[str, list[str]]) -> list[str] | None:
    """Return the shortest path from start back to itself, or None."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        later = []
        for current in frontier:
            for target in following.get(current, []):
                if target == start:
                    path = [current]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if target not in parents and target in following:
                    parents[target] = current
                    later.append(target)
        frontier = later
    return None


def check_fields(
    uses: Iterable[FieldUse],
    declared: frozenset[str] | None,
    defaults: Mapping[str, Any],
    steps: Sequence[Step],
    report: Report,
) -> None:
    """Flag contact and event fields used but neither declared in `fields` nor defaulted."""
    if declared is None:
        return
    known = set(declared) | set(defaults)
    known |= {f"contact.{name}" for name in CONTACT_ATTRIBUTES}
    known |= {f"contact.{name}" for step in steps for name in step.set}
    for line, what, reference in uses:
        holder = reference.partition(".")[0]
        if holder in ("contact", "event") and reference not in known:
            report(
                line,
                f"`{what}` uses {reference}, which `fields` does not declare "
                "and `defaults` does not cover",
            )


def check_starts(journeys: Mapping[str, Journey], known: set[str]) -> list[JourneyError]:
    """Flag `start:` steps that name a journey neither loaded nor known."""
    errors = []
    for journey in journeys.values():
        for step in journey.steps:
            if step.start is not None and step.start not in journeys and step.start not in known:
                message = f"step {step.id!r}: `start` names unknown journey {step.start!r}"
                errors.append(JourneyError(journey.path, step.line, message))
    return errors


def check_clicks(
    journeys: Mapping[str, Journey], known: Mapping[str, Journey]
) -> list[JourneyError]:
    """Flag click triggers that name a journey, or a step of it, neither loaded nor known."""
    errors = []
    for journey in journeys.values():
        for trigger in journey.triggers_of("click"):
            name, step = trigger.params.get("journey"), trigger.params.get("step")
            if name is None or step is None:
                continue
            target = journeys.get(name) or known.get(name)
            if target is None:
                message = f"`click` names unknown journey {name!r}"
            elif not target.has_step(step):
                message = f"`click` names step {step!r}, which journey {name!r} does not have"
            elif target.step(step).send is None and target.step(step).wait is None:
                message = f"`click` names step {name}/{step}, which sends no message"
            else:
                continue
            errors.append(JourneyError(journey.path, trigger.line, message))
    return errors


def check_results(
    steps: Sequence[Step],
    uses: Iterable[tuple[int, str, str]],
    declared: frozenset[str] | None,
    report: Report,
) -> None:
    """Flag bad `set: {run.x}` names, and `run.x` read but neither set here nor declared."""
    saved: set[str] = set()
    for step in steps:
        for name in step.set:
            result = result_name(name)
            if result is None:
                continue
            if result.isidentifier():
                saved.add(result)
            else:
                message = f"{name!r} in `set` must be run and a field name, like run.status"
                report(step.line, f"step {step.id!r}: {message}")
    # Like contact and event fields, values are checked once the journey declares `fields`.
    if declared is None:
        return
    for line, what, reference in uses:
        result = result_name(reference)
        if result is not None and result not in saved and reference not in declared:
            message = f"`{what}` uses {reference}, which no step sets and `fields` does not declare"
            report(line, message)
