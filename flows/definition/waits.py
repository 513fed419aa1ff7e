"""Read a step's `wait`: its timeout, the branches replies take, retry text and reminders."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.definition.context import Context, line_of
from flows.definition.messages import read_message
from flows.definition.triggers import read_keywords
from flows.definition.values import is_null, read_duration, read_mapping, read_pairs, read_text
from flows.model import CLICKED, OTHER, TIMEOUT, RatingRange, Reminder, Wait
from flows.model import format_duration as _fmt
from nlu.intents import INTENTS

WAIT_KEYS = ("timeout", "on", "rating", "keywords", "retry", "reminders")
REMINDER_KEYS = ("after", "send")
BRANCH_KEYS = frozenset(INTENTS | {TIMEOUT, OTHER, CLICKED})
_RATING = re.compile(r"(>=|<=|>|<|=)?\s*(\d+)|(\d+)\s*-\s*(\d+)")


def read_wait(ctx: Context, node: Node | None, step_line: int) -> Wait | None:
    """Read `wait`: its timeout, branches, retry text and reminders."""
    if node is None:
        return None
    if not isinstance(node, MappingNode):
        ctx.error(node, "`wait` must be a mapping with `on` and a `timeout`")
        return None
    keys = read_mapping(ctx, node, WAIT_KEYS, "wait")
    timeout_node = keys.get("timeout")
    never = isinstance(timeout_node, ScalarNode) and timeout_node.value == "never"
    timeout = None
    if is_null(timeout_node):
        ctx.error(
            timeout_node or node,
            "a `wait` needs a `timeout`: a duration like 24h, or `never` to wait as long "
            "as it takes",
        )
    elif not never:
        timeout = read_duration(ctx, timeout_node)
    on = _intent_branches(ctx, keys.get("on"), step_line)
    if TIMEOUT in on and never:
        ctx.error(keys["on"], "a `timeout` branch never runs with `timeout: never`")
    ratings = _ratings(ctx, keys.get("rating"), step_line)
    words = _word_branches(ctx, keys.get("keywords"), step_line)
    given = [keys[k] for k in ("on", "rating", "keywords") if k in keys]
    # A branch that is there but wrong has its own error already.
    if not any(isinstance(n, MappingNode) and n.value for n in given):
        ctx.error(node, "`wait` needs at least one branch: `on`, `rating` or `keywords`")
    reminders = _reminders(ctx, keys.get("reminders"), timeout)
    retry = read_message(ctx, keys.get("retry"), "retry")
    return Wait(timeout, on, retry, line_of(node), ratings, words, reminders, never)


def _intent_branches(ctx: Context, node: Node | None, step_line: int) -> Mapping[str, str]:
    """Read `on`: intent (or timeout, other) -> step id."""
    branches: dict[str, str] = {}
    if node is None:
        return MappingProxyType(branches)
    if not isinstance(node, MappingNode):
        ctx.error(node, "`on` must be a mapping of intents to step ids")
        return MappingProxyType(branches)
    for key, value in node.value:
        name = key.value if isinstance(key, ScalarNode) else None
        if name not in BRANCH_KEYS:
            allowed = ", ".join(sorted(INTENTS)) + ", timeout, other, clicked"
            ctx.error(key, f"unknown intent {name!r} in `on` (allowed: {allowed})")
            continue
        if name in branches:
            ctx.error(key, f"branch {name!r} appears twice")
            continue
        target = read_text(ctx, value, name)
        if target is not None:
            branches[name] = target
            kind = "timeout" if name == TIMEOUT else "reply"
            ctx.edge_lines[(step_line, kind, name)] = line_of(value)
    return MappingProxyType(branches)


def _ratings(ctx: Context, node: Node | None, step_line: int) -> tuple[RatingRange, ...]:
    """Read `rating: {">=4": promoter, "<=2": detractor, "3": passive}`."""
    out: list[RatingRange] = []
    for key, value in read_pairs(ctx, node, "rating", '{">=4": promoter, "3": passive}'):
        bounds = _rating_bounds(ctx, key)
        target = read_text(ctx, value, "rating")
        if bounds is None or target is None:
            continue
        label = key.value.replace(" ", "")
        for other in out:
            if _overlap(bounds, (other.low, other.high)):
                ctx.error(key, f"rating range {label!r} overlaps {other.label!r}")
                break
        else:
            out.append(RatingRange(*bounds, target, label))
            ctx.edge_lines[(step_line, "rating", label)] = line_of(value)
    return tuple(out)


def _rating_bounds(ctx: Context, key: ScalarNode) -> tuple[int | None, int | None] | None:
    """Turn ">=4", "<=2", "3", ">3" or "4-5" into (low, high)."""
    match = _RATING.fullmatch(key.value.strip())
    if match is None:
        ctx.error(
            key,
            f"bad rating range {key.value!r}: write a number (3), a comparison "
            "(>=4, <=2, >3, <3) or a span (4-5)",
        )
        return None
    op, number, low, high = match.groups()
    if low is not None:
        if int(low) > int(high):
            ctx.error(key, f"bad rating range {key.value!r}: the low end comes first")
            return None
        return int(low), int(high)
    value = int(number)
    return {
        ">=": (value, None),
        ">": (value + 1, None),
        "<=": (None, value),
        "<": (None, value - 1),
    }.get(op or "=", (value, value))


def _overlap(a: tuple[int | None, int | None], b: tuple[int | None, int | None]) -> bool:
    low = max(x for x in (a[0], b[0], -(10**9)) if x is not None)
    high = min(x for x in (a[1], b[1], 10**9) if x is not None)
    return low <= high


def _word_branches(ctx: Context, node: Node | None, step_line: int) -> Mapping[str, str]:
    """Read `keywords: {MENU: show_menu}`: replies that are exactly that word."""
    out: dict[str, str] = {}
    for key, value in read_pairs(ctx, node, "keywords", "{MENU: show_menu}"):
        words = read_keywords(ctx, key, "keywords")
        target = read_text(ctx, value, "keywords")
        if words and target is not None:
            if words[0] in out:
                ctx.error(key, f"keyword {words[0]!r} appears twice")
            out[words[0]] = target
            ctx.edge_lines[(step_line, "keyword", words[0])] = line_of(value)
    return MappingProxyType(out)


def _reminders(ctx: Context, node: Node | None, timeout: timedelta | None) -> tuple[Reminder, ...]:
    """Read `reminders: [{after: 2h, send: ...}]`, each before the wait's timeout."""
    if node is None:
        return ()
    if not isinstance(node, SequenceNode):
        ctx.error(node, "`reminders` must be a list like [{after: 2h, send: ...}]")
        return ()
    out: list[Reminder] = []
    for item in node.value:
        if not isinstance(item, MappingNode):
            ctx.error(item, "a reminder must be a mapping like {after: 2h, send: ...}")
            continue
        keys = read_mapping(ctx, item, REMINDER_KEYS, "reminder")
        after = read_duration(ctx, keys.get("after"))
        send = read_message(ctx, keys.get("send"), "reminder")
        if "after" not in keys or "send" not in keys:
            ctx.error(item, "a reminder needs `after` and `send`")
        if after is None or send is None:
            continue
        if timeout is not None and after >= timeout:
            ctx.error(
                keys["after"],
                f"reminder after {_fmt(after)} is not before the wait's {_fmt(timeout)} "
                "timeout: it would never be sent",
            )
        if any(r.after == after for r in out):
            ctx.error(keys["after"], f"two reminders after {_fmt(after)}")
        out.append(Reminder(after, send, line_of(item)))
    return tuple(sorted(out, key=lambda r: r.after))
