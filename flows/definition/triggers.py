"""Read a journey's triggers: events, keywords, opt-in, dates, schedules and link clicks."""

from __future__ import annotations

import re
from datetime import timedelta
from types import MappingProxyType

from yaml.nodes import MappingNode, Node, SequenceNode

from flows.definition.context import Context, line_of
from flows.definition.values import (
    is_null,
    read_clock,
    read_duration,
    read_flag,
    read_mapping,
    read_offset,
    read_scalars,
    read_text,
    read_words,
)
from flows.model import STAGES, Segment, Trigger
from nlu.keywords import COMPLIANCE_WORDS, fold

TRIGGER_KINDS = ("event", "keyword", "opt_in", "date", "schedule", "click")
TRIGGER_KEYS = (*TRIGGER_KINDS, "segment")
DATE_KEYS = ("field", "offset", "event")
SCHEDULE_KEYS = ("every", "at")
SEGMENT_KEYS = ("stage", "tags", "inactive_for", "field")
CLICK_KEYS = ("url",)
CLICK_FORM = (
    "`click` names a journey's step, like {click: welcome/offer}, or a URL, like"
    ' {click: {url: "https://shop.example/sale"}}'
)
# Words the compliance layer answers before any journey sees them, in every language the
# parser reads them in (BAJA, ARRET, AYUDA), folded as it folds them: ARRÊT is ARRET.
RESERVED_WORDS = frozenset(word.upper() for word in COMPLIANCE_WORDS)
_WORD = re.compile(r"[A-Z0-9][A-Z0-9_-]*")
_URL = re.compile(r"https?://[^\s/?#]+\S*", re.IGNORECASE)


def read_triggers(ctx: Context, node: Node | None) -> tuple[Trigger, ...]:
    """Read `trigger`: one trigger mapping or a list of them."""
    if is_null(node):
        return ()
    assert node is not None
    items = node.value if isinstance(node, SequenceNode) else [node]
    found = (_trigger(ctx, item) for item in items)
    return tuple(trigger for trigger in found if trigger is not None)


def _trigger(ctx: Context, node: Node) -> Trigger | None:
    """Read one trigger such as {event: x}, {keyword: [JOIN]} or {date: {...}}."""
    if not isinstance(node, MappingNode):
        ctx.error(node, "a trigger must be a mapping like {event: appointment_booked}")
        return None
    keys = read_mapping(ctx, node, TRIGGER_KEYS, "trigger")
    kinds = [k for k in TRIGGER_KINDS if k in keys]
    if len(kinds) != 1:
        ctx.error(node, f"a trigger needs exactly one of {', '.join(TRIGGER_KINDS)}")
        return None
    kind, value = kinds[0], keys[kinds[0]]
    if "segment" in keys and kind != "schedule":
        ctx.error(keys["segment"], "`segment` goes with a `schedule` trigger only")
    line = line_of(node)
    if kind == "event":
        name = read_text(ctx, value, "event")
        params = MappingProxyType({"name": name})
        return None if name is None else Trigger("event", params, line)
    if kind == "keyword":
        words = read_keywords(ctx, value, "keyword")
        return Trigger("keyword", MappingProxyType({"words": words}), line) if words else None
    if kind == "opt_in":
        if not read_flag(ctx, value, "opt_in"):
            ctx.error(value, "an `opt_in` trigger is written `opt_in: true`")
        return Trigger("opt_in", MappingProxyType({}), line)
    if kind == "date":
        return _date_trigger(ctx, value, line)
    if kind == "click":
        return _click_trigger(ctx, value, line)
    return _schedule_trigger(ctx, value, keys.get("segment"), node, line)


def read_keywords(ctx: Context, node: Node, what: str) -> tuple[str, ...]:
    """Read trigger or branch words: single upper-case words nobody else answers."""
    out = []
    for word in read_words(ctx, node, what):
        upper = word.upper()
        # Before the shape check, so ARRÊT is refused as the keyword it is, not for its accent.
        if fold(word).upper() in RESERVED_WORDS:
            ctx.error(
                node,
                f"{upper} in `{what}` is a carrier keyword (STOP, START, HELP and the like): "
                "compliance answers it before any journey sees it",
            )
        elif not _WORD.fullmatch(upper):
            ctx.error(node, f"{word!r} in `{what}` must be a single word, like JOIN")
        else:
            out.append(upper)
    return tuple(out)


