"""Quiet hours: when marketing may not reach a person, in their own local time.

A window such as 21:00-08:00 wraps midnight; 08:00 itself is allowed. A message due inside
the window waits for its end (Braze and Attentive do the same), it is never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

_WINDOW = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


@dataclass(frozen=True)
class QuietHours:
    """A daily window of local time, from `start` up to (not including) `end`."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """Read `21:00-08:00`; ValueError says what is wrong."""
        found = _WINDOW.fullmatch(text)
        if not found:
            raise ValueError(f"must be a window like 21:00-08:00, not {text!r}")
        h1, m1, h2, m2 = (int(part) for part in found.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"{text!r} is not a time of day from 00:00 to 23:59")
        if (h1, m1) == (h2, m2):
            raise ValueError(f"{text!r} starts and ends at the same time")
        return cls(time(h1, m1), time(h2, m2))

    def contains(self, moment: time) -> bool:
        """Say whether a local time of day falls inside the window."""
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # wraps midnight

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def next_allowed(now: datetime, zone: tzinfo, windows: tuple[QuietHours, ...]) -> datetime | None:
    """Return the first moment at or after `now` outside every window, or None if `now` is.

    `now` is aware; the answer is in UTC. Windows overlap or follow one another (20:00-08:00
    on top of 21:00-08:00), so the end of one may fall in another: step until none holds.
    """
    local = now.astimezone(zone)
    if not any(window.contains(local.time().replace(tzinfo=None)) for window in windows):
        return None
    for _ in range(2 * len(windows) + 2):
        inside = [w for w in windows if w.contains(local.time().replace(tzinfo=None))]
        if not inside:
            return local.astimezone(ZoneInfo("UTC"))
        ends = (_end_after(local, window.end, zone) for window in inside)
        local = max(ends, key=lambda end: end.timestamp())
    return local.astimezone(ZoneInfo("UTC"))


def _end_after(local: datetime, end: time, zone: tzinfo) -> datetime:
    """Return the next local `end` o'clock after `local` (wall time, on the zone's calendar)."""
    day = local.date()
    today = datetime.combine(day, end, tzinfo=zone)
    # Compared as instants: on a fall-back night 01:30 comes twice (fold 0, then 1), and an
    # aware comparison within one zone would ignore which.
    for candidate in (today, today.replace(fold=1)):
        if candidate.timestamp() > local.timestamp():
            break
    else:
        candidate = datetime.combine(day + timedelta(days=1), end, tzinfo=zone)
    # A wall time skipped by a DST change (02:30 on a spring-forward night) normalises forward.
    return candidate.astimezone(ZoneInfo("UTC")).astimezone(zone)


def next_allowed_in_all(
    now: datetime, zones: tuple[tzinfo, ...], windows: tuple[QuietHours, ...]
) -> datetime | None:
    """Return the first moment at or after `now` outside every window in every zone, or None.

    For a person who may be in any of `zones` (a number that spans two): a moment is allowed
    only where it is allowed in all of them. Gives up (answering the last moment found) if
    the zones' allowed hours do not meet within a few days.
    """
    found, moment = None, now
    for _ in range(8 * max(1, len(zones))):
        later = [t for zone in zones if (t := next_allowed(moment, zone, windows)) is not None]
        if not later:
            return found
        moment = found = max(later)
    return found
