"""Times a journey depends on: time zones, date fields, delays and schedules, all pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flows.model import Delay, Trigger

# Two days short of each end of the calendar: neither an offset written into a time nor
# any zone's clock (each under a day) can move a time between these off the calendar.
FIRST_DAY = date.min + timedelta(days=2)
LAST_DAY = date.max - timedelta(days=2)


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_named(name: Any) -> tzinfo | None:
    """Return the IANA time zone called name, or None when there is none by that name."""
    # ZoneInfo opens whatever file the name points at: a folder ("America"), a path too
    # long for the file system, anything. Only the database's own zone names get that far.
    if not isinstance(name, str) or name not in _zone_names():
        return None
    return ZoneInfo(name)


def zone_of(*holders: Any) -> tzinfo:
    """Return the first valid `timezone` among the holders (contact, business), else UTC."""
    for holder in holders:
        zone = zone_named(holder.get("timezone")) if isinstance(holder, Mapping) else None
        if zone is not None:
            return zone
    return UTC


def _parse(value: Any) -> datetime | date | None:
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


def _on_calendar(found: datetime | date) -> bool:
    day = found.date() if isinstance(found, datetime) else found
    return FIRST_DAY <= day <= LAST_DAY


def moment(value: Any) -> datetime | date | None:
    """Return value as a datetime (or a plain date), or None when it is not one.

    A time within two days of the calendar's ends (years 1 and 9999) counts as none:
    some time zone's clock would show it on a day the calendar does not have.
    """
    found = _parse(value)
    return found if found is not None and _on_calendar(found) else None


def off_calendar(value: Any) -> bool:
    """Say whether value is an ISO-8601 time too near the calendar's ends to show everywhere."""
    found = _parse(value)
    return found is not None and not _on_calendar(found)


def _shifted(anchor: datetime, delta: timedelta) -> datetime | None:
    """Return anchor moved by delta, or None when that leaves the calendar."""
    try:
        return anchor + delta
    except OverflowError:
        return None


def instant(value: Any, zone: tzinfo) -> datetime | None:
    """Return value as an aware datetime: naive times are UTC, plain dates start at midnight."""
    found = moment(value)
    if isinstance(found, datetime):
        return found if found.tzinfo is not None else found.replace(tzinfo=UTC)
    if isinstance(found, date):
        return datetime.combine(found, time(0), tzinfo=zone)
    return None


def next_local(now: datetime, at: time, zone: tzinfo) -> datetime:
    """Return the next time the clock in zone shows `at` (now itself when it shows it now)."""
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), at, tzinfo=zone)
    if candidate < local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(UTC)


def field_value(reference: str, variables: Mapping[str, Any]) -> Any:
    """Return the value of "event.x" or "contact.x" from template variables, or None."""
    holder, _, name = reference.partition(".")
    source = variables.get(holder)
    return source.get(name) if isinstance(source, Mapping) else None


def delay_due(
    delay: Delay, variables: Mapping[str, Any], now: datetime, zone: tzinfo
) -> datetime | None:
    """Return when a delay ends, or None when it cannot be known (a missing date field)."""
    if delay.mode == "for":
        return now + delay.duration
    if delay.mode == "until":
        return next_local(now, delay.at or time(0), zone)
    anchor = instant(field_value(delay.field or "", variables), zone)
    if anchor is None:
        return None
    return _shifted(anchor, -delay.duration if delay.mode == "before" else delay.duration)


def date_trigger_time(
    trigger: Trigger, contact: Mapping[str, Any], data: Mapping[str, Any] | None = None
) -> datetime | None:
    """Return when a date trigger fires for a contact and an event's data, or None."""
    if trigger.kind != "date":
        raise ValueError(f"not a date trigger: {trigger.kind}")
    name, source = trigger.params["field"], trigger.params["source"]
    fields = contact.get("fields") or {}
    value = None
    if source in ("event", "any") and data:
        value = data.get(name)
    if value is None and source in ("contact", "any"):
        value = fields.get(name)
    anchor = instant(value, zone_of(contact))
    return None if anchor is None else _shifted(anchor, trigger.params["offset"])


def next_schedule_time(
    trigger: Trigger, last: datetime | None, now: datetime, zone: tzinfo
) -> datetime:
    """Return when a schedule trigger fires next, given when it last fired (None: never)."""
    if trigger.kind != "schedule":
        raise ValueError(f"not a schedule trigger: {trigger.kind}")
    every: timedelta = trigger.params["every"]
    at: time | None = trigger.params["at"]
    if at is None:
        return now if last is None else max(now, last + every)
    if last is None:
        return next_local(now, at, zone)
    # With a time of day, `every` counts whole days on the local calendar.
    day = last.astimezone(zone).date() + timedelta(days=max(1, every.days))
    due = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
    return due if due >= now else next_local(now, at, zone)
