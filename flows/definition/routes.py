"""Read how a step moves on without a reply: `delay`, `branch` on a condition, or `split`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

import jinja2
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.definition.context import Context, FieldUse, line_of
from flows.definition.values import (
    is_null,
    kind_name,
    plain,
    read_clock,
    read_duration,
    read_field,
    read_mapping,
    read_pairs,
    read_text,
)
from flows.model import Condition, Delay
from flows.template import compile_condition, references, unknown_variables

DELAY_MODES = ("for", "until", "before", "after")
DELAY_KEYS = (*DELAY_MODES, "by")
BRANCH_RULE_KEYS = ("if", "goto", "else")


def read_delay(ctx: Context, node: Node | None) -> Delay | None:
    """Read `delay`: {for: 2h}, {until: "09:00"} or {before|after: event.x, by: 2h}."""
    if node is None:
        return None
    hint = '{for: 2h}, {until: "09:00"} or {before: event.appointment_at, by: 2h}'
    if not isinstance(node, MappingNode):
        ctx.error(node, f"`delay` must be a mapping like {hint}")
        return None
    keys = read_mapping(ctx, node, DELAY_KEYS, "delay")
    modes = [m for m in DELAY_MODES if m in keys]
    if len(modes) != 1:
        ctx.error(node, f"a `delay` needs exactly one of for, until, before, after: {hint}")
        return None
    mode, line = modes[0], line_of(node)
    if "by" in keys and mode in ("for", "until"):
        ctx.error(keys["by"], "`by` goes with `before` or `after`")
    if mode == "for":
        duration = read_duration(ctx, keys["for"])
        return None if duration is None else Delay("for", line, duration=duration)
    if mode == "until":
        at = read_clock(ctx, keys["until"], "until")
        return None if at is None else Delay("until", line, at=at)
    reference = read_field(ctx, keys[mode], mode)
    by = read_duration(ctx, keys["by"]) if "by" in keys else timedelta(0)
    if reference is None or by is None:
        return None
    return Delay(mode, line, duration=by, field=reference)


def read_branch(ctx: Context, node: Node | None, step_line: int) -> tuple[Condition, ...]:
    """Read `branch: [{if: expression, goto: step}, ..., {else: step}]`."""
    if node is None:
        return ()
    if not isinstance(node, SequenceNode) or not node.value:
        ctx.error(node, "`branch` must be a list like [{if: ..., goto: step}, {else: step}]")
        return ()
    out: list[Condition] = []
    for index, item in enumerate(node.value):
        last = index == len(node.value) - 1
        if not isinstance(item, MappingNode):
            ctx.error(item, "a branch rule must be {if: ..., goto: step} or {else: step}")
            continue
        keys = read_mapping(ctx, item, BRANCH_RULE_KEYS, "branch")
        if "else" in keys:
            if not last or len(keys) > 1:
                ctx.error(item, "`else` comes alone, as the last branch rule")
            target = read_text(ctx, keys["else"], "else")
            if target is not None:
                out.append(Condition(None, target, line_of(item)))
                ctx.edge_lines[(step_line, "branch", "else")] = line_of(keys["else"])
            continue
        if "if" not in keys or "goto" not in keys:
            ctx.error(item, "a branch rule needs `if` and `goto`")
            continue
        expression = _condition(ctx, keys["if"])
        target = read_text(ctx, keys["goto"], "goto")
        if expression is not None and target is not None:
            out.append(Condition(expression, target, line_of(item)))
            ctx.edge_lines[(step_line, "branch", expression)] = line_of(keys["goto"])
        if last:
            ctx.error(item, "`branch` needs a final `{else: step}` for when nothing holds")
    return tuple(out)


def _condition(ctx: Context, node: Node) -> str | None:
    """Read a branch condition: a Jinja expression over contact, event, run and business."""
    if isinstance(node, ScalarNode) and not is_null(node) and node.tag.endswith(":bool"):
        ctx.error(node, "`if` needs an expression such as contact.tier == 'gold'")
        return None
    text = read_text(ctx, node, "if")
    if text is None:
        return None
    try:
        compile_condition(text)
        unknown = unknown_variables("{{ (" + text + ") }}")
    except jinja2.TemplateSyntaxError as exc:
        ctx.error(node, f"bad condition {text!r}: {exc}")
        return None
    for name in unknown:
        ctx.error(node, f"unknown variable {name!r} in `if` (use contact, event, run, business)")
    ctx.uses.extend(FieldUse(line_of(node), "if", ref) for ref in references("{{ " + text + " }}"))
    return text


def read_split(ctx: Context, node: Node | None, step_line: int) -> Mapping[str, int]:
    """Read `split: {variant_a: 50, variant_b: 50}`: step ids and positive weights."""
    out: dict[str, int] = {}
    for key, value in read_pairs(ctx, node, "split", "{variant_a: 50, variant_b: 50}"):
        weight = plain(value) if isinstance(value, ScalarNode) else None
        if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
            shown = value.value if isinstance(value, ScalarNode) else kind_name(value)
            ctx.error(value, f"bad weight {shown!r} for {key.value!r}: use a whole number > 0")
            continue
        out[key.value] = weight
        ctx.edge_lines[(step_line, "split", key.value)] = line_of(key)
    if node is not None and isinstance(node, MappingNode) and len(node.value) < 2:
        ctx.error(node, "a `split` needs at least two variants")
    return MappingProxyType(out)
