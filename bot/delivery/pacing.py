"""Pacing: whether a message may go now, or must wait out quiet hours or a frequency cap.

Checked by the sender right before each send, so a message queued in the afternoon and
sent at 21:05 still waits. Quiet hours come first and take no place under a cap; a capped
message then takes its place atomically (bot/storage/lua/reserve.lua), so two workers
sending at once never pass a cap between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.domain.frequency import Cap
from bot.domain.guardrails import Standing
from bot.domain.messages import Message
from bot.domain.phones import timezone_for
from bot.domain.quiet_hours import QuietHours, next_allowed
from bot.domain.state_rules import state_rule
from bot.storage.store import Store
from flows.timing import zone_named

RESPECT = "respect"  # Message.quiet_hours of a message that waits out quiet hours
SKIP = "skip"  # Message.when_capped of a message that is never sent when the cap is full
QUIET_HOURS = "quiet_hours"
FREQUENCY_CAP = "frequency_cap"


@dataclass(frozen=True)
class Hold:
    """A message that may not go now: deferred `until` a time, or skipped when that is None."""

    reason: str
    until: datetime | None


class Pacer:
    """Applies QUIET_HOURS, FREQUENCY_CAP and the state rules to one message at a time."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def windows(self, phone: str) -> tuple[QuietHours, ...]:
        """Return the quiet windows for a number: QUIET_HOURS and its state's, if any."""
        rule = state_rule(phone)
        found = (self.settings.quiet_hours, rule.quiet if rule else None)
        return tuple(window for window in found if window is not None)

    def caps(self, phone: str) -> tuple[Cap, ...]:
        """Return the caps for a number: FREQUENCY_CAP and its state's, if any."""
        rule = state_rule(phone)
        found = (self.settings.frequency_cap, rule.cap if rule else None)
        return tuple(cap for cap in found if cap is not None)

    def hold(self, message: Message, standing: Standing | None, now: datetime) -> Hold | None:
        """Say whether `message` must wait (and until when) or be skipped; None: send it now.

        A None answer for a capped message has taken its place under the cap.
        """
        if message.quiet_hours == RESPECT:
            zone = zone_named(standing.timezone if standing else None) or zone_named(
                timezone_for(message.phone, self.settings.default_timezone)
            )
            until = next_allowed(now, zone, self.windows(message.phone)) if zone else None
            if until is not None:
                return Hold(QUIET_HOURS, until)
        if message.when_capped:
            caps = self.caps(message.phone)
            if caps:
                places = [(cap.count, cap.window.total_seconds()) for cap in caps]
                room = self.store.reserve(message.phone, message.id, now, places)
                if room is not None:
                    return Hold(FREQUENCY_CAP, None if message.when_capped == SKIP else room)
        return None
