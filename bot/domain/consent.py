"""Consent: what a contact agreed to be texted about, and how each decision was made."""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    """What a consent is for; a journey's `kind` says which one its messages need."""

    MARKETING = "marketing"  # promotions: given only by an explicit opt-in
    TRANSACTIONAL = "transactional"  # reminders, order updates: implied until revoked


class Method(StrEnum):
    """How a consent decision was made: the evidence an auditor asks for first."""

    KEYWORD = "keyword"  # STOP, START, BAJA, STOP PROMOS: a carrier or compliance keyword
    WORDS = "words"  # plain words the parser read as an opt-out or an opt-in
    REPLY = "reply"  # a reply to a journey's opt-in question (double opt-in)
    API = "api"  # a business system through POST /api/contacts
    FORM = "form"  # a web form, reported through the API with source form:...
    STAFF = "staff"  # a staff member in the inbox
    TWILIO = "twilio"  # Twilio's Advanced Opt-Out (the OptOutType field)
    CARRIER = "carrier"  # the carrier refused a send: error 21610


# Every purpose a STOP revokes.
ALL_PURPOSES: tuple[Purpose, ...] = tuple(Purpose)
# What a contact has until they say otherwise: none of it is marketing.
IMPLIED: frozenset[Purpose] = frozenset({Purpose.TRANSACTIONAL})


def method_for_source(source: str) -> Method:
    """Return how an API-reported consent was given: `form:checkout` is a web form."""
    return Method.FORM if source.split(":", 1)[0] in ("form", "web_form", "web") else Method.API
