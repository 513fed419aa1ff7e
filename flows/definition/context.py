"""What the readers of one journey file share: its source, its line map and its problems."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from yaml.nodes import Node

ERROR, WARNING = "error", "warning"


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


def line_of(node: Node) -> int:
    """Return the 1-based file line a node starts on."""
    return node.start_mark.line + 1


class FieldUse(NamedTuple):
    """A contact or event field that a template, condition or delay reads, and where."""

    line: int
    what: str
    reference: str


class MessageText(NamedTuple):
    """A message template as written, the key it belongs to, and its line."""

    line: int
    what: str
    text: str


class Context:
    """One journey file being read: its source, where things sit, and what is wrong with it."""

    def __init__(self, path: str | Path, source: str) -> None:
        self.path = str(path)
        self.source = source
        self.errors: list[JourneyError] = []
        self.warnings: list[JourneyError] = []
        # (step line, edge kind, edge key) -> line of the target, for "missing step" errors
        self.edge_lines: dict[tuple[int, str, str], int] = {}
        # (step line, key) -> line of the key's value, for checks that look across steps
        self.key_lines: dict[tuple[int, str], int] = {}
        # every field a template, condition or delay reads, for the `fields` check
        self.uses: list[FieldUse] = []
        # every message template sent to people, for the lints
        self.messages: list[MessageText] = []
        # the journey's `defaults:` (what a missing field shows), for checks and lints
        self.defaults: Mapping[str, Any] = MappingProxyType({})
        # whether messages go out with short links (`track_links`), for their segment counts,
        # and the base those links are on (LINK_BASE_URL; None: a typical length)
        self.track_links = True
        self.link_base: str | None = None

    def error(self, where: Node | int, message: str) -> None:
        """Record a mistake at a node's line or at a line number."""
        line = where if isinstance(where, int) else line_of(where)
        self.errors.append(JourneyError(self.path, line, message))

    def warn(self, where: Node | int, message: str) -> None:
        """Record a risk that does not stop the journey from loading."""
        line = where if isinstance(where, int) else line_of(where)
        self.warnings.append(JourneyError(self.path, line, message, WARNING))
