"""Read a journey's steps: what each does, and which one way on it takes."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.definition.context import Context, line_of
from flows.definition.messages import read_message, read_template
from flows.definition.policy import read_quiet_hours, read_when_capped
from flows.definition.routes import read_branch, read_delay, read_split
from flows.definition.settings import read_kind
from flows.definition.values import (
    is_null,
    kind_name,
    plain,
    read_flag,
    read_mapping,
    read_pairs,
    read_scalars,
    read_text,
    read_words,
)
from flows.definition.waits import read_wait
from flows.model import STAGES, Step

STEP_KEYS = (
    "id", "stage", "kind", "send", "set", "tag", "untag", "consent", "goal", "handoff", "start",
    "data",
    "action", "wait", "delay", "branch", "split", "next", "end", "quiet_hours", "when_capped",
)  # fmt: skip
HANDOFF_KEYS = ("reason",)
CONSENT_PURPOSES = ("marketing",)
# Keys that decide where a run goes after a step; only some may be combined.
ROUTES = ("wait", "delay", "branch", "split", "action")


def read_steps(ctx: Context, node: Node | None, root: Node) -> tuple[tuple[Step, ...], bool]:
    """Read the step list; return the steps and whether every step had an id."""
    if node is None:
        ctx.error(root, "missing `steps`")
        return (), True
    if not isinstance(node, SequenceNode) or not node.value:
        ctx.error(node, "`steps` must be a non-empty list of steps")
        return (), True
    steps: list[Step] = []
    lines: dict[str, int] = {}
    complete = True
    for item in node.value:
        step = read_step(ctx, item)
        if step is None:
            complete = False
            continue
        if step.id in lines:
            ctx.error(step.line, f"duplicate step id {step.id!r} (first at line {lines[step.id]})")
            continue
        lines[step.id] = step.line
        steps.append(step)
    return tuple(steps), complete


def read_step(ctx: Context, node: Node) -> Step | None:
    """Read one step; return None when it has no usable id."""
    if not isinstance(node, MappingNode):
        ctx.error(node, f"a step must be a mapping with an id, not {kind_name(node)}")
        return None
    keys = read_mapping(ctx, node, STEP_KEYS, "step")
    step_id = read_text(ctx, keys.get("id"), "id")
    if "id" not in keys:
        ctx.error(node, "step is missing `id`")
    line = line_of(keys["id"]) if "id" in keys else line_of(node)
    stage = read_text(ctx, keys.get("stage"), "stage")
    if stage is not None and stage not in STAGES:
        ctx.error(keys["stage"], f"unknown stage {stage!r} (allowed: {', '.join(STAGES)})")
    kind = read_kind(ctx, keys.get("kind"))
    start = read_text(ctx, keys.get("start"), "start")
    consent = read_text(ctx, keys.get("consent"), "consent")
    if consent is not None and consent not in CONSENT_PURPOSES:
        allowed = ", ".join(CONSENT_PURPOSES)
        ctx.error(keys["consent"], f"unknown consent {consent!r} (allowed: {allowed})")
    if "data" in keys and "start" not in keys:
        ctx.error(keys["data"], "`data` goes with `start`, the journey it is handed to")
    end = read_flag(ctx, keys.get("end"), "end")
    _check_routes(ctx, keys, end)
    # A step without an id is still read through, for its mistakes, then dropped; its keys
    # are read in this order, which is the order their mistakes on one line are listed in.
    step = Step(
        step_id or "",
        line,
        stage=stage,
        kind=kind,
        send=read_message(ctx, keys.get("send"), "send"),
        set=read_scalars(ctx, keys.get("set"), "set", "{appointment_status: confirmed}"),
        tag=read_words(ctx, keys.get("tag"), "tag"),
        untag=read_words(ctx, keys.get("untag"), "untag"),
        consent=consent,
        goal=read_text(ctx, keys.get("goal"), "goal"),
        handoff=_handoff(ctx, keys.get("handoff")),
        start=start,
        start_data=_start_data(ctx, keys.get("data")),
        action=read_text(ctx, keys.get("action"), "action"),
        wait=read_wait(ctx, keys.get("wait"), line),
        delay=read_delay(ctx, keys.get("delay")),
        branch=read_branch(ctx, keys.get("branch"), line),
        split=read_split(ctx, keys.get("split"), line),
        next=read_text(ctx, keys.get("next"), "next"),
        end=end,
        quiet_hours=read_quiet_hours(ctx, keys.get("quiet_hours")),
        when_capped=read_when_capped(ctx, keys.get("when_capped")),
    )
    if "next" in keys:
        ctx.edge_lines[(line, "next", "next")] = line_of(keys["next"])
    for name in ("kind", "quiet_hours", "when_capped"):
        if name in keys:
            ctx.key_lines[(line, name)] = line_of(keys[name])
    return None if step_id is None else step


def _check_routes(ctx: Context, keys: Mapping[str, Node], end: bool) -> None:
    """Flag keys that cannot go together: one way on from a step."""
    routes = [k for k in ROUTES if k in keys]
    if len(routes) > 1:
        listed = " and ".join(f"`{k}`" for k in routes)
        ctx.error(keys[routes[1]], f"a step cannot have both {listed}: split it in two steps")
    if "next" in keys and routes and routes[0] in ("wait", "branch", "split"):
        hint = {
            "wait": "use a wait branch such as `timeout`",
            "branch": "use `else`",
            "split": "each variant is where a run goes",
        }[routes[0]]
        ctx.error(keys["next"], f"a step cannot have both `next` and `{routes[0]}`: {hint}")
    if "delay" in keys and "next" not in keys:
        ctx.error(keys["delay"], "a `delay` needs `next`: the step to go on to afterwards")
    clash = [k for k in ("next", *ROUTES) if k in keys]
    if end and clash:
        listed = ", ".join(f"`{k}`" for k in clash)
        ctx.error(keys["end"], f"a step with `end: true` cannot also have {listed}")


def _handoff(ctx: Context, node: Node | None) -> str | None:
    """Read `handoff: reason` or `handoff: {reason: ...}` into the reason."""
    if node is None:
        return None
    if isinstance(node, MappingNode):
        keys = read_mapping(ctx, node, HANDOFF_KEYS, "handoff")
        if "reason" not in keys:
            ctx.error(node, "`handoff` needs a `reason`")
        return read_text(ctx, keys.get("reason"), "reason")
    return read_text(ctx, node, "handoff")


def _start_data(ctx: Context, node: Node | None) -> Mapping[str, Any]:
    """Read `data:` for `start`: values, where text may be a template."""
    out: dict[str, Any] = {}
    for key, value in read_pairs(ctx, node, "data", '{order_id: "{{ event.order_id }}"}'):
        if not isinstance(value, ScalarNode) or is_null(value):
            ctx.error(value, f"`data` value for {key.value!r} must be a single value")
            continue
        found = plain(value)
        if isinstance(found, str):
            found = read_template(ctx, value, "data", sent=False)
        out[key.value] = found
    return MappingProxyType(out)
