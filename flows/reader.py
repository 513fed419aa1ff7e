"""Read YAML nodes into plain values, recording every mistake (and warning) with its line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.model import Text
from flows.sms import UCS2, segments
from flows.template import compile_template, fixed_text, references, unknown_variables
from flows.wording import find_keyword_requests

ERROR, WARNING = "error", "warning"

_DURATION = re.compile(r"([+-])?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_NULL_TAG = "tag:yaml.org,2002:null"
DURATION_HINT = "use a number and a unit, like 30s, 15m, 24h, 2d or 1h30m"


class JourneyError(Exception):
    """One mistake (or, with severity "warning", one risk) in a journey file, at a line."""

    def __init__(self, path: str, line: int, message: str, severity: str = ERROR) -> None:
        super().__init__(path, line, message, severity)
        self.path = path
        self.line = line
        self.message = message
        self.severity = severity

    @property
    def is_warning(self) -> bool:
        """Tell whether this is a warning rather than an error."""
        return self.severity == WARNING

    def __str__(self) -> str:
        label = "warning: " if self.is_warning else ""
        return f"{self.path}:{self.line}: {label}{self.message}"


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


def line_of(node: Node) -> int:
    """Return the 1-based file line a node starts on."""
    return node.start_mark.line + 1


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


class Reader:
    """Shared node readers; subclasses read journeys, triggers and steps with them."""

    def __init__(self, path: str | Path, source: str) -> None:
        self.path = str(path)
        self.source = source
        self.errors: list[JourneyError] = []
        self.warnings: list[JourneyError] = []
        # (step line, edge kind, edge key) -> line of the target, for "missing step" errors
        self.edge_lines: dict[tuple[int, str, str], int] = {}
        # (line, what, "contact.x") for every field a template or delay reads
        self.uses: list[tuple[int, str, str]] = []
        # the journey's `defaults:`, read before the steps so messages can be measured
        self.defaults: Mapping[str, Any] = MappingProxyType({})

    def error(self, where: Node | int, message: str) -> None:
        """Record a mistake at a node's line or at a line number."""
        line = where if isinstance(where, int) else line_of(where)
        self.errors.append(JourneyError(self.path, line, message))

    def warn(self, where: Node | int, message: str) -> None:
        """Record a risk that does not stop the journey from loading."""
        line = where if isinstance(where, int) else line_of(where)
        self.warnings.append(JourneyError(self.path, line, message, WARNING))

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

    def pairs(self, node: Node | None, what: str, hint: str) -> list[tuple[ScalarNode, Node]]:
        """Return a mapping's (key node, value node) pairs, flagging a non-mapping."""
        if node is None:
            return []
        if not isinstance(node, MappingNode):
            self.error(node, f"`{what}` must be a mapping, like {hint}")
            return []
        out = []
        seen: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, ScalarNode) or is_null(key) or not key.value.strip():
                self.error(key, f"`{what}` keys must be plain words")
            elif key.value in seen:
                self.error(key, f"`{what}` key {key.value!r} appears twice")
            else:
                seen.add(key.value)
                out.append((key, value))
        return out

    def text(self, node: Node | None, what: str) -> str | None:
        """Return a scalar's text, or None (with an error) when it is not non-empty text."""
        if node is None:
            return None
        if not isinstance(node, ScalarNode) or is_null(node) or not node.value.strip():
            self.error(node, f"`{what}` must be text, not {kind_name(node)}")
            return None
        return node.value

    def words(self, node: Node | None, what: str) -> tuple[str, ...]:
        """Read one word or a list of words."""
        if node is None:
            return ()
        items = node.value if isinstance(node, SequenceNode) else [node]
        if not items:
            self.error(node, f"`{what}` must name at least one")
        out = []
        for item in items:
            word = self.text(item, what)
            if word is not None:
                out.append(word.strip())
        return tuple(out)

    def flag(self, node: Node | None, what: str) -> bool:
        """Read a true/false value."""
        if node is None:
            return False
        value = yaml.SafeLoader("").construct_object(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, bool):
            self.error(node, f"`{what}` must be true or false")
            return False
        return value

    def duration(self, node: Node | None, what: str = "duration") -> timedelta | None:
        """Read a positive duration such as 24h or 1h30m."""
        if node is None:
            return None
        text = node.value if isinstance(node, ScalarNode) else ""
        value = parse_duration(text)
        if value is None or value <= timedelta(0):
            self.error(node, f"bad duration {text!r}: {DURATION_HINT}")
            return None
        return value

    def offset(self, node: Node | None) -> timedelta:
        """Read a duration that may be negative (before) or zero."""
        if node is None:
            return timedelta(0)
        text = node.value if isinstance(node, ScalarNode) else ""
        value = parse_offset(text) if text.strip() not in ("0", "+0", "-0") else timedelta(0)
        if value is None:
            self.error(node, f"bad offset {text!r}: {DURATION_HINT}, with - for before")
            return timedelta(0)
        return value

    def clock(self, node: Node | None, what: str) -> time | None:
        """Read a time of day written "HH:MM"."""
        text = self.text(node, what)
        if node is None or text is None:
            return None
        match = _CLOCK.fullmatch(text.strip())
        if match is None:
            self.error(node, f'bad time {text!r} in `{what}`: write it as HH:MM, like "09:30"')
            return None
        return time(int(match.group(1)), int(match.group(2)))

    def field_reference(self, node: Node | None, what: str) -> str | None:
        """Read "event.x" or "contact.x" and note the field as used."""
        text = self.text(node, what)
        if text is None or node is None:
            return None
        holder, _, name = text.strip().partition(".")
        if holder not in ("event", "contact") or not name.isidentifier():
            self.error(node, f"`{what}` must name a field like event.appointment_at or contact.x")
            return None
        self.uses.append((line_of(node), what, text.strip()))
        return text.strip()

    # -- messages -------------------------------------------------------------------------

    def message(self, node: Node | None, what: str) -> Text | None:
        """Read a message: one template, or templates by language ({en: ..., es: ...})."""
        if node is None:
            return None
        if not isinstance(node, MappingNode):
            return self.template(node, what)
        variants: dict[str, str] = {}
        for key, value in self.pairs(node, what, "{en: Hello, es: Hola}"):
            if not LANGUAGE_CODE.fullmatch(key.value):
                self.error(key, f"{key.value!r} in `{what}` is not a language code like en or es")
                continue
            text = self.template(value, f"{what} ({key.value})")
            if text is not None:
                variants[key.value] = text
        if not node.value:
            self.error(node, f"`{what}` needs at least one language")
        return MappingProxyType(variants) if variants else None

    def template(self, node: Node | None, what: str, measure: bool = True) -> str | None:
        """Return a template after checking its syntax, names, wording and length."""
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
        self.uses.extend((line_of(node), what, ref) for ref in references(text))
        for request in find_keyword_requests(text):
            self.error(
                self.keyword_line(node, text, request.offset, request.keyword),
                f"`{what}` asks people to reply {request.keyword}, a carrier opt-out keyword: "
                f"it would unsubscribe them ({request.sentence!r}); use another word",
            )
        if measure:
            self.measure(node, what, text)
        return text

    def measure(self, node: Node, what: str, text: str) -> None:
        """Warn when a message's fixed text alone takes more than one SMS segment."""
        try:
            fixed = fixed_text(text, self.defaults)
        except Exception:
            return  # a template that fails without data is measured when it runs
        cost = segments(fixed)
        if cost.count <= 1:
            return
        why = f" (because of {cost.culprit!r})" if cost.encoding == UCS2 else ""
        single = 160 if cost.encoding != UCS2 else 70
        self.warn(
            node,
            f"`{what}` costs {cost.count} SMS segments: its fixed text alone is {cost.length} "
            f"{cost.encoding} characters{why}, and one segment holds {single}",
        )

    def template_line(self, node: Node, lineno: int | None) -> int:
        """Return the file line of a template error reported at the template's lineno."""
        # Only a literal block keeps the template's own line breaks.
        style = getattr(node, "style", None)
        if style == "|":
            return line_of(node) + (lineno or 1)
        return line_of(node) + (1 if style == ">" else 0)

    def keyword_line(self, node: Node, text: str, offset: int, keyword: str) -> int:
        """Return the file line where the keyword at offset in the template sits."""
        # Find the same occurrence in the raw source, where folded lines are still apart.
        word = re.compile(rf"(?<![\w-]){keyword}(?![\w-])", re.IGNORECASE)
        nth = len(word.findall(text, 0, offset))
        raw = self.source[node.start_mark.index : node.end_mark.index]
        matches = list(word.finditer(raw))
        if nth < len(matches):
            return line_of(node) + raw.count("\n", 0, matches[nth].start())
        return line_of(node)
