"""Read a journey's settings: kind, language, entry and exit rules, fields, defaults and nlu."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.definition.context import Context
from flows.definition.messages import LANGUAGE_CODE
from flows.definition.values import (
    is_null,
    kind_name,
    plain,
    read_choice,
    read_duration,
    read_mapping,
    read_pairs,
    read_text,
    read_words,
)
from flows.model import Conversion, Entry, JourneyKind
from nlu import Vocabulary
from nlu.intents import FALLBACK, INTENTS, OPT_OUT_KEYWORDS, RATING
from nlu.keywords import OPT_OUT_WORDS, fold

EXIT_KEYS = ("events",)
CONVERSION_KEYS = ("events", "click_window", "receipt_window")
NLU_KEYS = ("keywords", "examples")
HOLDERS = ("contact", "event", "business")
# `fields:` may also declare run.x: a value another journey's run of the same event keeps.
FIELD_HOLDERS = ("contact", "event", "run")
# A journey without `kind` gets the stricter rules: quiet hours and caps apply.
DEFAULT_KIND = JourneyKind.MARKETING
DEFAULT_LANGUAGE = "en"
# A rating needs its number and nlu_fallback means nothing matched: neither can be taught.
TEACHABLE = INTENTS - {FALLBACK, RATING}


def read_kind(ctx: Context, node: Node | None) -> JourneyKind | None:
    """Read a `kind` (a step's overrides the journey's for its messages); None if absent."""
    return read_choice(ctx, node, JourneyKind, "kind", label="kind")


def read_language(ctx: Context, node: Node | None) -> str:
    """Read `language`, the variant of a message people get when theirs is missing."""
    text = read_text(ctx, node, "language")
    if text is None:
        return DEFAULT_LANGUAGE
    if not LANGUAGE_CODE.fullmatch(text):
        assert node is not None
        ctx.error(node, f"{text!r} is not a language code like en or es")
        return DEFAULT_LANGUAGE
    return text


def read_entry(ctx: Context, node: Node | None) -> Entry:
    """Read `entry: skip | restart | interrupt` (default skip)."""
    return read_choice(ctx, node, Entry, "entry", label="entry rule") or Entry.SKIP


def read_exit_events(ctx: Context, node: Node | None) -> frozenset[str]:
    """Read `exit: {events: [order_placed]}`."""
    if node is None:
        return frozenset()
    if not isinstance(node, MappingNode):
        ctx.error(node, "`exit` must be a mapping like {events: [order_placed]}")
        return frozenset()
    keys = read_mapping(ctx, node, EXIT_KEYS, "exit")
    if "events" not in keys:
        ctx.error(node, "`exit` needs `events`")
    return frozenset(read_words(ctx, keys.get("events"), "events"))


def read_conversion(ctx: Context, node: Node | None) -> Conversion:
    """Read `conversion: {events: [order_placed], click_window: 5d, receipt_window: 12h}`."""
    default = Conversion()
    if node is None:
        return default
    if not isinstance(node, MappingNode):
        ctx.error(node, "`conversion` must be a mapping like {events: [order_placed]}")
        return default
    keys = read_mapping(ctx, node, CONVERSION_KEYS, "conversion")
    events = frozenset(read_words(ctx, keys["events"], "events")) if "events" in keys else None
    click = read_duration(ctx, keys.get("click_window"))
    receipt = read_duration(ctx, keys.get("receipt_window"))
    return Conversion(
        events or default.events,
        click or default.click_window,
        receipt or default.receipt_window,
    )


def read_fields(ctx: Context, node: Node | None) -> frozenset[str] | None:
    """Read `fields: [contact.first_name, event.total, run.status]`; None when not declared."""
    if node is None:
        return None
    if not isinstance(node, SequenceNode):
        ctx.error(node, "`fields` must be a list like [contact.first_name, event.total]")
        return None
    out = set()
    for item in node.value:
        name = read_text(ctx, item, "fields")
        if name is not None and _field_name(ctx, item, name, FIELD_HOLDERS, "fields"):
            out.add(name.strip())
    return frozenset(out)


def _field_name(ctx: Context, node: Node, name: str, holders: tuple[str, ...], what: str) -> bool:
    """Check that name reads like holder.field; record an error when it does not."""
    holder, _, field = name.strip().partition(".")
    if holder in holders and field.isidentifier():
        return True
    ctx.error(node, f"{name!r} in `{what}` must be {' or '.join(holders)} and a field name")
    return False


def read_defaults(ctx: Context, node: Node | None) -> Mapping[str, Any]:
    """Read `defaults: {contact.first_name: there}`: what a missing field shows."""
    out: dict[str, Any] = {}
    for key, value in read_pairs(ctx, node, "defaults", "{contact.first_name: there}"):
        if not _field_name(ctx, key, key.value, HOLDERS, "defaults"):
            continue
        if not isinstance(value, ScalarNode) or is_null(value):
            found = kind_name(value)
            ctx.error(value, f"default for {key.value!r} must be a value, not {found}")
            continue
        out[key.value.strip()] = plain(value)
    return MappingProxyType(out)


def read_vocabulary(ctx: Context, node: Node | None) -> Vocabulary:
    """Read `nlu: {intent: {keywords: [...], examples: [...]}}` into an nlu.Vocabulary."""
    keywords: dict[str, tuple[str, ...]] = {}
    examples: dict[str, tuple[str, ...]] = {}
    for key, value in read_pairs(ctx, node, "nlu", "{affirm: {keywords: [YEP]}}"):
        if key.value not in TEACHABLE:
            allowed = ", ".join(sorted(TEACHABLE))
            ctx.error(key, f"unknown intent {key.value!r} in `nlu` (allowed: {allowed})")
            continue
        if not isinstance(value, MappingNode):
            hint = "{keywords: [...], examples: [...]}"
            ctx.error(value, f"`nlu` for {key.value!r} must be a mapping like {hint}")
            continue
        keys = read_mapping(ctx, value, NLU_KEYS, "nlu")
        words = read_words(ctx, keys.get("keywords"), "keywords")
        said = read_words(ctx, keys.get("examples"), "examples")
        for word in words:
            if word.upper() in OPT_OUT_KEYWORDS:
                ctx.error(
                    keys["keywords"],
                    f"{word} in `nlu` keywords is a carrier opt-out keyword: texting it "
                    "unsubscribes people at the carrier, whatever the journey means by it",
                )
            elif fold(word) in OPT_OUT_WORDS:
                ctx.error(
                    keys["keywords"],
                    f"{word} in `nlu` keywords is an opt-out keyword: Parley unsubscribes "
                    "whoever texts it, whatever the journey means by it",
                )
        if any(fold(w) in OPT_OUT_WORDS for w in words):  # Twilio's words are in it too
            continue
        try:
            Vocabulary({key.value: words} if words else {}, {key.value: said} if said else {})
        except ValueError as exc:
            ctx.error(key, f"`nlu` for {key.value!r}: {exc}")
            continue
        if words:
            keywords[key.value] = words
        if said:
            examples[key.value] = said
    try:
        return Vocabulary(keywords, examples)
    except ValueError as exc:
        assert node is not None
        ctx.error(node, f"`nlu`: {exc}")
        return Vocabulary()
