"""Records the engine emits for the bot layer to act on after it saves the run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar


@dataclass(frozen=True)
class MessageCreated:
    """A message to send to the contact."""

    type: ClassVar[str] = "message_created"
    run_id: str
    journey: str
    step: str
    text: str
    kind: str


@dataclass(frozen=True)
class WaitStarted:
    """The run now waits for a reply; schedule Timeout(seq) at timeout_at."""

    type: ClassVar[str] = "wait_started"
    run_id: str
    journey: str
    step: str
    seq: int
    timeout_at: datetime | None


@dataclass(frozen=True)
class FieldSet:
    """Store a value in the contact's fields."""

    type: ClassVar[str] = "field_set"
    name: str
    value: Any


@dataclass(frozen=True)
class StageChanged:
    """Move the contact to a funnel stage."""

    type: ClassVar[str] = "stage_changed"
    stage: str


@dataclass(frozen=True)
class HandoffRequested:
    """Ask staff to take the conversation over."""

    type: ClassVar[str] = "handoff_requested"
    run_id: str
    journey: str
    step: str
    reason: str


@dataclass(frozen=True)
class GoalReached:
    """Count a conversion for the journey."""

    type: ClassVar[str] = "goal_reached"
    run_id: str
    journey: str
    goal: str


@dataclass(frozen=True)
class JourneyEnded:
    """The run is closed; reason says why when the status alone does not."""

    type: ClassVar[str] = "journey_ended"
    run_id: str
    journey: str
    status: str
    reason: str | None = None


Event = (
    MessageCreated
    | WaitStarted
    | FieldSet
    | StageChanged
    | HandoffRequested
    | GoalReached
    | JourneyEnded
)


def as_dict(event: Event) -> dict[str, Any]:
    """Return the event as a JSON-safe dict with its type first."""
    out: dict[str, Any] = {"type": event.type}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        out[f.name] = value.isoformat() if isinstance(value, datetime) else value
    return out
