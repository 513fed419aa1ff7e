"""What a journey is: steps, waits and the journey itself, as immutable values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

# The funnel a contact moves through; a step may declare which stage it belongs to.
STAGES: tuple[str, ...] = ("awareness", "consideration", "purchase", "post_purchase", "loyalty")

# Wait branch keys that are not intents.
TIMEOUT = "timeout"
OTHER = "other"


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


class JourneyKind(StrEnum):
    """Whether a journey's messages are transactional or marketing (quiet hours + caps)."""

    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


@dataclass(frozen=True)
class Wait:
    """Pause a run until a reply or a timeout picks the next step."""

    timeout: timedelta | None
    # intent name, "timeout" or "other" -> step id
    on: Mapping[str, str]
    retry: str | None
    line: int


@dataclass(frozen=True)
class Step:
    """One step of a journey: what to do when a run arrives here, and where to go next."""

    id: str
    line: int
    stage: str | None = None
    send: str | None = None
    set: Mapping[str, Any] = field(default_factory=_empty)
    goal: str | None = None
    handoff: str | None = None
    wait: Wait | None = None
    next: str | None = None
    end: bool = False


@dataclass(frozen=True)
class Journey:
    """A named sequence of steps started by a business event."""

    id: str
    name: str
    kind: JourneyKind
    trigger_event: str | None
    steps: tuple[Step, ...]
    path: str
    _index: Mapping[str, Step] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", MappingProxyType({s.id: s for s in self.steps}))

    def step(self, step_id: str) -> Step:
        """Return the step with this id (KeyError if the journey has none)."""
        try:
            return self._index[step_id]
        except KeyError:
            raise KeyError(f"journey {self.id!r} has no step {step_id!r}") from None

    def has_step(self, step_id: str) -> bool:
        """Tell whether the journey has a step with this id."""
        return step_id in self._index

    @property
    def first(self) -> Step:
        """Return the step every run starts at."""
        return self.steps[0]
