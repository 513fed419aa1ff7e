"""A thread as staff read it: messages and staff actions in the order they happened."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Events that show in the thread between the messages, with how each reads there.
SHOWN = {
    "handoff_started": "Handed to staff",
    "handoff_released": "Handed back to the bot",
    "conversation_assigned": "Assigned",
    "conversation_snoozed": "Snoozed",
    "conversation_resolved": "Resolved",
    "conversation_reopened": "Reopened",
    "note_added": "Note",
    "opted_out": "Opted out",
    "opted_in": "Opted in",
    "opt_out_to_review": "Opt-out in plain words, to review",
    "opt_out_kept": "Opt-out kept",
    "opt_out_undone": "Opt-out undone",
    "consent_changed": "Consent",
    "message_suppressed": "Not sent",
    "journey_started": "Journey started",
}


@dataclass(frozen=True)
class Item:
    """One line of the thread: a message, or an event staff should see."""

    kind: str  # "message" or "event"
    at: str
    data: dict[str, Any]
    intent: dict[str, Any] | None = field(default=None)  # an inbound message's parse

    @property
    def label(self) -> str:
        """Return how an event reads in the thread."""
        return SHOWN.get(self.data.get("type", ""), self.data.get("type", ""))


def timeline(
    messages: Sequence[dict[str, Any]], events: Iterable[dict[str, Any]], *, latest: bool = True
) -> list[Item]:
    """Interleave a page of messages with the events beside them, oldest first.

    Events from before the page's first message belong to earlier pages; with `latest`
    false (an earlier page), those after its last message belong to later ones.

    Each inbound message gets what the parser made of it: the `message_received` event
    naming its id, else (older events name none) the next one with its text.
    """
    events = list(events)
    parses = [e for e in events if e.get("type") == "message_received"]
    by_id = {e["message"]: e for e in parses if e.get("message")}
    unnamed = [e for e in parses if not e.get("message")]
    items: list[Item] = []
    for message in messages:
        parse = None
        if message["direction"] == "inbound":
            parse = by_id.get(message["id"]) or _take(unnamed, message["body"])
        intent = {"name": parse["intent"], "confidence": parse["confidence"]} if parse else None
        items.append(Item("message", message["at"], message, intent))
    # Events older than the page's first message belong to an earlier page.
    start = datetime.fromisoformat(messages[0]["at"]) if messages else None
    end = datetime.fromisoformat(messages[-1]["at"]) if messages and not latest else None
    for event in events:
        if event.get("type") not in SHOWN:
            continue
        when = _when(event)
        if (start is None or when >= start) and (end is None or when <= end):
            items.append(Item("event", event["at"], event))
    # Messages before events at the same moment: an action follows what prompted it.
    items.sort(key=lambda item: (datetime.fromisoformat(item.at), item.kind != "message"))
    return items


def _when(data: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(data["at"])


def _take(candidates: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
    for index, event in enumerate(candidates):
        if event.get("text") == text:
            return candidates.pop(index)
    return None
