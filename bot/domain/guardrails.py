"""Guardrails: whether a message of a given kind may go to a contact right now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.consent import Purpose
from bot.domain.contacts import Contact
from bot.domain.messages import Kind
from flows.state import RunStatus

# The consent each kind of message needs; the rest need only a subscribed contact.
NEEDS: dict[Kind, Purpose] = {
    Kind.MARKETING: Purpose.MARKETING,
    Kind.TRANSACTIONAL: Purpose.TRANSACTIONAL,
}


@dataclass(frozen=True)
class Standing:
    """What the guardrails need to know of a contact, read without loading all of it."""

    subscribed: bool
    undeliverable: int | None
    marketing: bool
    transactional: bool = True
    timezone: str | None = None
    # Whether `timezone` was set for the contact, not guessed from the number (Contact's
    # `timezone_set`); None for a contact stored before that was kept.
    timezone_set: bool | None = None
    # When each purpose's consent last changed (ISO 8601), where it ever was decided.
    changed: Mapping[Purpose, str | None] = field(default_factory=dict)
    # What claiming the message found under the frequency caps: it holds its place, or
    # there will be room at `room`.
    placed: bool = False
    room: datetime | None = None
    # The status of the journey run that sent the message, while the contact keeps it.
    run: str | None = None

    def has_consent(self, purpose: Purpose) -> bool:
        """Say whether the contact may receive messages sent for `purpose`."""
        granted = self.marketing if purpose is Purpose.MARKETING else self.transactional
        return self.subscribed and granted


# Runs that ended before reaching their end: an exit event, an opt-out, a new entry, a
# journey changed under them. What they had queued and not yet sent is no longer wanted.
CUT_SHORT = frozenset({RunStatus.EXITED, RunStatus.INTERRUPTED, RunStatus.EXPIRED})


def run_cut_short(standing: Standing | None) -> bool:
    """Say whether the journey run that queued a message has ended early since.

    "You left the whitening kit in your cart", held overnight by quiet hours, must not go
    once the order placed at 06:00 has ended its run.
    """
    return standing is not None and standing.run in CUT_SHORT


def queued_before_change(standing: Standing | None, kind: Kind | None, at: str) -> bool:
    """Say whether a message made at `at` was queued before its purpose's consent changed.

    Such a message was queued under a decision since reversed (a STOP, then a START or a
    fresh opt-in): it is not sent, whatever the decision is now.
    """
    purpose = NEEDS.get(kind) if kind is not None else None
    changed = standing.changed.get(purpose) if standing and purpose else None
    if not changed:
        return False
    return datetime.fromisoformat(at) < datetime.fromisoformat(changed)


def refusal(contact: Contact | Standing | None, kind: Kind | None) -> str | None:
    """Say why a message of `kind` must not go to `contact` now, or None if it may."""
    if kind is Kind.COMPLIANCE:
        return None  # confirmations of STOP/START/HELP always go
    if contact is None:
        return "unknown_contact"
    if not contact.subscribed:
        return "unsubscribed"
    if contact.undeliverable is not None:
        return "undeliverable"
    purpose = NEEDS.get(kind) if kind is not None else None
    if purpose is not None and not contact.has_consent(purpose):
        return f"no_{purpose}_consent"
    return None
