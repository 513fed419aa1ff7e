"""Read a journey's steps: what each does, how it waits, and where it goes next."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import jinja2
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.model import (
    OTHER,
    STAGES,
    TIMEOUT,
    Condition,
    Delay,
    JourneyKind,
    RatingRange,
    Reminder,
    Step,
    Wait,
)
from flows.model import format_duration as _fmt
from flows.parser_settings import SettingsReader
from flows.reader import is_null, kind_name, line_of, plain
from flows.template import compile_condition, references, unknown_variables
from nlu.intents import INTENTS

STEP_KEYS = (
    "id", "stage", "kind", "send", "set", "tag", "untag", "consent", "goal", "handoff", "start",
    "data",
    "action", "wait", "delay", "branch", "split", "next", "end",
)  # fmt: skip
HANDOFF_KEYS = ("reason",)
CONSENT_PURPOSES = ("marketing",)
WAIT_KEYS = ("timeout", "on", "rating", "keywords", "retry", "reminders")
REMINDER_KEYS = ("after", "send")
DELAY_MODES = ("for", "until", "before", "after")
DELAY_KEYS = (*DELAY_MODES, "by")
BRANCH_KEYS = frozenset(INTENTS | {TIMEOUT, OTHER})
# Keys that decide where a run goes after a step; only some may be combined.
ROUTES = ("wait", "delay", "branch", "split", "action")
_RATING = re.compile(r"(>=|<=|>|<|=)?\s*(\d+)|(\d+)\s*-\s*(\d+)")


class StepsReader(SettingsReader):
    """Read step mappings into Step values."""

    def step(self, node: Node) -> Step | None:
        """Read one step; return None when it has no usable id."""
        if not isinstance(node, MappingNode):
            self.error(node, f"a step must be a mapping with an id, not {kind_name(node)}")
            return None
        keys = self.mapping(node, STEP_KEYS, "step")
        step_id = self.text(keys.get("id"), "id")
        if "id" not in keys:
            self.error(node, "step is missing `id`")
        line = line_of(keys["id"]) if "id" in keys else line_of(node)
        stage = self.text(keys.get("stage"), "stage")
        if stage is not None and stage not in STAGES:
            self.error(keys["stage"], f"unknown stage {stage!r} (allowed: {', '.join(STAGES)})")
        kind = self.step_kind(keys.get("kind"))
        start = self.text(keys.get("start"), "start")
        consent = self.text(keys.get("consent"), "consent")
        if consent is not None and consent not in CONSENT_PURPOSES:
            allowed = ", ".join(CONSENT_PURPOSES)
            self.error(keys["consent"], f"unknown consent {consent!r} (allowed: {allowed})")
        if "data" in keys and "start" not in keys:
            self.error(keys["data"], "`data` goes with `start`, the journey it is handed to")
        end = self.flag(keys.get("end"), "end")
        self.check_routes(keys, end)
        # Every key is read, and its mistakes reported, even when the step has no usable id.
        step = Step(
            step_id or "",
            line,
            stage=stage,
            kind=kind,
            send=self.message(keys.get("send"), "send"),
            set=self.scalars(keys.get("set"), "set", "{appointment_status: confirmed}"),
            tag=self.words(keys.get("tag"), "tag"),
            untag=self.words(keys.get("untag"), "untag"),
            consent=consent,
            goal=self.text(keys.get("goal"), "goal"),
            handoff=self.handoff(keys.get("handoff")),
            start=start,
            start_data=self.start_data(keys.get("data")),
            action=self.text(keys.get("action"), "action"),
            wait=self.wait(keys.get("wait"), line),
            delay=self.delay(keys.get("delay")),
            branch=self.branch(keys.get("branch"), line),
            split=self.split(keys.get("split"), line),
            next=self.text(keys.get("next"), "next"),
            end=end,
        )
        if "next" in keys:
            self.edge_lines[(line, "next", "next")] = line_of(keys["next"])
        return step if step_id is not None else None

    def check_routes(self, keys: Mapping[str, Node], end: bool) -> None:
        """Flag keys that cannot go together: one way on from a step."""
        routes = [k for k in ROUTES if k in keys]
        if len(routes) > 1:
            listed = " and ".join(f"`{k}`" for k in routes)
            self.error(keys[routes[1]], f"a step cannot have both {listed}: split it in two steps")
        if "next" in keys and routes and routes[0] in ("wait", "branch", "split"):
            hint = {
                "wait": "use a wait branch such as `timeout`",
                "branch": "use `else`",
                "split": "each variant is where a run goes",
            }[routes[0]]
            self.error(keys["next"], f"a step cannot have both `next` and `{routes[0]}`: {hint}")
        if "delay" in keys and "next" not in keys:
            self.error(keys["delay"], "a `delay` needs `next`: the step to go on to afterwards")
        clash = [k for k in ("next", *ROUTES) if k in keys]
        if end and clash:
            listed = ", ".join(f"`{k}`" for k in clash)
            self.error(keys["end"], f"a step with `end: true` cannot also have {listed}")

    def step_kind(self, node: Node | None) -> JourneyKind | None:
        """Read a `kind` (a step's overrides the journey's for its messages); None if absent."""
        text = self.text(node, "kind")
        if node is None or text is None:
            return None
        try:
            return JourneyKind(text)
        except ValueError:
            allowed = ", ".join(k.value for k in JourneyKind)
            self.error(node, f"unknown kind {text!r} (allowed: {allowed})")
            return None

    def handoff(self, node: Node | None) -> str | None:
        """Read `handoff: reason` or `handoff: {reason: ...}` into the reason."""
        if node is None:
            return None
        if isinstance(node, MappingNode):
            keys = self.mapping(node, HANDOFF_KEYS, "handoff")
            if "reason" not in keys:
                self.error(node, "`handoff` needs a `reason`")
            return self.text(keys.get("reason"), "reason")
        return self.text(node, "handoff")

    def start_data(self, node: Node | None) -> Mapping[str, Any]:
        """Read `data:` for `start`: values, where text may be a template."""
        out: dict[str, Any] = {}
        for key, value in self.pairs(node, "data", '{order_id: "{{ event.order_id }}"}'):
            if not isinstance(value, ScalarNode) or is_null(value):
                self.error(value, f"`data` value for {key.value!r} must be a single value")
                continue
            found = plain(value)
            if isinstance(found, str):
                found = self.template(value, "data", measure=False)
            out[key.value] = found
        return MappingProxyType(out)

    # -- waiting --------------------------------------------------------------------------

    def wait(self, node: Node | None, step_line: int) -> Wait | None:
        """Read `wait`: its timeout, branches, retry text and reminders."""
        if node is None:
            return None
        if not isinstance(node, MappingNode):
            self.error(node, "`wait` must be a mapping with `on` and a `timeout`")
            return None
        keys = self.mapping(node, WAIT_KEYS, "wait")
        timeout_node = keys.get("timeout")
        never = isinstance(timeout_node, ScalarNode) and timeout_node.value == "never"
        timeout = None
        if is_null(timeout_node):
            self.error(
                timeout_node or node,
                "a `wait` needs a `timeout`: a duration like 24h, or `never` to wait as long "
                "as it takes",
            )
        elif not never:
            timeout = self.duration(timeout_node)
        on = self.intent_branches(keys.get("on"), step_line)
        if TIMEOUT in on and never:
            self.error(keys["on"], "a `timeout` branch never runs with `timeout: never`")
        ratings = self.ratings(keys.get("rating"), step_line)
        words = self.word_branches(keys.get("keywords"), step_line)
        given = [keys[k] for k in ("on", "rating", "keywords") if k in keys]
        # A branch that is there but wrong has its own error already.
        if not any(isinstance(n, MappingNode) and n.value for n in given):
            self.error(node, "`wait` needs at least one branch: `on`, `rating` or `keywords`")
        reminders = self.reminders(keys.get("reminders"), timeout)
        retry = self.message(keys.get("retry"), "retry")
        return Wait(timeout, on, retry, line_of(node), ratings, words, reminders, never)

    def intent_branches(self, node: Node | None, step_line: int) -> Mapping[str, str]:
        """Read `on`: intent (or timeout, other) -> step id."""
        branches: dict[str, str] = {}
        if node is None:
            return MappingProxyType(branches)
        if not isinstance(node, MappingNode):
            self.error(node, "`on` must be a mapping of intents to step ids")
            return MappingProxyType(branches)
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else None
            if name not in BRANCH_KEYS:
                allowed = ", ".join(sorted(INTENTS)) + ", timeout, other"
                self.error(key, f"unknown intent {name!r} in `on` (allowed: {allowed})")
                continue
            if name in branches:
                self.error(key, f"branch {name!r} appears twice")
                continue
            target = self.text(value, name)
            if target is not None:
                branches[name] = target
                kind = "timeout" if name == TIMEOUT else "reply"
                self.edge_lines[(step_line, kind, name)] = line_of(value)
        return MappingProxyType(branches)

    def ratings(self, node: Node | None, step_line: int) -> tuple[RatingRange, ...]:
        """Read `rating: {">=4": promoter, "<=2": detractor, "3": passive}`."""
        out: list[RatingRange] = []
        for key, value in self.pairs(node, "rating", '{">=4": promoter, "3": passive}'):
            bounds = self.rating_bounds(key)
            target = self.text(value, "rating")
            if bounds is None or target is None:
                continue
            label = key.value.replace(" ", "")
            for other in out:
                if _overlap(bounds, (other.low, other.high)):
                    self.error(key, f"rating range {label!r} overlaps {other.label!r}")
                    break
            else:
                out.append(RatingRange(*bounds, target, label))
                self.edge_lines[(step_line, "rating", label)] = line_of(value)
        return tuple(out)

    def rating_bounds(self, key: ScalarNode) -> tuple[int | None, int | None] | None:
        """Turn ">=4", "<=2", "3", ">3" or "4-5" into (low, high)."""
        match = _RATING.fullmatch(key.value.strip())
        if match is None:
            self.error(
                key,
                f"bad rating range {key.value!r}: write a number (3), a comparison "
                "(>=4, <=2, >3, <3) or a span (4-5)",
            )
            return None
        op, number, low, high = match.groups()
        if low is not None:
            if int(low) > int(high):
                self.error(key, f"bad rating range {key.value!r}: the low end comes first")
                return None
            return int(low), int(high)
        value = int(number)
        return {
            ">=": (value, None),
            ">": (value + 1, None),
            "<=": (None, value),
            "<": (None, value - 1),
        }.get(op or "=", (value, value))

    def word_branches(self, node: Node | None, step_line: int) -> Mapping[str, str]:
        """Read `keywords: {MENU: show_menu}`: replies that are exactly that word."""
        out: dict[str, str] = {}
        for key, value in self.pairs(node, "keywords", "{MENU: show_menu}"):
            words = self.keywords(key, "keywords")
            target = self.text(value, "keywords")
            if words and target is not None:
                if words[0] in out:
                    self.error(key, f"keyword {words[0]!r} appears twice")
                out[words[0]] = target
                self.edge_lines[(step_line, "keyword", words[0])] = line_of(value)
        return MappingProxyType(out)

    def reminders(self, node: Node | None, timeout: timedelta | None) -> tuple[Reminder, ...]:
        """Read `reminders: [{after: 2h, send: ...}]`, each before the wait's timeout."""
        if node is None:
            return ()
        if not isinstance(node, SequenceNode):
            self.error(node, "`reminders` must be a list like [{after: 2h, send: ...}]")
            return ()
        out: list[Reminder] = []
        for item in node.value:
            if not isinstance(item, MappingNode):
                self.error(item, "a reminder must be a mapping like {after: 2h, send: ...}")
                continue
            keys = self.mapping(item, REMINDER_KEYS, "reminder")
            after = self.duration(keys.get("after"))
            send = self.message(keys.get("send"), "reminder")
            if "after" not in keys or "send" not in keys:
                self.error(item, "a reminder needs `after` and `send`")
            if after is None or send is None:
                continue
            if timeout is not None and after >= timeout:
                self.error(
                    keys["after"],
                    f"reminder after {_fmt(after)} is not before the wait's {_fmt(timeout)} "
                    "timeout: it would never be sent",
                )
            if any(r.after == after for r in out):
                self.error(keys["after"], f"two reminders after {_fmt(after)}")
            out.append(Reminder(after, send, line_of(item)))
        return tuple(sorted(out, key=lambda r: r.after))

    # -- moving on ------------------------------------------------------------------------

    def delay(self, node: Node | None) -> Delay | None:
        """Read `delay`: {for: 2h}, {until: "09:00"} or {before|after: event.x, by: 2h}."""
        if node is None:
            return None
        hint = '{for: 2h}, {until: "09:00"} or {before: event.appointment_at, by: 2h}'
        if not isinstance(node, MappingNode):
            self.error(node, f"`delay` must be a mapping like {hint}")
            return None
        keys = self.mapping(node, DELAY_KEYS, "delay")
        modes = [m for m in DELAY_MODES if m in keys]
        if len(modes) != 1:
            self.error(node, f"a `delay` needs exactly one of for, until, before, after: {hint}")
            return None
        mode, line = modes[0], line_of(node)
        if "by" in keys and mode in ("for", "until"):
            self.error(keys["by"], "`by` goes with `before` or `after`")
        if mode == "for":
            duration = self.duration(keys["for"])
            return None if duration is None else Delay("for", line, duration=duration)
        if mode == "until":
            at = self.clock(keys["until"], "until")
            return None if at is None else Delay("until", line, at=at)
        reference = self.field_reference(keys[mode], mode)
        by = self.duration(keys["by"]) if "by" in keys else timedelta(0)
        if reference is None or by is None:
            return None
        return Delay(mode, line, duration=by, field=reference)

    def branch(self, node: Node | None, step_line: int) -> tuple[Condition, ...]:
        """Read `branch: [{if: expression, goto: step}, ..., {else: step}]`."""
        if node is None:
            return ()
        if not isinstance(node, SequenceNode) or not node.value:
            self.error(node, "`branch` must be a list like [{if: ..., goto: step}, {else: step}]")
            return ()
        out: list[Condition] = []
        for index, item in enumerate(node.value):
            last = index == len(node.value) - 1
            if not isinstance(item, MappingNode):
                self.error(item, "a branch rule must be {if: ..., goto: step} or {else: step}")
                continue
            keys = self.mapping(item, ("if", "goto", "else"), "branch")
            if "else" in keys:
                if not last or len(keys) > 1:
                    self.error(item, "`else` comes alone, as the last branch rule")
                target = self.text(keys["else"], "else")
                if target is not None:
                    out.append(Condition(None, target, line_of(item)))
                    self.edge_lines[(step_line, "branch", "else")] = line_of(keys["else"])
                continue
            if "if" not in keys or "goto" not in keys:
                self.error(item, "a branch rule needs `if` and `goto`")
                continue
            expression = self.condition(keys["if"])
            target = self.text(keys["goto"], "goto")
            if expression is not None and target is not None:
                out.append(Condition(expression, target, line_of(item)))
                self.edge_lines[(step_line, "branch", expression)] = line_of(keys["goto"])
            if last:
                self.error(item, "`branch` needs a final `{else: step}` for when nothing holds")
        return tuple(out)

    def condition(self, node: Node) -> str | None:
        """Read a branch condition: a Jinja expression over contact, event and business."""
        if isinstance(node, ScalarNode) and not is_null(node) and node.tag.endswith(":bool"):
            self.error(node, "`if` needs an expression such as contact.tier == 'gold'")
            return None
        text = self.text(node, "if")
        if text is None:
            return None
        try:
            compile_condition(text)
            unknown = unknown_variables("{{ (" + text + ") }}")
        except jinja2.TemplateSyntaxError as exc:
            self.error(node, f"bad condition {text!r}: {exc}")
            return None
        for name in unknown:
            self.error(node, f"unknown variable {name!r} in `if` (use contact, event, business)")
        self.uses.extend((line_of(node), "if", ref) for ref in references("{{ " + text + " }}"))
        return text

    def split(self, node: Node | None, step_line: int) -> Mapping[str, int]:
        """Read `split: {variant_a: 50, variant_b: 50}`: step ids and positive weights."""
        out: dict[str, int] = {}
        for key, value in self.pairs(node, "split", "{variant_a: 50, variant_b: 50}"):
            weight = plain(value) if isinstance(value, ScalarNode) else None
            if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
                shown = value.value if isinstance(value, ScalarNode) else kind_name(value)
                self.error(value, f"bad weight {shown!r} for {key.value!r}: use a whole number > 0")
                continue
            out[key.value] = weight
            self.edge_lines[(step_line, "split", key.value)] = line_of(key)
        if node is not None and isinstance(node, MappingNode) and len(node.value) < 2:
            self.error(node, "a `split` needs at least two variants")
        return MappingProxyType(out)


def _overlap(a: tuple[int | None, int | None], b: tuple[int | None, int | None]) -> bool:
    low = max(x for x in (a[0], b[0], -(10**9)) if x is not None)
    high = min(x for x in (a[1], b[1], 10**9) if x is not None)
    return low <= high
