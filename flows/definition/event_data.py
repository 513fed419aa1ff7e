"""Read a journey's `event_data:` and `key:` sections, and check what the journey reads."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.event_data import (
    DATED,
    FUTURE,
    KEYABLE,
    MODIFIERS,
    OPTIONAL,
    TYPE_NAMES,
    DataField,
    DataType,
)
from flows.model import Trigger

# report(node or line, message): how the journey reader records a mistake
Report = Callable[[Node | int, str], None]
HINT = "like {appointment_at: future time, provider: optional text}"


def parse_field(name: str, text: str, line: int = 0) -> DataField | str:
    """Read `future time` or `optional text` for field name; return what is wrong otherwise."""
    words = text.split()
    types = [word for word in words if word in TYPE_NAMES]
    for word in words:
        if word in TYPE_NAMES or word in MODIFIERS:
            continue
        if types:
            return f": unknown word {word!r} (before the type: {', '.join(MODIFIERS)})"
        close = difflib.get_close_matches(word, TYPE_NAMES, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f": unknown type {word!r}{hint} (types: {', '.join(TYPE_NAMES)})"
    if not types:
        return f" needs a type: one of {', '.join(TYPE_NAMES)}"
    if len(types) > 1:
        return f": say the type once, not {' and '.join(repr(t) for t in types)}"
    kind = DataType(types[0])
    if FUTURE in words and kind not in DATED:
        return ": only a time or a date can be `future`"
    return DataField(name, kind, OPTIONAL not in words, FUTURE in words, line)


def read_event_data(node: Node | None, report: Report) -> Mapping[str, DataField] | None:
    """Read `event_data: {name: type words}`; None when the journey declares none."""
    if node is None:
        return None
    if not isinstance(node, MappingNode):
        report(node, f"`event_data` must be a mapping of field names to types, {HINT}")
        return None
    out: dict[str, DataField] = {}
    for key, value in node.value:
        name = key.value.strip() if isinstance(key, ScalarNode) else ""
        if not name.isidentifier():
            shown = key.value if isinstance(key, ScalarNode) else "a key"
            report(key, f"{shown!r} in `event_data` must be a field name (letters, digits, _)")
            continue
        if name in out:
            report(key, f"{name!r} appears twice in `event_data`")
            continue
        text = value.value if isinstance(value, ScalarNode) else ""
        if not isinstance(text, str) or not text.strip():
            report(
                value, f"{name!r} in `event_data` must be a type, like `time` or `optional text`"
            )
            continue
        found = parse_field(name, text, value.start_mark.line + 1)
        if isinstance(found, str):
            report(value, f"{name!r} in `event_data`{found}")
        else:
            out[name] = found
    return MappingProxyType(out)


def read_key(
    node: Node | None, declared: Mapping[str, DataField] | None, report: Report
) -> tuple[str, ...]:
    """Read `key: event.booking_id` (or a list, the first present wins) into field names."""
    if node is None:
        return ()
    items = node.value if isinstance(node, SequenceNode) else [node]
    if not items:
        report(node, "`key` must name event data, like event.booking_id")
    names: list[str] = []
    for item in items:
        text = item.value.strip() if isinstance(item, ScalarNode) else ""
        holder, _, name = text.partition(".")
        if holder != "event" or not name.isidentifier():
            report(item, "`key` must name event data, like event.booking_id")
            continue
        field = declared.get(name) if declared is not None else None
        if declared is not None and field is None:
            report(item, f"`key` names event.{name}, which `event_data` does not declare")
            continue
        if field is not None and field.type not in KEYABLE:
            report(item, f"`key` names event.{name}, a {field.type}: a key is text or a number")
            continue
        names.append(name)
    return tuple(names)


def with_declared(
    fields: frozenset[str] | None,
    declared: Mapping[str, DataField] | None,
    uses: Iterable[tuple[int, str, str]],
) -> frozenset[str] | None:
    """Return `fields:` as the fields check sees it: with `event_data`, that checks event.x."""
    if fields is None or declared is None:
        return fields
    return fields | {ref for _, _, ref in uses if ref.startswith("event.")}


def check_reads(
    uses: Iterable[tuple[int, str, str]],
    declared: Mapping[str, DataField] | None,
    triggers: Iterable[Trigger],
    report: Report,
) -> None:
    """Flag event data a journey reads that its declaration lacks, and dates that are not dates."""
    if declared is None:
        return
    for line, what, reference in uses:
        holder, _, name = reference.partition(".")
        if holder != "event":
            continue
        field = declared.get(name)
        if field is None:
            report(line, f"`{what}` uses {reference}, which `event_data` does not declare")
        elif what in ("before", "after") and field.type not in DATED:
            report(line, _not_dated(f"`{what}` reads {reference}", field))
    for trigger in triggers:
        if trigger.kind != "date" or trigger.params["source"] == "contact":
            continue
        name = trigger.params["field"]
        field = declared.get(name)
        reads = f"the `date` trigger reads event.{name}"
        if field is None and trigger.params["source"] == "event":
            report(trigger.line, f"{reads}, which `event_data` does not declare")
        elif field is not None and field.type not in DATED:
            report(trigger.line, _not_dated(reads, field))


def _not_dated(reads: str, field: DataField) -> str:
    return f"{reads}, which `event_data` declares as {field.type}: declare it a time or a date"
