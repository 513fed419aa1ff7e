"""Render journey message templates in a sandbox, with local-time filters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from jinja2 import ChainableUndefined, meta, pass_context
from jinja2.runtime import Context as JinjaContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The only names a template may use; anything else is a typo caught at load.
VARIABLES: frozenset[str] = frozenset({"contact", "event", "business"})

# Fixed English names: strftime's %a/%b/%p follow the process locale.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Environment(ImmutableSandboxedEnvironment):
    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data keys win over dict methods, so `event.items` is the event's field.
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _zone(context: JinjaContext) -> tzinfo:
    for holder in ("contact", "business"):
        source = context.get(holder)
        name = source.get("timezone") if isinstance(source, Mapping) else None
        if isinstance(name, str) and name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return UTC


def _moment(value: Any) -> datetime | date | None:
    """Return value as a datetime (or a plain date), or None when it is not one."""
    if isinstance(value, datetime | date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _format_date(day: date) -> str:
    return f"{_DAYS[day.weekday()]}, {_MONTHS[day.month - 1]} {day.day}"


def _localize(context: JinjaContext, value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(_zone(context))


@pass_context
def local_time(context: JinjaContext, value: Any) -> str:
    """Render an ISO-8601 time in the contact's time zone: "Tue, Nov 24 at 3:30 PM"."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    moment = _moment(value)
    if moment is None:
        return str(value)
    if not isinstance(moment, datetime):
        return _format_date(moment)
    local = _localize(context, moment)
    hour = local.hour % 12 or 12
    half = "AM" if local.hour < 12 else "PM"
    return f"{_format_date(local)} at {hour}:{local.minute:02d} {half}"


@pass_context
def local_date(context: JinjaContext, value: Any) -> str:
    """Render an ISO-8601 time as a date in the contact's time zone: "Tue, Nov 24"."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    moment = _moment(value)
    if moment is None:
        return str(value)
    if isinstance(moment, datetime):
        moment = _localize(context, moment)
    return _format_date(moment)


ENVIRONMENT = _Environment(
    undefined=ChainableUndefined,
    finalize=_finalize,
    autoescape=False,
    keep_trailing_newline=False,
)
ENVIRONMENT.filters["local_time"] = local_time
ENVIRONMENT.filters["local_date"] = local_date


@lru_cache(maxsize=2048)
def compile_template(text: str) -> jinja2.Template:
    """Compile a template once; later calls with the same text reuse it."""
    return ENVIRONMENT.from_string(text)


def unknown_variables(text: str) -> list[str]:
    """Return the top-level names a template uses that are not contact, event or business."""
    names = meta.find_undeclared_variables(ENVIRONMENT.parse(text))
    return sorted(names - VARIABLES)


def render(text: str, variables: Mapping[str, Any]) -> str:
    """Render a template with contact, event and business; missing values render as ""."""
    return compile_template(text).render(variables).strip()
