"""Read a journey's settings: triggers, entry and exit rules, fields, defaults and nlu."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.model import STAGES, Entry, Segment, Trigger
from flows.reader import Reader, is_null, kind_name, line_of, plain
from nlu import Vocabulary
from nlu.intents import (
    FALLBACK,
    HELP_KEYWORDS,
    INTENTS,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    RATING,
)

TRIGGER_KINDS = ("event", "keyword", "opt_in", "date", "schedule")
TRIGGER_KEYS = (*TRIGGER_KINDS, "segment")
DATE_KEYS = ("field", "offset", "event")
SCHEDULE_KEYS = ("every", "at")
SEGMENT_KEYS = ("stage", "tags", "inactive_for", "field")
EXIT_KEYS = ("events",)
NLU_KEYS = ("keywords", "examples")
HOLDERS = ("contact", "event", "business")
# Words the compliance layer answers before any journey sees them.
RESERVED_WORDS = frozenset(OPT_OUT_KEYWORDS + OPT_IN_KEYWORDS + HELP_KEYWORDS)
# A rating needs its number and nlu_fallback means nothing matched: neither can be taught.
TEACHABLE = INTENTS - {FALLBACK, RATING}
_WORD = re.compile(r"[A-Z0-9][A-Z0-9_-]*")


class SettingsReader(Reader):
    """Read the journey-level keys other than id, name, kind and steps."""

    def triggers(self, node: Node | None) -> tuple[Trigger, ...]:
        """Read `trigger`: one trigger mapping or a list of them."""
        if is_null(node):
            return ()
        assert node is not None
        items = node.value if isinstance(node, SequenceNode) else [node]
        found = (self.trigger(item) for item in items)
        return tuple(trigger for trigger in found if trigger is not None)

    def trigger(self, node: Node) -> Trigger | None:
        """Read one trigger such as {event: x}, {keyword: [JOIN]} or {date: {...}}."""
        if not isinstance(node, MappingNode):
            self.error(node, "a trigger must be a mapping like {event: appointment_booked}")
            return None
        keys = self.mapping(node, TRIGGER_KEYS, "trigger")
        kinds = [k for k in TRIGGER_KINDS if k in keys]
        if len(kinds) != 1:
            self.error(node, f"a trigger needs exactly one of {', '.join(TRIGGER_KINDS)}")
            return None
        kind, value = kinds[0], keys[kinds[0]]
        if "segment" in keys and kind != "schedule":
            self.error(keys["segment"], "`segment` goes with a `schedule` trigger only")
        line = line_of(node)
        if kind == "event":
            name = self.text(value, "event")
            params = MappingProxyType({"name": name})
            return None if name is None else Trigger("event", params, line)
        if kind == "keyword":
            words = self.keywords(value, "keyword")
            return Trigger("keyword", MappingProxyType({"words": words}), line) if words else None
        if kind == "opt_in":
            if not self.flag(value, "opt_in"):
                self.error(value, "an `opt_in` trigger is written `opt_in: true`")
            return Trigger("opt_in", MappingProxyType({}), line)
        if kind == "date":
            return self.date_trigger(value, line)
        return self.schedule_trigger(value, keys.get("segment"), node, line)

    def keywords(self, node: Node, what: str) -> tuple[str, ...]:
        """Read trigger or branch words: single upper-case words nobody else answers."""
        out = []
        for word in self.words(node, what):
            upper = word.upper()
            if not _WORD.fullmatch(upper):
                self.error(node, f"{word!r} in `{what}` must be a single word, like JOIN")
            elif upper in RESERVED_WORDS:
                self.error(
                    node,
                    f"{upper} in `{what}` is a carrier keyword (STOP, START, HELP and the like): "
                    "compliance answers it before any journey sees it",
                )
            else:
                out.append(upper)
        return tuple(out)

    def date_trigger(self, node: Node, line: int) -> Trigger | None:
        """Read {date: {field: appointment_at, offset: -24h, event?: appointment_booked}}."""
        if not isinstance(node, MappingNode):
            self.error(node, "`date` must be a mapping like {field: appointment_at, offset: -24h}")
            return None
        keys = self.mapping(node, DATE_KEYS, "date")
        text = self.text(keys.get("field"), "field")
        if "field" not in keys:
            self.error(node, "a `date` trigger needs `field`")
        offset = self.offset(keys.get("offset"))
        event = self.text(keys.get("event"), "event")
        if text is None:
            return None
        holder, dot, name = text.strip().rpartition(".")
        source = holder if dot else ("event" if event else "any")
        if (dot and holder not in ("event", "contact")) or not name.isidentifier():
            hint = "use appointment_at, event.appointment_at or contact.birthday"
            self.error(keys["field"], f"bad date field {text!r}: {hint}")
            return None
        params = {"field": name, "source": source, "offset": offset, "event": event}
        return Trigger("date", MappingProxyType(params), line)

    def schedule_trigger(
        self, node: Node, segment_node: Node | None, owner: Node, line: int
    ) -> Trigger | None:
        """Read {schedule: {every: 1d, at: "10:00"}, segment: {...}}."""
        if not isinstance(node, MappingNode):
            self.error(node, '`schedule` must be a mapping like {every: 1d, at: "10:00"}')
            return None
        keys = self.mapping(node, SCHEDULE_KEYS, "schedule")
        every = self.duration(keys.get("every"))
        if "every" not in keys:
            self.error(node, "a `schedule` needs `every`, like 1d")
        at = self.clock(keys.get("at"), "at") if "at" in keys else None
        if at is not None and every is not None and every % timedelta(days=1):
            self.error(keys["every"], "with `at`, `every` must be whole days, like 1d or 7d")
        if segment_node is None:
            self.error(owner, "a `schedule` trigger needs a `segment` (`segment: {}` for everyone)")
        segment = self.segment(segment_node)
        if every is None or segment is None:
            return None
        params = {"every": every, "at": at, "segment": segment}
        return Trigger("schedule", MappingProxyType(params), line)

    def segment(self, node: Node | None) -> Segment | None:
        """Read {stage: consideration, tags: [vip], inactive_for: 30d, field: {tier: gold}}."""
        if node is None:
            return None
        if not isinstance(node, MappingNode):
            self.error(node, "`segment` must be a mapping like {inactive_for: 60d}")
            return None
        keys = self.mapping(node, SEGMENT_KEYS, "segment")
        stage = self.text(keys.get("stage"), "stage")
        if stage is not None and stage not in STAGES:
            self.error(keys["stage"], f"unknown stage {stage!r} (allowed: {', '.join(STAGES)})")
        tags = self.words(keys.get("tags"), "tags")
        inactive = self.duration(keys.get("inactive_for"))
        fields = self.scalars(keys.get("field"), "field", "{tier: gold}")
        return Segment(stage, tags, inactive, fields)

    def scalars(self, node: Node | None, what: str, hint: str) -> Mapping[str, Any]:
        """Read a mapping of names to single values."""
        out: dict[str, Any] = {}
        for key, value in self.pairs(node, what, hint):
            if not isinstance(value, ScalarNode):
                self.error(value, f"`{what}` value for {key.value!r} must be a single value")
                continue
            out[key.value] = plain(value)
        return MappingProxyType(out)

    def entry(self, node: Node | None) -> Entry:
        """Read `entry: skip | restart | interrupt` (default skip)."""
        text = self.text(node, "entry")
        if node is None or text is None:
            return Entry.SKIP
        try:
            return Entry(text)
        except ValueError:
            allowed = ", ".join(e.value for e in Entry)
            self.error(node, f"unknown entry rule {text!r} (allowed: {allowed})")
            return Entry.SKIP

    def exit_events(self, node: Node | None) -> frozenset[str]:
        """Read `exit: {events: [order_placed]}`."""
        if node is None:
            return frozenset()
        if not isinstance(node, MappingNode):
            self.error(node, "`exit` must be a mapping like {events: [order_placed]}")
            return frozenset()
        keys = self.mapping(node, EXIT_KEYS, "exit")
        if "events" not in keys:
            self.error(node, "`exit` needs `events`")
        return frozenset(self.words(keys.get("events"), "events"))

    def fields(self, node: Node | None) -> frozenset[str] | None:
        """Read `fields: [contact.first_name, event.total]`; None when not declared."""
        if node is None:
            return None
        if not isinstance(node, SequenceNode):
            self.error(node, "`fields` must be a list like [contact.first_name, event.total]")
            return None
        out = set()
        for item in node.value:
            name = self.text(item, "fields")
            if name is not None and self.field_name(item, name, ("contact", "event"), "fields"):
                out.add(name.strip())
        return frozenset(out)

    def field_name(self, node: Node, name: str, holders: tuple[str, ...], what: str) -> bool:
        """Check that name reads like holder.field; record an error when it does not."""
        holder, _, field = name.strip().partition(".")
        if holder in holders and field.isidentifier():
            return True
        self.error(node, f"{name!r} in `{what}` must be {' or '.join(holders)} and a field name")
        return False

    def defaults_of(self, node: Node | None) -> Mapping[str, Any]:
        """Read `defaults: {contact.first_name: there}`: what a missing field shows."""
        out: dict[str, Any] = {}
        for key, value in self.pairs(node, "defaults", "{contact.first_name: there}"):
            if not self.field_name(key, key.value, HOLDERS, "defaults"):
                continue
            if not isinstance(value, ScalarNode) or is_null(value):
                found = kind_name(value)
                self.error(value, f"default for {key.value!r} must be a value, not {found}")
                continue
            out[key.value.strip()] = plain(value)
        return MappingProxyType(out)

    def vocabulary(self, node: Node | None) -> Vocabulary:
        """Read `nlu: {intent: {keywords: [...], examples: [...]}}` into an nlu.Vocabulary."""
        keywords: dict[str, tuple[str, ...]] = {}
        examples: dict[str, tuple[str, ...]] = {}
        for key, value in self.pairs(node, "nlu", "{affirm: {keywords: [YEP]}}"):
            if key.value not in TEACHABLE:
                allowed = ", ".join(sorted(TEACHABLE))
                self.error(key, f"unknown intent {key.value!r} in `nlu` (allowed: {allowed})")
                continue
            if not isinstance(value, MappingNode):
                hint = "{keywords: [...], examples: [...]}"
                self.error(value, f"`nlu` for {key.value!r} must be a mapping like {hint}")
                continue
            keys = self.mapping(value, NLU_KEYS, "nlu")
            words = self.words(keys.get("keywords"), "keywords")
            said = self.words(keys.get("examples"), "examples")
            for word in words:
                if word.upper() in OPT_OUT_KEYWORDS:
                    self.error(
                        keys["keywords"],
                        f"{word} in `nlu` keywords is a carrier opt-out keyword: texting it "
                        "unsubscribes people at the carrier, whatever the journey means by it",
                    )
            if any(w.upper() in OPT_OUT_KEYWORDS for w in words):
                continue
            try:
                Vocabulary({key.value: words} if words else {}, {key.value: said} if said else {})
            except ValueError as exc:
                self.error(key, f"`nlu` for {key.value!r}: {exc}")
                continue
            if words:
                keywords[key.value] = words
            if said:
                examples[key.value] = said
        try:
            return Vocabulary(keywords, examples)
        except ValueError as exc:
            assert node is not None
            self.error(node, f"`nlu`: {exc}")
            return Vocabulary()
