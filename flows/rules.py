"""Entry, exit, keyword and segment rules the bot applies around the engine, as pure helpers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from flows.model import Entry, Journey, Segment
from flows.state import Run
from flows.timing import instant, zone_of

_EDGES = re.compile(r"^\W+|\W+$")


def entry_decision(
    journey: Journey, open_runs: Iterable[Run], key: str | None = None
) -> tuple[Literal["start", "skip"], list[Run]]:
    """Decide whether to start journey given the contact's runs, and which runs to end first.

    skip: start only when the contact is not already in this journey.
    restart: end the open run of this journey (if any) and start again.
    interrupt: like skip for this journey, but end every open run of other journeys.
    "This journey" means its runs about the same key (the same booking), if it has keys.
    """
    runs = [run for run in open_runs if run.is_open]
    mine = [run for run in runs if run.journey == journey.id and run.key == key]
    if journey.entry is Entry.RESTART:
        return "start", mine
    if mine:
        return "skip", []
    if journey.entry is Entry.INTERRUPT:
        return "start", [run for run in runs if run.journey != journey.id]
    return "start", []


def exit_matches(journey: Journey, event_name: str) -> bool:
    """Tell whether an API event ends this journey's open runs (its `exit: {events: ...}`)."""
    return event_name in journey.exit_events


def exit_ends(journey: Journey, run: Run, event_name: str, key: str | None) -> bool:
    """Tell whether an exit event about `key` ends this run: only a run of another key survives."""
    if run.journey != journey.id or not exit_matches(journey, event_name):
        return False
    return key is None or run.key is None or run.key == key


def keyword_matches(journey: Journey, text: str) -> bool:
    """Tell whether an inbound text is exactly one of the journey's trigger keywords."""
    return trigger_word(text) in journey.trigger_keywords


def trigger_word(text: str) -> str:
    """Return an inbound text as keyword triggers compare it: no edge punctuation, upper case."""
    return _EDGES.sub("", text).upper()


def matches_segment(segment: Segment, contact: Mapping[str, Any], now: datetime) -> bool:
    """Tell whether a contact is in a segment.

    contact is the engine's view plus `last_active_at` (ISO time of the last message either
    way); without it `created_at` stands in, and a contact with neither is not inactive.
    """
    if segment.stage is not None and contact.get("stage") != segment.stage:
        return False
    tags = set(contact.get("tags") or ())
    if not tags.issuperset(segment.tags):
        return False
    fields = contact.get("fields") or {}
    if any(fields.get(name) != value for name, value in segment.fields.items()):
        return False
    if segment.inactive_for is not None:
        zone = zone_of(contact)
        last = instant(contact.get("last_active_at") or contact.get("created_at"), zone)
        if last is None or now - last < segment.inactive_for:
            return False
    return True
