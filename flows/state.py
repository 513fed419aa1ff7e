"""A run's state and what the engine is given: the context and the inputs that resume a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class RunStatus(StrEnum):
    """Where a run is in its life: open (active, waiting, delayed, awaiting_action) or closed."""

    ACTIVE = "active"
    # waiting for a reply: the only status replies are routed to
    WAITING = "waiting"
    # paused by a delay step until its Timeout
    DELAYED = "delayed"
    # paused until the bot runs a custom action and resumes with ActionResult
    AWAITING_ACTION = "awaiting_action"
    COMPLETED = "completed"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"
    # ended by one of the journey's exit events
    EXITED = "exited"


OPEN_STATUSES = frozenset(
    {RunStatus.ACTIVE, RunStatus.WAITING, RunStatus.DELAYED, RunStatus.AWAITING_ACTION}
)


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass
class Run:
    """One contact's trip through one journey."""

    id: str
    journey: str
    step: str
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None = None
    wait_seq: int = 0
    timeout_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # when the current wait began and how many of its reminders went out
    wait_started_at: datetime | None = None
    reminders_sent: int = 0
    # what the run is about (a booking id from the event's data, by the journey's `key`)
    key: str | None = None
    # the API event that started it: the runs of one event read each other's results
    event_id: str | None = None
    # values kept with the run (`set: {run.x: ...}`), not on the contact
    results: dict[str, Any] = field(default_factory=dict)
    # the text its current wait asked, as sent: what a consent given in reply agreed to
    asked: str | None = None

    @property
    def is_open(self) -> bool:
        """Tell whether the run can still move."""
        return self.status in OPEN_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """Return the run as a JSON-safe dict."""
        return {
            "id": self.id,
            "journey": self.journey,
            "step": self.step,
            "status": self.status.value,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "wait_seq": self.wait_seq,
            "timeout_at": self.timeout_at.isoformat() if self.timeout_at else None,
            "data": dict(self.data),
            "wait_started_at": self.wait_started_at.isoformat() if self.wait_started_at else None,
            "reminders_sent": self.reminders_sent,
            "key": self.key,
            "event_id": self.event_id,
            "results": dict(self.results),
            **({"asked": self.asked} if self.asked is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Run:
        """Rebuild a run from to_dict() output (older dicts without the newer keys too)."""
        return cls(
            id=d["id"],
            journey=d["journey"],
            step=d["step"],
            status=RunStatus(d["status"]),
            started_at=datetime.fromisoformat(d["started_at"]),
            ended_at=_time(d.get("ended_at")),
            wait_seq=int(d.get("wait_seq", 0)),
            timeout_at=_time(d.get("timeout_at")),
            data=dict(d.get("data") or {}),
            wait_started_at=_time(d.get("wait_started_at")),
            reminders_sent=int(d.get("reminders_sent", 0)),
            key=d.get("key"),
            event_id=d.get("event_id"),
            results=dict(d.get("results") or {}),
            asked=d.get("asked"),
        )


@dataclass(frozen=True)
class Context:
    """What the engine may know about the world: the contact, the business, the time, the runs."""

    # phone, fields (dict), language, timezone (IANA name), stage, tags (list, optional)
    contact: Mapping[str, Any]
    business: Mapping[str, Any]
    now: datetime
    # the contact's runs, where a run finds the results of the others its event started
    runs: Sequence[Run] = ()


@dataclass(frozen=True)
class Reply:
    """A parsed inbound message."""

    intent: str
    text: str = ""
    entities: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Timeout:
    """A scheduled wake-up for the wait (or delay, or reminder) numbered seq."""

    seq: int


@dataclass(frozen=True)
class ActionResult:
    """What a custom action produced: fields to store and texts to send."""

    fields: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Click:
    """A click on a tracked link the run's journey sent (to `url`)."""

    url: str


Input = Reply | Timeout | ActionResult | Click
