"""Parse one journey file's YAML into a Journey, collecting every mistake with its line."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.model import OTHER, STAGES, TIMEOUT, Journey, JourneyKind, Step, Wait
from flows.template import compile_template, unknown_variables
from flows.wording import find_keyword_requests
from nlu.intents import INTENTS

JOURNEY_KEYS = ("id", "name", "kind", "trigger", "steps")
TRIGGER_KEYS = ("event",)
STEP_KEYS = ("id", "stage", "send", "set", "goal", "handoff", "wait", "next", "end")
HANDOFF_KEYS = ("reason",)
WAIT_KEYS = ("timeout", "on", "retry")
BRANCH_KEYS = frozenset(INTENTS | {TIMEOUT, OTHER})
# A journey without `kind` gets the stricter rules: quiet hours and caps apply.
DEFAULT_KIND = JourneyKind.MARKETING

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_NULL_TAG = "tag:yaml.org,2002:null"


class JourneyError(Exception):
    """One mistake in a journey file, at a line (0 when the file itself is the problem)."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def parse_duration(text: str) -> timedelta | None:
    """Parse "30s", "15m", "24h", "2d" or "1h30m"; return None when it is not one."""
    match = _DURATION.fullmatch(text.strip())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _kind_name(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "nothing" if node.tag == _NULL_TAG else f"{node.value!r}"


def _plain(node: ScalarNode) -> Any:
    """Return a scalar as YAML reads it, keeping dates and the like as the text written."""
    value = yaml.SafeLoader("").construct_object(node)
    # Field values travel as JSON: anything beyond these stays as written.
    return value if isinstance(value, str | int | float | bool | None) else node.value


class Parser:
    """Turn one file's YAML node tree into a Journey, collecting errors as it goes."""

    def __init__(self, path: str | Path, source: str) -> None:
        self.path = str(path)
        self.source = source
        self.errors: list[JourneyError] = []
        self.id_line = 1
        # (owner line, key) -> line of a step id it points at, for "missing step" errors
        self.link_lines: dict[tuple[int, str], int] = {}

    def error(self, where: Node | int, message: str) -> None:
        """Record a mistake at a node's line or at a line number."""
        line = where if isinstance(where, int) else _line(where)
        self.errors.append(JourneyError(self.path, line, message))

    def parse(self) -> Journey | None:
        """Return the journey, or None when the file has mistakes (see .errors)."""
        try:
            root = yaml.compose(self.source, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "cannot be parsed"
            self.error(mark.line + 1 if mark else 1, f"YAML syntax error: {problem}")
            return None
        except yaml.YAMLError as exc:
            self.error(1, f"YAML syntax error: {exc}")
            return None
        if root is None:
            self.error(1, "the file is empty: a journey needs an id and steps")
            return None
        if not isinstance(root, MappingNode):
            self.error(
                root, f"a journey must be a mapping with id and steps, not {_kind_name(root)}"
            )
            return None
        top = self.mapping(root, JOURNEY_KEYS, "journey")
        journey_id = self.text(top.get("id"), "id")
        if "id" not in top:
            self.error(root, "missing `id`")
        else:
            self.id_line = _line(top["id"])
        name = self.text(top.get("name"), "name") or journey_id
        kind = self.kind(top.get("kind"))
        trigger = self.trigger(top.get("trigger"))
        steps = self.steps(top.get("steps"), root)
        if self.errors or journey_id is None:
            return None
        return Journey(journey_id, name or journey_id, kind, trigger, steps, self.path)

    # -- shapes ---------------------------------------------------------------------------

    def mapping(self, node: MappingNode, allowed: tuple[str, ...], what: str) -> dict[str, Node]:
        """Return key -> value node, flagging unknown and repeated keys."""
        out: dict[str, Node] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.error(key, f"{what} keys must be plain words")
                continue
            if key.value not in allowed:
                self.error(key, f"unknown {what} key {key.value!r} (allowed: {', '.join(allowed)})")
            elif key.value in out:
                self.error(key, f"{what} key {key.value!r} appears twice")
            else:
                out[key.value] = value
        return out

    def text(self, node: Node | None, what: str) -> str | None:
        """Return a scalar's text, or None (with an error) when it is not non-empty text."""
        if node is None:
            return None
        if not isinstance(node, ScalarNode) or node.tag == _NULL_TAG or not node.value.strip():
            self.error(node, f"`{what}` must be text, not {_kind_name(node)}")
            return None
        return node.value

    def template(self, node: Node | None, what: str) -> str | None:
        """Return a message template after checking its Jinja syntax, names and wording."""
        text = self.text(node, what)
        if text is None or node is None:
            return None
        try:
            compile_template(text)
        except jinja2.TemplateSyntaxError as exc:
            self.error(self.template_line(node, exc.lineno), f"template error in `{what}`: {exc}")
            return None
        for name in unknown_variables(text):
            message = (
                f"unknown template variable {name!r} in `{what}` (use contact, event, business)"
            )
            self.error(node, message)
        for request in find_keyword_requests(text):
            self.error(
                self.keyword_line(node, text, request.offset, request.keyword),
                f"`{what}` asks people to reply {request.keyword}, a carrier opt-out keyword: "
                f"it would unsubscribe them ({request.sentence!r}); use another word",
            )
        return text

    def template_line(self, node: Node, lineno: int | None) -> int:
        """Return the file line of a template error reported at the template's lineno."""
        # Only a literal block keeps the template's own line breaks.
        style = getattr(node, "style", None)
        if style == "|":
            return _line(node) + (lineno or 1)
        return _line(node) + (1 if style == ">" else 0)

    def keyword_line(self, node: Node, text: str, offset: int, keyword: str) -> int:
        """Return the file line where the keyword at offset in the template sits."""
        # Find the same occurrence in the raw source, where folded lines are still apart.
        word = re.compile(rf"(?<![\w-]){keyword}(?![\w-])", re.IGNORECASE)
        nth = len(word.findall(text, 0, offset))
        raw = self.source[node.start_mark.index : node.end_mark.index]
        matches = list(word.finditer(raw))
        if nth < len(matches):
            return _line(node) + raw.count("\n", 0, matches[nth].start())
        return _line(node)

    # -- journey --------------------------------------------------------------------------

    def kind(self, node: Node | None) -> JourneyKind:
        """Read `kind`, defaulting to marketing."""
        text = self.text(node, "kind")
        if text is None:
            return DEFAULT_KIND
        try:
            return JourneyKind(text)
        except ValueError:
            allowed = ", ".join(k.value for k in JourneyKind)
            self.error(node, f"unknown kind {text!r} (allowed: {allowed})")
            return DEFAULT_KIND

    def trigger(self, node: Node | None) -> str | None:
        """Read `trigger: {event: ...}` into the event name."""
        if node is None or node.tag == _NULL_TAG:
            return None
        if not isinstance(node, MappingNode):
            self.error(node, "`trigger` must be a mapping like {event: appointment_booked}")
            return None
        return self.text(self.mapping(node, TRIGGER_KEYS, "trigger").get("event"), "event")

    def steps(self, node: Node | None, root: Node) -> tuple[Step, ...]:
        """Read the step list and check how the steps link up."""
        if node is None:
            self.error(root, "missing `steps`")
            return ()
        if not isinstance(node, SequenceNode) or not node.value:
            self.error(node, "`steps` must be a non-empty list of steps")
            return ()
        steps: list[Step] = []
        lines: dict[str, int] = {}
        complete = True
        for item in node.value:
            step = self.step(item)
            if step is None:
                complete = False
                continue
            if step.id in lines:
                self.error(
                    step.line, f"duplicate step id {step.id!r} (first at line {lines[step.id]})"
                )
                continue
            lines[step.id] = step.line
            steps.append(step)
        self.check_links(steps, lines)
        self.check_loops(steps)
        # Without every step's id the first step and the links are unknown: skip the noise.
        if complete:
            self.check_reachable(steps)
        return tuple(steps)

    # -- steps ----------------------------------------------------------------------------

    def step(self, node: Node) -> Step | None:
        """Read one step; return None when it has no usable id."""
        if not isinstance(node, MappingNode):
            self.error(node, f"a step must be a mapping with an id, not {_kind_name(node)}")
            return None
        keys = self.mapping(node, STEP_KEYS, "step")
        step_id = self.text(keys.get("id"), "id")
        if "id" not in keys:
            self.error(node, "step is missing `id`")
        stage = self.text(keys.get("stage"), "stage")
        if stage is not None and stage not in STAGES:
            self.error(keys["stage"], f"unknown stage {stage!r} (allowed: {', '.join(STAGES)})")
        send = self.template(keys.get("send"), "send")
        values = self.values(keys.get("set"))
        goal = self.text(keys.get("goal"), "goal")
        handoff = self.handoff(keys.get("handoff"))
        wait = self.wait(keys.get("wait"))
        next_id = self.text(keys.get("next"), "next")
        end = self.flag(keys.get("end"), "end")
        if end and ("next" in keys or "wait" in keys):
            self.error(keys["end"], "a step with `end: true` cannot also have `next` or `wait`")
        if "next" in keys and "wait" in keys:
            message = (
                "a step cannot have both `next` and `wait`: use a wait branch such as `timeout`"
            )
            self.error(keys["next"], message)
        if step_id is None:
            return None
        line = _line(keys["id"])
        if next_id is not None:
            self.link_lines[(line, "next")] = _line(keys["next"])
        return Step(step_id, line, stage, send, values, goal, handoff, wait, next_id, end)

    def values(self, node: Node | None) -> MappingProxyType[str, Any]:
        """Read `set`: field names to plain values."""
        if node is None:
            return MappingProxyType({})
        if not isinstance(node, MappingNode):
            self.error(node, "`set` must be a mapping of field names to values")
            return MappingProxyType({})
        out: dict[str, Any] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode) or not key.value.strip():
                self.error(key, "`set` field names must be plain words")
                continue
            if not isinstance(value, ScalarNode):
                self.error(value, f"`set` value for {key.value!r} must be a single value")
                continue
            out[key.value] = _plain(value)
        return MappingProxyType(out)

    def flag(self, node: Node | None, what: str) -> bool:
        """Read a true/false value."""
        if node is None:
            return False
        value = yaml.SafeLoader("").construct_object(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, bool):
            self.error(node, f"`{what}` must be true or false")
            return False
        return value

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

    def wait(self, node: Node | None) -> Wait | None:
        """Read `wait`: its timeout, branches and retry text."""
        if node is None:
            return None
        if not isinstance(node, MappingNode):
            self.error(node, "`wait` must be a mapping with `on` and optionally timeout, retry")
            return None
        keys = self.mapping(node, WAIT_KEYS, "wait")
        timeout = self.duration(keys.get("timeout"))
        retry = self.template(keys.get("retry"), "retry")
        branches: dict[str, str] = {}
        on = keys.get("on")
        if not isinstance(on, MappingNode) or not on.value:
            self.error(on or node, "`wait` needs `on`, a mapping of intents to step ids")
        else:
            for key, value in on.value:
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
                    self.link_lines[(_line(node), name)] = _line(value)
        return Wait(timeout, MappingProxyType(branches), retry, _line(node))

    def duration(self, node: Node | None) -> timedelta | None:
        """Read a duration such as 24h or 1h30m; null means no timeout."""
        if node is None or node.tag == _NULL_TAG:
            return None
        text = node.value if isinstance(node, ScalarNode) else ""
        value = parse_duration(text)
        if value is None or value <= timedelta(0):
            self.error(
                node,
                f"bad duration {text!r}: use a number and a unit, like 30s, 15m, 24h, 2d or 1h30m",
            )
            return None
        return value

    # -- links ----------------------------------------------------------------------------

    def check_links(self, steps: list[Step], lines: dict[str, int]) -> None:
        """Flag `next` and wait branches that point at missing steps."""
        for step in steps:
            if step.next is not None and step.next not in lines:
                line = self.link_lines.get((step.line, "next"), step.line)
                self.error(line, f"step {step.id!r}: `next` points at missing step {step.next!r}")
            for branch, target in step.wait.on.items() if step.wait else ():
                if target not in lines:
                    line = self.link_lines.get((step.wait.line, branch), step.wait.line)
                    message = (
                        f"step {step.id!r}: branch {branch!r} points at missing step {target!r}"
                    )
                    self.error(line, message)

    def check_reachable(self, steps: list[Step]) -> None:
        """Flag steps that no path from the first step leads to."""
        if not steps:
            return
        by_id = {step.id: step for step in steps}
        seen = {steps[0].id}
        todo = [steps[0]]
        while todo:
            step = todo.pop()
            targets = list(step.wait.on.values()) if step.wait else []
            targets += [step.next] if step.next else []
            for target in targets:
                if target in by_id and target not in seen:
                    seen.add(target)
                    todo.append(by_id[target])
        for step in steps:
            if step.id not in seen:
                message = f"step {step.id!r} cannot be reached from the first step {steps[0].id!r}"
                self.error(step.line, message)

    def check_loops(self, steps: list[Step]) -> None:
        """Flag steps that lead back to themselves through `next` alone."""
        # Steps chained by `next` alone run in one go; a loop among them would never stop.
        following = {s.id: s.next for s in steps if s.next and s.wait is None and not s.end}
        reported: set[str] = set()
        for step in steps:
            chain = [step.id]
            current = following.get(step.id)
            while current is not None and current not in chain and current not in reported:
                chain.append(current)
                current = following.get(current)
            if current == step.id:
                reported.update(chain)
                path = " -> ".join([*chain, step.id])
                self.error(step.line, f"steps loop without a wait: {path}")
