"""Scheduled journeys: at each due time, start a journey for every contact in its segment."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from bot.conversation.runner import Conversations
from bot.storage import keys
from bot.storage.store import Store, text
from flows.model import Journey, Trigger
from flows.rules import matches_segment
from flows.timing import next_schedule_time, zone_named

log = logging.getLogger(__name__)

CHUNK = 500


class Schedules:
    """Fires schedule triggers once each, whichever worker sees them due first."""

    def __init__(self, store: Store, conversations: Conversations, timezone: str) -> None:
        self.store = store
        self.conversations = conversations
        self.journeys = conversations.journeys
        zone = zone_named(timezone)
        if zone is None:
            raise ValueError(f"unknown time zone {timezone!r}")
        self.zone = zone
        self.key = keys.SCHEDULES

    def triggers(self) -> Iterator[tuple[str, Journey, Trigger]]:
        """Yield (name, journey, trigger) for every schedule trigger."""
        for journey in self.journeys.values():
            for index, trigger in enumerate(journey.triggers_of("schedule")):
                yield f"{journey.id}:{index}", journey, trigger

    def run_due(self, now: datetime) -> int:
        """Fire every schedule trigger that is due; return how many journeys started."""
        started = 0
        for name, journey, trigger in self.triggers():
            stored = self.store.redis.hget(self.key, name)
            if stored is None:
                # First sight: remember when it is next due, so that time is not skipped.
                first = next_schedule_time(trigger, None, now, self.zone)
                self.store.redis.hsetnx(self.key, name, first.isoformat())
                stored = self.store.redis.hget(self.key, name)
                if stored is None:  # the hash was cleared meanwhile: look again next tick
                    continue
            due = datetime.fromisoformat(text(stored))
            if due > now:
                continue
            following = next_schedule_time(trigger, due, now, self.zone)
            # Only the worker that moves the due time on runs the sweep.
            moved = self.store.scripts(
                "advance_schedule", [self.key], [name, stored, following.isoformat()]
            )
            if moved:
                started += self.sweep(journey, trigger, now)
        return started

    def sweep(self, journey: Journey, trigger: Trigger, now: datetime) -> int:
        """Start the journey for every contact in the trigger's segment; return how many."""
        segment = trigger.params["segment"]
        started = 0
        phones = self.store.phones()
        for offset in range(0, len(phones), CHUNK):
            contacts = self.store.load_contacts(phones[offset : offset + CHUNK])
            for contact in contacts.values():
                if not matches_segment(segment, contact.template_view(), now):
                    continue
                if self.conversations.runner.refusal(contact, journey) is not None:
                    continue  # not worth a lock: unsubscribed, no consent or with staff
                if self.conversations.enter(contact.phone, journey.id, {}) is None:
                    started += 1
        log.info("schedule %s started %d runs", journey.id, started)
        return started
