"""Parse results, shaped after Rasa's so either source can feed the same actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

EXTRACTOR = "parley_rules"

# Intents with their probabilities, most likely first.
Ranking = list[tuple[str, float]]


@dataclass(frozen=True, slots=True)
class Entity:
    """A value found in a message; start/end index the original text when known."""

    entity: str
    value: Any
    start: int | None = None
    end: int | None = None
    # Who found it: Parley's rules, or a remote parser such as a Rasa server.
    extractor: str = field(default=EXTRACTOR, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """Return the entity in Rasa's format."""
        return {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "extractor": self.extractor,
        }


@dataclass(frozen=True, slots=True)
class Parse:
    """The intent of one inbound message, with how sure we are and what it mentioned."""

    text: str
    intent: str
    confidence: float
    entities: tuple[Entity, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within [0, 1], got {self.confidence!r}")

    def entity(self, name: str) -> Any | None:
        """Return the value of the first entity called `name`, or None."""
        for found in self.entities:
            if found.entity == name:
                return found.value
        return None

    def as_dict(self) -> dict[str, Any]:
        """Return the parse in Rasa's `/model/parse` format."""
        return {
            "text": self.text,
            "intent": {"name": self.intent, "confidence": self.confidence},
            "entities": [found.as_dict() for found in self.entities],
        }


class RemoteParser(Protocol):
    """A model elsewhere (a Rasa server) that reads free text; parse() asks it first.

    nlu does no I/O itself: whoever runs the parser builds one and passes it in.
    """

    def rank(self, text: str) -> tuple[Ranking, tuple[Entity, ...]] | None:
        """Return the intents for `text`, most likely first, and its entities; None when
        it cannot answer, so the local classifier does."""
        ...