def _date_trigger(ctx: Context, node: Node, line: int) -> Trigger | None:
    """Read {date: {field: appointment_at, offset: -24h, event?: appointment_booked}}."""
    if not isinstance(node, MappingNode):
        ctx.error(node, "`date` must be a mapping like {field: appointment_at, offset: -24h}")
        return None
    keys = read_mapping(ctx, node, DATE_KEYS, "date")
    text = read_text(ctx, keys.get("field"), "field")
    if "field" not in keys:
        ctx.error(node, "a `date` trigger needs `field`")
    offset = read_offset(ctx, keys.get("offset"))
    event = read_text(ctx, keys.get("event"), "event")
    if text is None:
        return None
    holder, dot, name = text.strip().rpartition(".")
    source = holder if dot else ("event" if event else "any")
    if (dot and holder not in ("event", "contact")) or not name.isidentifier():
        hint = "use appointment_at, event.appointment_at or contact.birthday"
        ctx.error(keys["field"], f"bad date field {text!r}: {hint}")
        return None
    params = {"field": name, "source": source, "offset": offset, "event": event}
    return Trigger("date", MappingProxyType(params), line)


def _click_trigger(ctx: Context, node: Node, line: int) -> Trigger | None:
    """Read {click: journey/step} or {click: {url: "https://..."}}."""
    if isinstance(node, MappingNode):
        keys = read_mapping(ctx, node, CLICK_KEYS, "click")
        url = read_text(ctx, keys.get("url"), "url")
        if "url" not in keys:
            ctx.error(node, CLICK_FORM)
            return None
        if url is None:
            return None
        if not _URL.fullmatch(url.strip()):
            ctx.error(keys["url"], f"`url` must be an http:// or https:// address, not {url!r}")
            return None
        return Trigger("click", MappingProxyType({"url": url.strip()}), line)
    text = read_text(ctx, node, "click")
    if text is None:
        return None
    journey, slash, step = text.strip().partition("/")
    if not (slash and journey and step) or "/" in step:
        ctx.error(node, f"{CLICK_FORM}, not {text!r}")
        return None
    return Trigger("click", MappingProxyType({"journey": journey, "step": step}), line)


def _schedule_trigger(
    ctx: Context, node: Node, segment_node: Node | None, owner: Node, line: int
) -> Trigger | None:
    """Read {schedule: {every: 1d, at: "10:00"}, segment: {...}}."""
    if not isinstance(node, MappingNode):
        ctx.error(node, '`schedule` must be a mapping like {every: 1d, at: "10:00"}')
        return None
    keys = read_mapping(ctx, node, SCHEDULE_KEYS, "schedule")
    every = read_duration(ctx, keys.get("every"))
    if "every" not in keys:
        ctx.error(node, "a `schedule` needs `every`, like 1d")
    at = read_clock(ctx, keys.get("at"), "at") if "at" in keys else None
    if at is not None and every is not None and every % timedelta(days=1):
        ctx.error(keys["every"], "with `at`, `every` must be whole days, like 1d or 7d")
    if segment_node is None:
        ctx.error(owner, "a `schedule` trigger needs a `segment` (`segment: {}` for everyone)")
    segment = read_segment(ctx, segment_node)
    if every is None or segment is None:
        return None
    params = {"every": every, "at": at, "segment": segment}
    return Trigger("schedule", MappingProxyType(params), line)


def read_segment(ctx: Context, node: Node | None) -> Segment | None:
    """Read {stage: consideration, tags: [vip], inactive_for: 30d, field: {tier: gold}}."""
    if node is None:
        return None
    if not isinstance(node, MappingNode):
        ctx.error(node, "`segment` must be a mapping like {inactive_for: 60d}")
        return None
    keys = read_mapping(ctx, node, SEGMENT_KEYS, "segment")
    stage = read_text(ctx, keys.get("stage"), "stage")
    if stage is not None and stage not in STAGES:
        ctx.error(keys["stage"], f"unknown stage {stage!r} (allowed: {', '.join(STAGES)})")
    tags = read_words(ctx, keys.get("tags"), "tags")
    inactive = read_duration(ctx, keys.get("inactive_for"))
    fields = read_scalars(ctx, keys.get("field"), "field", "{tier: gold}")
    return Segment(stage, tags, inactive, fields)
