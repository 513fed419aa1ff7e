"""Parley's Redis key names, and the hash tags that decide which Cluster slot each lives in.

Everything of one contact carries the contact's phone as its hash tag (`{+14155550123}`),
so a script that touches one contact's keys touches one slot. Each global queue carries
its own tag, shared with its in-flight set and drain flag, so a queue's scripts touch one
slot too. Twilio's sids tag their own two keys. Scripts that must reach across slots say
so in their headers (bot/storage/lua).
"""

from __future__ import annotations

import hashlib

PREFIX = "parley:"
# The layout below; bot/storage/migrations.py brings older data to it at start-up.
SCHEMA_VERSION = 3

CONTACTS = PREFIX + "contacts"  # sorted set: phone by last activity
STATS = PREFIX + "stats"  # hash: analytics counters
SCHEDULES = PREFIX + "schedules"  # hash: schedule trigger -> next due time
OUTBOX = PREFIX + "{outbox}"  # list: message refs waiting to be sent
OUTBOX_INFLIGHT = PREFIX + "{outbox}:inflight"  # sorted set: ref by lease expiry
OUTBOX_DRAIN = PREFIX + "{outbox}:drain"  # flag: a drain job is on its way
TIMERS = PREFIX + "{timers}"  # sorted set: timer payload by due time
TIMERS_INFLIGHT = PREFIX + "{timers}:inflight"  # sorted set: payload by claim time
RECORD = PREFIX + "{record}"  # stream: what commits and status changes add to the record
RECORD_WRITER = RECORD + ":writer"  # lease of the one recorder that writes the record
# stream: the phones whose record rows each batch changed, for the staff inbox's live pages
RECORD_FEED = RECORD + ":feed"
RECORD_SWEPT = RECORD + ":swept"  # commit time up to which idle contacts were trimmed
# What the sending scripts count for /metrics. They share the record stream's tag: the
# scripts that append statuses to that stream touch no further slot by counting them too.
OUTBOUND_COUNTS = RECORD + ":outbound"  # hash: status -> outbound messages that reached it
SEND_LATENCY = RECORD + ":latency"  # hash: bucket bound -> sends, plus "sum" and "count"
# The send latency histogram's bucket bounds in seconds, as its fields name them. Changing
# them starts new buckets: the old fields stay in the hash, unread.
SEND_LATENCY_BOUNDS = ("0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60")
# hash: "true"/"false" -> link clicks the record counted or kept without counting (the
# recorder counts them as it writes them, in the step that acknowledges their entries)
LINK_CLICKS = RECORD + ":clicks"
SCHEMA = PREFIX + "schema"  # the layout version the data is in
SCHEMA_LOCK = PREFIX + "schema:lock"  # held by the process bringing the data up to date


def tag(value: str) -> str:
    """Return `value` as a hash tag: Redis Cluster places keys by what is inside the braces."""
    return "{" + value + "}"


def contact(phone: str) -> str:
    """Return the key of a contact's JSON document."""
    return f"{PREFIX}contact:{tag(phone)}"


def lock(phone: str) -> str:
    """Return the key of a contact's lock."""
    return f"{PREFIX}lock:{tag(phone)}"


def messages(phone: str) -> str:
    """Return the key of a contact's list of message ids, oldest first."""
    return f"{PREFIX}messages:{tag(phone)}"


def events(phone: str) -> str:
    """Return the key of a contact's recent event log."""
    return f"{PREFIX}events:{tag(phone)}"


def sent_marketing(phone: str) -> str:
    """Sorted set: the contact's marketing messages sent within the longest cap window."""
    return f"{PREFIX}capped:{tag(phone)}"


def campaign(phone: str, campaign_id: str) -> str:
    """Return the key marking that a staff campaign has reached a contact."""
    return f"{PREFIX}campaign:{tag(phone)}:{campaign_id}"


def message(phone: str, message_id: str) -> str:
    """Return the key of one message's hash, in its contact's slot."""
    return f"{PREFIX}msg:{tag(phone)}:{message_id}"


def handled(phone: str, sid: str) -> str:
    """Return the key marking an inbound MessageSid as handled, in its sender's slot."""
    return f"{PREFIX}inbound:{tag(phone)}:{sid}"


def sid_link(sid: str) -> str:
    """Return the key linking a Twilio sid to the ref of the message it was sent as."""
    return f"{PREFIX}sid:{tag(sid)}"


def parked(sid: str) -> str:
    """Return the key of a status that arrived before its sid was linked to a message."""
    return f"{PREFIX}parked:{tag(sid)}"


def link(code: str) -> str:
    """Return the key of a tracked short link (its JSON), in a slot of its own."""
    return f"{PREFIX}link:{tag(code)}"


def committed(call: str) -> str:
    """Return the key that marks one commit call as applied."""
    return f"{PREFIX}committed:{call}"


def signin_failures_for_account(email: str) -> str:
    """Return the key counting recent failed sign-ins to one staff account.

    The email is hashed: whatever is typed into the form makes a short key, and Redis
    holds no addresses.
    """
    digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    return f"{PREFIX}signin:account:{digest}"


def signin_failures_from(address: str) -> str:
    """Return the key counting recent failed sign-ins from one client address."""
    return f"{PREFIX}signin:address:{address}"
