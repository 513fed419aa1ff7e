"""Pacing: whether a message may go now, or must wait out quiet hours or a frequency cap.

Checked by the sender right before each send, so a message queued in the afternoon and
sent at 21:05 still waits. A capped message takes its place under the caps in the script
that claims it (bot/storage/lua/claim.lua), so two workers sending at once never pass a
cap between them and the check costs no round trip of its own; a message then held by
quiet hours gives its place back as it is deferred, and one that ends without going out
(withheld by a guardrail, refused by Twilio, given up) as it is settled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.config import Settings
from bot.domain.frequency import Cap
from bot.domain.guardrails import Standing
from bot.domain.messages import Message
from bot.domain.phones import zones_of
from bot.domain.quiet_hours import QuietHours, next_allowed_in_all
from bot.domain.state_rules import state_rule
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
    release: bool = False  # give back the place the claim took under the caps


class Pacer:
    """Applies QUIET_HOURS, FREQUENCY_CAP and the state rules to one message at a time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

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

    def zones(
        self, phone: str, timezone: str | None, timezone_set: bool | None = None
    ) -> tuple[tzinfo, ...]:
        """Return where the person may be: their zone, else every zone their number spans.

        A zone set for the contact (`timezone_set`) is theirs, whatever it is, even
        DEFAULT_TIMEZONE. One only guessed when the contact was made is not trusted alone:
        the number may span several zones, and 08:00 must be 08:00 wherever they may be;
        a number with none known falls back to DEFAULT_TIMEZONE. A contact stored before
        the two were told apart (None) is read as then: its zone is its own unless it is
        DEFAULT_TIMEZONE.
        """
        default = self.settings.default_timezone
        if timezone_set is None:
            timezone_set = timezone != default
        own = zone_named(timezone) if timezone_set else None
        if own is not None:
            return (own,)
        spanned = tuple(z for name in zones_of(phone) if (z := zone_named(name)) is not None)
        fallback = zone_named(default)
        return spanned or ((fallback,) if fallback is not None else ())

    def places(self, phone: str) -> list[tuple[int, float]]:
        """Return the caps a number's marketing counts against, as (count, window seconds)."""
        return [(cap.count, cap.window.total_seconds()) for cap in self.caps(phone)]

    def hold(self, message: Message, standing: Standing | None, now: datetime) -> Hold | None:
        """Say whether `message` must wait (and until when) or be skipped; None: send it now.

        The claim has already taken the message's place under the caps, or found when there
        will be room (`standing.placed`, `standing.room`): quiet hours are checked here.
        """
        if message.quiet_hours == RESPECT:
            zones = self.zones(
                message.phone,
                standing.timezone if standing else None,
                standing.timezone_set if standing else None,
            )
            until = next_allowed_in_all(now, zones, self.windows(message.phone))
            if until is not None:
                return Hold(QUIET_HOURS, until, release=bool(standing and standing.placed))
        if standing is not None and standing.room is not None and message.when_capped:
            return Hold(FREQUENCY_CAP, None if message.when_capped == SKIP else standing.room)
        return None
