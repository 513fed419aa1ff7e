"""Durable timers in a Redis sorted set: each fires once, however many workers poll."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

from bot.storage import keys
from bot.storage.store import Store, timer_member

# Claimed timers sit in an in-flight set until handled; if their worker dies they
# come back after this many seconds, so a crash delays a timer but never loses it.
INFLIGHT_TIMEOUT = 60


@dataclass(frozen=True)
class TimeoutTimer:
    """A waiting run's timeout: resume the run unless it has moved on since."""

    type: ClassVar[str] = "timeout"
    phone: str
    run: str
    seq: int


@dataclass(frozen=True)
class StartTimer:
    """A date-triggered journey's start, unless the date it was scheduled from has moved."""

    type: ClassVar[str] = "start"
    phone: str
    journey: str
    due: str
    data: dict[str, Any] = field(default_factory=dict)
    # the API event whose data this is: the run shares its results with that event's runs
    event_id: str | None = None


@dataclass(frozen=True)
class SendTimer:
    """A message to put back in the outbox after a retry's backoff."""

    type: ClassVar[str] = "send"
    message: str  # its ref (Message.ref)


@dataclass(frozen=True)
class CheckTimer:
    """A look at Twilio's list for attempt `attempt` of a message whose outcome is unknown."""

    type: ClassVar[str] = "check"
    message: str  # its ref (Message.ref)
    attempt: int


@dataclass(frozen=True)
class StaffTimer:
    """A snooze running out, or staff silent for HANDBACK_AFTER: unless staff acted since.

    `mark` is what the conversation's clock read when it was set (its `snoozed_until`, or
    its last staff action); a conversation whose clock has moved on ignores it.
    """

    type: ClassVar[str] = "staff"
    phone: str
    kind: str  # "snooze" or "handback"
    mark: str


@dataclass(frozen=True)
class ClickTimer:
    """A person's click on a tracked link, for the journeys that start or wait on clicks.

    Set by the redirect (bot/storage/lua/click.lua writes this shape), due at once: the
    worker handles it under the contact's lock, as it does every input.
    """

    type: ClassVar[str] = "click"
    click: str  # the click's id, as the record has it
    code: str  # the link's: the worker reads the link (Redis, else the record)
    at: float | None = None  # when it was clicked (epoch seconds, by Redis' clock)


Timer = TimeoutTimer | StartTimer | SendTimer | CheckTimer | StaffTimer | ClickTimer
_CLASSES: dict[str, type[Timer]] = {
    cls.type: cls
    for cls in (TimeoutTimer, StartTimer, SendTimer, CheckTimer, StaffTimer, ClickTimer)
}


def encode(timer: Timer) -> dict[str, Any]:
    """Return the JSON payload stored for `timer`: its type and its fields."""
    # An optional field left unset is not written: a timer stores as it did before it existed.
    unset = {f.name for f in fields(timer) if f.default is None and getattr(timer, f.name) is None}
    return {"type": timer.type, **{k: v for k, v in asdict(timer).items() if k not in unset}}


def decode(payload: object) -> Timer | None:
    """Return the timer a stored payload describes, or None if it describes none."""
    if not isinstance(payload, Mapping):
        return None
    # Stored JSON may hold any type: a list or a mapping there cannot even be looked up.
    kind = payload.get("type")
    cls = _CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return None
    try:
        return cls(**{f.name: payload[f.name] for f in fields(cls) if f.name in payload})
    except TypeError:  # a field missing
        return None


class Timers:
    """Schedules and claims timers, stored as small JSON objects (see encode)."""

    def __init__(self, store: Store) -> None:
        self.redis = store.redis
        self.key = keys.TIMERS
        self.inflight_key = keys.TIMERS_INFLIGHT
        self._run = store.scripts

    def schedule(self, due: datetime, timer: Timer) -> None:
        """Add a timer outside a transition (transitions use Turn.schedule)."""
        self.redis.zadd(self.key, {timer_member(encode(timer)): due.timestamp()})

    def claim_due(self, now: datetime, limit: int = 500) -> list[tuple[str, Timer | None]]:
        """Claim up to `limit` timers due at `now`, earliest first (None: not a timer)."""
        stamp = now.timestamp()
        members = self._run("claim_due", [self.key, self.inflight_key], [stamp, limit, stamp])
        return [(member, decode(json.loads(member))) for member in members]

    def done(self, *members: str) -> None:
        """Forget claimed timers once they have been handled."""
        if members:
            self.redis.zrem(self.inflight_key, *members)

    def recover(self, now: datetime) -> int:
        """Return timers whose worker died to the due set; return how many."""
        stamp = now.timestamp()
        names, args = [self.key, self.inflight_key], [stamp - INFLIGHT_TIMEOUT, stamp]
        return int(self._run("recover_timers", names, args))

    def pending(self) -> int:
        """Return how many timers are scheduled."""
        return self.redis.zcard(self.key)
