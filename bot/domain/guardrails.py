"""Guardrails: whether a message of a given kind may go to a contact right now."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.contacts import Contact, Purpose
from bot.domain.messages import Kind


@dataclass(frozen=True)
class Standing:
    """What the guardrails need to know of a contact, read without loading all of it."""

    subscribed: bool
    undeliverable: int | None
    marketing: bool

    def has_consent(self, purpose: Purpose) -> bool:
        """Say whether the contact may receive messages sent for `purpose`."""
        return self.subscribed and purpose is Purpose.MARKETING and self.marketing


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
    if kind is Kind.MARKETING and not contact.has_consent(Purpose.MARKETING):
        return "no_marketing_consent"
    return None
