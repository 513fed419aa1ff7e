"""Parse one journey file's YAML into a Journey, collecting every mistake with its line."""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from flows.model import Journey, JourneyKind, Step
from flows.parser_steps import StepsReader
from flows.reader import (
    LANGUAGE_CODE,
    JourneyError,
    kind_name,
    line_of,
    parse_duration,
    parse_offset,
)
from flows.validation import check_fields, check_links, check_loops, check_reachable

__all__ = ["JourneyError", "Parser", "parse_duration", "parse_offset"]

JOURNEY_KEYS = (
    "id", "name", "kind", "language", "trigger", "entry", "exit", "fields", "defaults", "nlu",
    "steps",
)  # fmt: skip
# A journey without `kind` gets the stricter rules: quiet hours and caps apply.
DEFAULT_KIND = JourneyKind.MARKETING
DEFAULT_LANGUAGE = "en"


class Parser(StepsReader):
    """Turn one file's YAML node tree into a Journey, collecting errors as it goes."""

    def __init__(self, path: str, source: str) -> None:
        super().__init__(path, source)
        self.id_line = 1

    def parse(self) -> Journey | None:
        """Return the journey, or None when the file has mistakes (see .errors)."""
        root = self.root()
        if root is None:
            return None
        top = self.mapping(root, JOURNEY_KEYS, "journey")
        journey_id = self.text(top.get("id"), "id")
        if "id" not in top:
            self.error(root, "missing `id`")
        else:
            self.id_line = line_of(top["id"])
        name = self.text(top.get("name"), "name") or journey_id
        kind = self.kind(top.get("kind"))
        language = self.language(top.get("language"))
        triggers = self.triggers(top.get("trigger"))
        entry = self.entry(top.get("entry"))
        exit_events = self.exit_events(top.get("exit"))
        fields = self.fields(top.get("fields"))
        self.defaults = self.defaults_of(top.get("defaults"))
        vocabulary = self.vocabulary(top.get("nlu"))
        steps = self.steps(top.get("steps"), root)
        check_fields(self.uses, fields, self.defaults, steps, self.error)
        self.errors.sort(key=lambda error: error.line)
        if self.errors or journey_id is None:
            return None
        return Journey(
            journey_id,
            name or journey_id,
            kind,
            triggers,
            steps,
            self.path,
            language=language,
            entry=entry,
            exit_events=exit_events,
            fields=fields,
            defaults=self.defaults,
            vocabulary=vocabulary,
        )

    def root(self) -> MappingNode | None:
        """Compose the YAML and return its top mapping, or None with an error."""
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
            found = kind_name(root)
            self.error(root, f"a journey must be a mapping with id and steps, not {found}")
            return None
        return root

    def kind(self, node: Node | None) -> JourneyKind:
        """Read `kind`, defaulting to marketing."""
        return self.step_kind(node) or DEFAULT_KIND

    def language(self, node: Node | None) -> str:
        """Read `language`, the variant of a message people get when theirs is missing."""
        text = self.text(node, "language")
        if node is None or text is None:
            return DEFAULT_LANGUAGE
        if not LANGUAGE_CODE.fullmatch(text):
            self.error(node, f"{text!r} is not a language code like en or es")
            return DEFAULT_LANGUAGE
        return text

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
        check_links(steps, self.edge_lines, self.error)
        check_loops(steps, self.error)
        # Without every step's id the first step and the links are unknown: skip the noise.
        if complete:
            check_reachable(steps, self.error)
        return tuple(steps)
