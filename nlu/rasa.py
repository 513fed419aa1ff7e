"""Rasa's `/model/parse` answer, read into an intent ranking and entities with checked types."""

from __future__ import annotations

import math
from typing import Any

from nlu.model import Entity, Ranking


def read_answer(body: Any, length: int) -> tuple[Ranking, tuple[Entity, ...]]:
    """Return the intents (the chosen one first) and entities of a parse of `length` chars.

    Raise ValueError when `body` is not a parse: a server's answer is not trusted.
    """
    try:
        return _read(body, length)
    except (TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"not a Rasa parse: {exc!r}") from exc


def _read(body: Any, length: int) -> tuple[Ranking, tuple[Entity, ...]]:
    intent = body["intent"]
    ranking = [(str(intent["name"]), _probability(intent.get("confidence")))]
    for other in body.get("intent_ranking") or ():
        name = str(other["name"])
        if name != ranking[0][0]:
            ranking.append((name, _probability(other.get("confidence"))))
    entities = tuple(
        Entity(
            str(found["entity"]),
            found.get("value"),
            *_span(found, length),
            extractor=_extractor(found),
        )
        for found in body.get("entities") or ()
    )
    return ranking, entities


def _probability(value: Any) -> float:
    number = float(value if value is not None else 0.0)
    return min(max(number, 0.0), 1.0) if math.isfinite(number) else 0.0


def _span(found: dict[str, Any], length: int) -> tuple[int | None, int | None]:
    """Return the entity's (start, end) if they index the text, else (None, None)."""
    start, end = found.get("start"), found.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= length:
        return start, end
    return None, None


def _extractor(found: dict[str, Any]) -> str:
    return str(found.get("extractor") or "rasa")
