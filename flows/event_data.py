"""Event data a journey takes: its declaration (`event_data:`, `key:`) and the check of a payload.

A declaration maps each field to a type, written in words: `appointment_at: future time`,
`provider: optional text`. Fields are needed unless `optional`; `future` asks a time or
a date not to have passed. POST /api/events checks an event's data against every journey
it reaches before anything starts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.timing import instant, moment

if TYPE_CHECKING:
    from flows.model import Journey, Trigger

# report(node or line, message): how the journey reader records a mistake
Report = Callable[[Node | int, str], None]


class DataType(StrEnum):
    """What a field of event data holds."""

    TEXT = "text"
    NUMBER = "number"
    MONEY = "money"
    CURRENCY = "currency"
    URL = "url"
    TIME = "time"
    DATE = "date"


OPTIONAL, FUTURE = "optional", "future"
MODIFIERS = (OPTIONAL, FUTURE)
TYPE_NAMES = tuple(t.value for t in DataType)
DATED = frozenset({DataType.TIME, DataType.DATE})
# A key tells one booking (or order) from another, so it must read the same every time.
KEYABLE = frozenset({DataType.TEXT, DataType.NUMBER})

# What a value of each type is, as a refusal says it: "must be <this>, not ...".
DESCRIPTIONS: Mapping[DataType, str] = MappingProxyType(
    {
        DataType.TEXT: "text",
        DataType.NUMBER: "a number",
        DataType.MONEY: "an amount of money such as 42.50",
        DataType.CURRENCY: "a three-letter currency code such as USD",
        DataType.URL: "a web address starting http:// or https://",
        DataType.TIME: "an ISO-8601 time such as 2026-12-01T17:30:00Z",
        DataType.DATE: "an ISO-8601 date such as 2026-12-01",
    }
)
HINT = "like {appointment_at: future time, provider: optional text}"
_CURRENCY = re.compile(r"[A-Za-z]{3}")
# http(s), a host, maybe a port, then anything but spaces (flows parses no URLs with urllib:
# it does no I/O and imports nothing that does).
_URL = re.compile(r"https?://[^\s/?#:@]+(?::\d{1,5})?(?:[/?#]\S*)?", re.IGNORECASE)
# How much of a refused value an answer repeats.
SHOWN = 40


@dataclass(frozen=True)
class DataField:
    """One field of event data: its type, whether the event must carry it, and when."""

    name: str
    type: DataType
    required: bool = True
    future: bool = False
    line: int = 0


@dataclass(frozen=True)
class Problem:
    """Why one field of an event's data does not fit: `'data.x' must be ...`."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"'{self.field}' {self.problem}"


# -- reading a declaration ----------------------------------------------------------------------


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


# -- checking a payload -----------------------------------------------------------------------


def requirements(journeys: Iterable[Journey], event: str) -> list[tuple[Journey, DataField]]:
    """Return the declared fields an event's data must fit, with the journey asking for each.

    A journey the event starts (or dates a start from) asks for its whole declaration; one
    it only ends asks for nothing but its key fields, which pick the run to end.
    """
    out: list[tuple[Journey, DataField]] = []
    for journey in journeys:
        declared = journey.event_data
        if declared is None:
            continue
        dated = any(t.params.get("event") == event for t in journey.triggers_of("date"))
        if event in journey.trigger_events or dated:
            out.extend((journey, field) for field in declared.values())
        elif event in journey.exit_events:
            keys = (declared[name] for name in journey.key if name in declared)
            out.extend((journey, replace(f, required=False, future=False)) for f in keys)
    return out


def check_data(
    journeys: Iterable[Journey],
    event: str,
    data: Mapping[str, Any],
    now: datetime,
    zone: Callable[[], tzinfo],
) -> list[Problem]:
    """Return what is wrong with an event's data for the journeys it reaches, a field at a time.

    zone gives the contact's time zone, which only a `future date` needs.
    """
    problems: dict[str, Problem] = {}
    for journey, field in requirements(journeys, event):
        if field.name in problems:
            continue
        problem = check_value(journey.id, field, data.get(field.name), now, zone)
        if problem is not None:
            problems[field.name] = Problem(f"data.{field.name}", problem)
    return list(problems.values())


def check_value(
    journey: str, field: DataField, value: Any, now: datetime, zone: Callable[[], tzinfo]
) -> str | None:
    """Return what is wrong with one value for a declared field, or None when it fits."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if field.required:
            return f"is missing: journey {journey} needs it ({DESCRIPTIONS[field.type]})"
        return None
    if not _fits(field.type, value):
        return f"must be {DESCRIPTIONS[field.type]}, not {_shown(value)}"
    if field.future and _past(field.type, value, now, zone):
        later = "a time in the future" if field.type is DataType.TIME else "today or a later day"
        return f"is in the past ({str(value)[:SHOWN]}): it must be {later}"
    return None


def _fits(kind: DataType, value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is DataType.TEXT:
        return isinstance(value, str) or number
    if kind in (DataType.NUMBER, DataType.MONEY):
        if isinstance(value, str) and kind is DataType.MONEY:
            value = value.replace(",", "")
        return (number or isinstance(value, str)) and _finite(value)
    if not isinstance(value, str):
        return False
    if kind is DataType.CURRENCY:
        return bool(_CURRENCY.fullmatch(value.strip()))
    if kind is DataType.URL:
        return bool(_URL.fullmatch(value.strip()))
    found = moment(value)
    if kind is DataType.TIME:
        return isinstance(found, datetime)
    return isinstance(found, date) and not isinstance(found, datetime)


def _finite(value: Any) -> bool:
    try:
        return Decimal(str(value).strip()).is_finite()
    except InvalidOperation:
        return False


def _past(kind: DataType, value: Any, now: datetime, zone: Callable[[], tzinfo]) -> bool:
    if kind is DataType.TIME:
        at = instant(value, UTC)
        return at is not None and at <= now
    found = moment(value)
    return isinstance(found, date) and found < now.astimezone(zone()).date()


def _shown(value: Any) -> str:
    """Describe a refused value without repeating much of it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = str(value)
    return repr(text if len(text) <= SHOWN else text[:SHOWN] + "...")


def key_of(journey: Journey, data: Mapping[str, Any]) -> str | None:
    """Return what tells this run's subject from others: the first key field the data has."""
    for name in journey.key:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None
