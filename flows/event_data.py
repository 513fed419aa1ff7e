"""Event data a journey takes: the types a declaration names, and the check of a payload.

A declaration maps each field to a type, written in words: `appointment_at: future time`,
`provider: optional text`. Fields are needed unless `optional`; `future` asks a time or
a date not to have passed. POST /api/events checks an event's data against every journey
it reaches before anything starts. flows/definition/event_data.py reads declarations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from flows.timing import instant, moment

if TYPE_CHECKING:
    from flows.model import Journey


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
