"""Records the engine emits for the bot layer to act on after it saves the run."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, get_args


@dataclass(frozen=True)
class MessageCreated:
    """A message to send to the contact, with the sending policy of the step it comes from.

    quiet_hours is "respect", "ignore" or "" (not said: the bot decides by kind);
    when_capped is "defer" (wait for room under the frequency cap) or "skip".
    """

    type: ClassVar[str] = "message_created"
    run_id: str
    journey: str
    step: str
    text: str
    kind: str
    quiet_hours: str = ""
    when_capped: str = "defer"


@dataclass(frozen=True)
class WaitStarted:
    """The run now waits; schedule Timeout(seq) at timeout_at.

    waiting_for is "reply" (a wait step: timeout_at is its next reminder or its timeout)
    or "time" (a delay step: the run carries on at timeout_at; replies do not reach it).
    """

    type: ClassVar[str] = "wait_started"
    run_id: str
    journey: str
    step: str
    seq: int
    timeout_at: datetime | None
    waiting_for: str = "reply"


@dataclass(frozen=True)
class FieldSet:
    """Store a value in the contact's fields."""

    type: ClassVar[str] = "field_set"
    name: str
    value: Any


@dataclass(frozen=True)
class ResultSaved:
    """Keep a value with the run (`set: {run.name: value}`); the run already holds it."""

    type: ClassVar[str] = "result_saved"
    run_id: str
    journey: str
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
class ConsentGranted:
    """The contact just agreed to messages for `purpose`, by their reply to this step."""

    type: ClassVar[str] = "consent_granted"
    run_id: str
    journey: str
    step: str
    purpose: str


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


@dataclass(frozen=True)
class TagsChanged:
    """Add tags to the contact and remove others."""

    type: ClassVar[str] = "tags_changed"
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class SplitChosen:
    """The run took this variant of an A/B split (the same one on every replay)."""

    type: ClassVar[str] = "split_chosen"
    run_id: str
    journey: str
    step: str
    variant: str


@dataclass(frozen=True)
class ActionRequested:
    """Run a custom action, then resume the run with ActionResult(fields, messages)."""

    type: ClassVar[str] = "action_requested"
    run_id: str
    journey: str
    step: str
    action: str


@dataclass(frozen=True)
class JourneyStartRequested:
    """Start journey `target` for this contact with `data` as its event data."""

    type: ClassVar[str] = "journey_start_requested"
    run_id: str
    journey: str
    target: str
    data: Mapping[str, Any]


Event = (
    MessageCreated
    | WaitStarted
    | FieldSet
    | ResultSaved
    | StageChanged
    | HandoffRequested
    | ConsentGranted
    | GoalReached
    | JourneyEnded
    | TagsChanged
    | SplitChosen
    | ActionRequested
    | JourneyStartRequested
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


# Values that are JSON as they are; anything else goes through _plain.
_SCALARS = frozenset({str, int, float, bool, type(None)})


# Each event type's field names, read once: as_dict runs for every event of every turn.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {
    kind: tuple(f.name for f in dataclasses.fields(kind)) for kind in get_args(Event)
}


def as_dict(event: Event) -> dict[str, Any]:
    """Return the event as a JSON-safe dict with its type first."""
    out: dict[str, Any] = {"type": event.type}
    for name in _FIELD_NAMES[type(event)]:
        value = getattr(event, name)
        out[name] = value if type(value) in _SCALARS else _plain(value)
    return out
