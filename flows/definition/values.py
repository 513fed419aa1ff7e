"""Read YAML nodes into plain values, recording every mistake in the context with its line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.definition.context import Context, FieldUse, line_of

_DURATION = re.compile(r"([+-])?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_NULL_TAG = "tag:yaml.org,2002:null"
DURATION_HINT = "use a number and a unit, like 30s, 15m, 24h, 2d or 1h30m"


def parse_offset(text: str) -> timedelta | None:
    """Parse a duration with an optional sign ("-24h", "+1d"); None when it is not one."""
    match = _DURATION.fullmatch(text.strip())
    if not match or not any(match.groups()[1:]):
        return None
    sign, *parts = match.groups()
    days, hours, minutes, seconds = (int(g or 0) for g in parts)
    value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return -value if sign == "-" else value


def parse_duration(text: str) -> timedelta | None:
    """Parse "30s", "15m", "24h", "2d" or "1h30m"; return None when it is not one."""
    if text.strip().startswith(("+", "-")):
        return None
    return parse_offset(text)


def kind_name(node: Node) -> str:
    """Describe what a node holds, for error messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "nothing" if is_null(node) else f"{node.value!r}"


def is_null(node: Node | None) -> bool:
    """Tell whether a node is missing or YAML null."""
    return node is None or node.tag == _NULL_TAG


def plain(node: ScalarNode) -> Any:
    """Return a scalar as YAML reads it, keeping dates and the like as the text written."""
    value = yaml.SafeLoader("").construct_object(node)
    # Field values travel as JSON: anything beyond these stays as written.
    return value if isinstance(value, str | int | float | bool | None) else node.value


def read_mapping(
    ctx: Context, node: MappingNode, allowed: tuple[str, ...], what: str
) -> dict[str, Node]:
    """Return key -> value node, flagging unknown and repeated keys."""
    out: dict[str, Node] = {}
    for key, value in node.value:
        if not isinstance(key, ScalarNode):
            ctx.error(key, f"{what} keys must be plain words")
            continue
        if key.value not in allowed:
            ctx.error(key, f"unknown {what} key {key.value!r} (allowed: {', '.join(allowed)})")
        elif key.value in out:
            ctx.error(key, f"{what} key {key.value!r} appears twice")
        else:
            out[key.value] = value
    return out


def read_pairs(
    ctx: Context, node: Node | None, what: str, hint: str
) -> list[tuple[ScalarNode, Node]]:
    """Return a mapping's (key node, value node) pairs, flagging a non-mapping."""
    if node is None:
        return []
    if not isinstance(node, MappingNode):
        ctx.error(node, f"`{what}` must be a mapping, like {hint}")
        return []
    out = []
    seen: set[str] = set()
    for key, value in node.value:
        if not isinstance(key, ScalarNode) or is_null(key) or not key.value.strip():
            ctx.error(key, f"`{what}` keys must be plain words")
        elif key.value in seen:
            ctx.error(key, f"`{what}` key {key.value!r} appears twice")
        else:
            seen.add(key.value)
            out.append((key, value))
    return out


def read_text(ctx: Context, node: Node | None, what: str) -> str | None:
    """Return a scalar's text, or None (with an error) when it is not non-empty text."""
    if node is None:
        return None
    if not isinstance(node, ScalarNode) or is_null(node) or not node.value.strip():
        ctx.error(node, f"`{what}` must be text, not {kind_name(node)}")
        return None
    return node.value


def read_words(ctx: Context, node: Node | None, what: str) -> tuple[str, ...]:
    """Read one word or a list of words."""
    if node is None:
        return ()
    items = node.value if isinstance(node, SequenceNode) else [node]
    if not items:
        ctx.error(node, f"`{what}` must name at least one")
    out = []
    for item in items:
        word = read_text(ctx, item, what)
        if word is not None:
            out.append(word.strip())
    return tuple(out)


def read_flag(ctx: Context, node: Node | None, what: str) -> bool:
    """Read a true/false value."""
    if node is None:
        return False
    value = yaml.SafeLoader("").construct_object(node) if isinstance(node, ScalarNode) else None
    if not isinstance(value, bool):
        ctx.error(node, f"`{what}` must be true or false")
        return False
    return value


def read_duration(ctx: Context, node: Node | None) -> timedelta | None:
    """Read a positive duration such as 24h or 1h30m."""
    if node is None:
        return None
    text = node.value if isinstance(node, ScalarNode) else ""
    value = parse_duration(text)
    if value is None or value <= timedelta(0):
        ctx.error(node, f"bad duration {text!r}: {DURATION_HINT}")
        return None
    return value


def read_offset(ctx: Context, node: Node | None) -> timedelta:
    """Read a duration that may be negative (before) or zero."""
    if node is None:
        return timedelta(0)
    text = node.value if isinstance(node, ScalarNode) else ""
    value = parse_offset(text) if text.strip() not in ("0", "+0", "-0") else timedelta(0)
    if value is None:
        ctx.error(node, f"bad offset {text!r}: {DURATION_HINT}, with - for before")
        return timedelta(0)
    return value


def read_clock(ctx: Context, node: Node | None, what: str) -> time | None:
    """Read a time of day written "HH:MM"."""
    text = read_text(ctx, node, what)
    match = _CLOCK.fullmatch(text.strip()) if text else None
    if text is not None and match is None:
        assert node is not None
        ctx.error(node, f'bad time {text!r} in `{what}`: write it as HH:MM, like "09:30"')
    return time(int(match.group(1)), int(match.group(2))) if match else None


def read_field(ctx: Context, node: Node | None, what: str) -> str | None:
    """Read "event.x" or "contact.x" and note the field as used."""
    text = read_text(ctx, node, what)
    if text is None or node is None:
        return None
    holder, _, name = text.strip().partition(".")
    if holder not in ("event", "contact") or not name.isidentifier():
        ctx.error(node, f"`{what}` must name a field like event.appointment_at or contact.x")
        return None
    ctx.uses.append(FieldUse(line_of(node), what, text.strip()))
    return text.strip()


def read_scalars(ctx: Context, node: Node | None, what: str, hint: str) -> Mapping[str, Any]:
    """Read a mapping of names to single values."""
    out: dict[str, Any] = {}
    for key, value in read_pairs(ctx, node, what, hint):
        if not isinstance(value, ScalarNode):
            ctx.error(value, f"`{what}` value for {key.value!r} must be a single value")
            continue
        out[key.value] = plain(value)
    return MappingProxyType(out)


Choice = TypeVar("Choice", bound=StrEnum)


def read_choice(
    ctx: Context, node: Node | None, choices: type[Choice], what: str, label: str = ""
) -> Choice | None:
    """Read one of an enum's values for key `what`; None when absent or unknown.

    An unknown value is an error naming it as `label` (default: the key in backquotes).
    """
    text = read_text(ctx, node, what)
    if text is None:
        return None
    try:
        return choices(text)
    except ValueError:
        assert node is not None
        allowed = ", ".join(choice.value for choice in choices)
        ctx.error(node, f"unknown {label or f'`{what}`'} {text!r} (allowed: {allowed})")
        return None
