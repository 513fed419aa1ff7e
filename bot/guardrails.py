"""Guardrails: whether a message of a given kind may go to a contact right now."""

from __future__ import annotations

from bot.contacts import Contact, Purpose
from bot.messages import Kind


def refusal(contact: Contact | None, kind: Kind | None) -> str | None:
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
