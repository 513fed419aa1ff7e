"""Redis persistence: contacts, messages, inbound de-duplication and per-contact locks.

Sending a message (claims, settling, deferring, Twilio's statuses) is `bot.storage.sending`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis

from bot.domain.contacts import Contact
from bot.domain.links import Link
from bot.domain.messages import Message
from bot.storage import jsonio, keys
from bot.storage.replies import text, text_hash
from bot.storage.scripts import ScriptRunner
from bot.storage.sending import Sending

# A handled MessageSid is remembered this long: Twilio's retries of a webhook come within
# its 15-second request timeout, a few times at most, so a day is thousands of times that.
# Each marker costs ~200 bytes of Redis, so a week of them was most of an idle contact's.
INBOUND_TTL = 24 * 3600
# A commit call is remembered this long, so that the script runner's retry of it (its reply
# lost on the way back) is recognised; retries come within seconds.
COMMIT_REPLAY_TTL = 60
EVENT_LOG_LENGTH = 500

# The fields of a contact's stored JSON that the scripts read (claim.lua), as paths. Lua reads
# the document Python wrote: a field renamed or moved here must be changed there too, and a
# test holds this list to what the Lua source reads.
SCRIPT_FIELDS = (
    "consent.marketing.changed_at",
    "consent.marketing.granted",
    "consent.transactional.changed_at",
    "consent.transactional.granted",
    "runs",
    "subscribed",
    "timezone",
    "timezone_set",
    "undeliverable",
)

# What beginning an inbound message found (bot/storage/lua/begin.lua).
DUPLICATE, BUSY, LOCKED = 0, 1, 2
# What a commit did (bot/storage/lua/commit.lua): applied, or nothing because the MessageSid was
# handled or the lock lost.
COMMITTED, REPEAT, LOCK_LOST = 0, 1, 2


class LockLost(TimeoutError):
    """A contact's lock could not be had, or expired before the transition was saved."""


class Backoff:
    """Paces the tries for a busy lock: each pause longer than the last, up to a deadline."""

    def __init__(self, timeout: float, first: float = 0.005, longest: float = 0.1) -> None:
        self.deadline = time.monotonic() + timeout
        self.pause, self.longest = first, longest

    def wait(self) -> bool:
        """Sleep before the next try; False, without sleeping, once the deadline has passed."""
        if time.monotonic() > self.deadline:
            return False
        time.sleep(self.pause)
        self.pause = min(self.pause * 2, self.longest)
        return True


@dataclass(frozen=True)
class InboundClaim:
    """One attempt at handling an inbound message: its MessageSid, contact and lock token."""

    sid: str
    phone: str
    token: str
    lease: float = 30.0  # seconds the contact's lock is held unless released first

    @classmethod
    def new(cls, sid: str, phone: str, lease: float = 30.0) -> InboundClaim:
        """Return a claim with a fresh token, "<MessageSid>:<32 hex digits>"."""
        return cls(sid, phone, f"{sid}:{uuid.uuid4().hex}", lease)


def timer_member(payload: dict[str, Any]) -> str:
    """Encode a timer payload the same way every time, so equal timers are one member."""
    return jsonio.dumps(payload, sort_keys=True)


class KeyList:
    """The KEYS of one script call, each key once, named in its arguments by position."""

    def __init__(self, *fixed: str) -> None:
        self.keys: list[str] = []
        self._positions: dict[str, int] = {}
        for key in fixed:
            self.at(key)

    def at(self, key: str) -> int:
        """Return the 1-based position of `key` in KEYS, adding it if it is new."""
        position = self._positions.get(key)
        if position is None:
            self.keys.append(key)
            position = self._positions[key] = len(self.keys)
        return position


@dataclass
class Changes:
    """Everything one state transition writes, committed in a single transaction."""

    contact: Contact
    messages: list[Message] = field(default_factory=list)
    outbox: list[str] = field(default_factory=list)  # refs (Message.ref) to queue
    timers: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    counters: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)  # short links in the new messages
    # Contact.record_view() as loaded, None for a new contact: the record gets what differs.
    before: dict[str, Any] | None = None


def record_entry(changes: Changes) -> dict[str, Any]:
    """Return what a commit appends to the record stream for one contact: what changed.

    The contact's queryable part only if it differs from when it was loaded, the runs that
    moved, the new messages and the events (bot/record/drain.py reads it).
    """
    view, before = changes.contact.record_view(), changes.before
    entry: dict[str, Any] = {"phone": changes.contact.phone}
    if before is None or view["contact"] != before["contact"]:
        entry["contact"] = view["contact"]
    old_runs = before["runs"] if before else {}
    runs = [run for run_id, run in view["runs"].items() if old_runs.get(run_id) != run]
    if runs:
        entry["runs"] = runs
    if changes.messages:
        entry["messages"] = [_recorded(m) for m in changes.messages]
    if changes.events:
        entry["events"] = changes.events
    if changes.links:
        entry["links"] = [link.to_dict() for link in changes.links]
    return entry


def _recorded(message: Message) -> dict[str, str]:
    data = message.to_hash()
    for sending_only in ("attempts", "submitted_at", "run"):
        data.pop(sending_only, None)
    return data


class Store(Sending):
    """Reads and writes Parley's state in one Redis database."""

    def __init__(self, client: redis.Redis, link_ttl: int = 400 * 86400) -> None:
        self.redis = client
        self.link_ttl = link_ttl  # seconds Redis keeps a short link (LINK_TTL_DAYS)
        # The one way Parley calls its scripts; the outbox, timers and schedules use it too.
        self.scripts = ScriptRunner(client)

    # contacts
    def reach(self, phone: str, campaign_id: str, ttl: timedelta) -> bool:
        """Mark that a campaign has reached a contact; False if it already had.

        Marked before the message is queued: a request cut short and sent again skips the
        contact rather than texting them twice.
        """
        return bool(self.redis.set(keys.campaign(phone, campaign_id), "1", nx=True, px=ttl))

    def load_contact(self, phone: str) -> Contact | None:
        """Return the stored contact for `phone`, or None."""
        raw = self.redis.get(keys.contact(phone))
        return Contact.from_dict(jsonio.loads(raw)) if raw else None

    @contextmanager
    def lock(self, phone: str, timeout: float = 30.0) -> Iterator[str]:
        """Serialise state transitions for one contact across every process; yield the token.

        Commits made under the lock pass the token as a fence, so a transition whose lock
        expired while it ran is refused rather than overwriting a newer one.
        """
        key, token, backoff = keys.lock(phone), uuid.uuid4().hex, Backoff(timeout)
        while not self.redis.set(key, token, nx=True, px=int(timeout * 1000)):
            if not backoff.wait():
                raise LockLost(f"could not lock contact {phone}")
        try:
            yield token
        finally:
            # If it expired while held, the next holder owns it now: nothing to release.
            self.unlock(phone, token)

    def begin_inbound(
        self, inbound: InboundClaim, *, take_over: bool = True
    ) -> tuple[int, Contact | None]:
        """Lock the contact of an unhandled inbound message: (DUPLICATE|BUSY|LOCKED, contact)."""
        names = [
            keys.handled(inbound.phone, inbound.sid),
            keys.lock(inbound.phone),
            keys.contact(inbound.phone),
        ]
        lease, again = int(inbound.lease * 1000), "1" if take_over else "0"
        reply = self.scripts("begin", names, [inbound.token, lease, f"{inbound.sid}:", again])
        raw = reply[1] if len(reply) > 1 else None
        return int(reply[0]), Contact.from_dict(jsonio.loads(raw)) if raw else None

    def unlock(self, phone: str, token: str) -> None:
        """Release a lock taken with `token` (by begin_inbound), if we still hold it."""
        self.scripts("unlock", [keys.lock(phone)], [token])

    def lock_many(self, phones: Iterable[str], timeout: float = 30.0) -> dict[str, str]:
        """Take the locks of every free contact in one round trip; return {phone: token}."""
        wanted = list(dict.fromkeys(phones))
        tokens = {phone: uuid.uuid4().hex for phone in wanted}
        pipe = self.redis.pipeline(transaction=False)
        for phone in wanted:
            pipe.set(keys.lock(phone), tokens[phone], nx=True, px=int(timeout * 1000))
        taken = pipe.execute()
        return {phone: tokens[phone] for phone, ok in zip(wanted, taken, strict=True) if ok}

    def unlock_many(self, tokens: dict[str, str]) -> None:
        """Release locks taken by lock_many (only those still held with our token)."""
        self.scripts.many(
            [("unlock", [keys.lock(phone)], [token]) for phone, token in tokens.items()]
        )

    def phones(self) -> list[str]:
        """Return the phone number of every stored contact, least recently active first."""
        members = self.redis.zrange(keys.CONTACTS, 0, -1)
        # Asked without scores, Redis answers with the members alone.
        return [text(member) for member in members if isinstance(member, bytes | str)]

    def load_contacts(self, phones: list[str]) -> dict[str, Contact]:
        """Return the stored contacts among `phones`, in one round trip."""
        if not phones:
            return {}
        raws = self.redis.mget([keys.contact(phone) for phone in phones])
        return {
            phone: Contact.from_dict(jsonio.loads(raw))
            for phone, raw in zip(phones, raws, strict=True)
            if raw
        }

    def commit(self, changes: Changes, **options: Any) -> tuple[int, bool]:
        """Write a transition atomically: contact, messages, outbox, timers, events."""
        return self.commit_many([changes], **options)

    def commit_many(
        self,
        batch: Iterable[Changes],
        unlock: dict[str, str] | None = None,
        flag: tuple[str, int] | None = None,
        claims: Iterable[InboundClaim] = (),
        fence: dict[str, str] | None = None,
    ) -> tuple[int, bool]:
        """Write several transitions atomically, as one script call; return (outcome, flag).

        The outcome is COMMITTED; or REPEAT when one of `claims` (inbound messages these
        transitions handle) was handled already, or LOCK_LOST when a lock in `fence`
        ({phone: token}) is no longer ours: then nothing is written. `unlock` ({phone:
        token}) releases locks in the same step; `flag` (key, ttl) is set if absent, and
        the answer says whether it is up because of this call. One command carrying one
        JSON document costs far less to send than the twenty it replaces.
        """
        call = KeyList(keys.CONTACTS, keys.OUTBOX, keys.TIMERS, keys.STATS)
        call.at(keys.committed(uuid.uuid4().hex))
        document = {
            "contacts": [self._writes(changes, call) for changes in batch],
            "now": repr(time.time()),
            "claims": [[call.at(keys.handled(c.phone, c.sid)), c.token] for c in claims],
            "fence": self._lock_pairs(fence, call),
            "unlock": self._lock_pairs(unlock, call),
            "flag": call.at(flag[0]) if flag else None,
            "record": call.at(keys.RECORD),
        }
        args = [
            jsonio.dumps(document),
            EVENT_LOG_LENGTH,
            INBOUND_TTL,
            COMMIT_REPLAY_TTL,
            flag[1] if flag else 0,
            self.link_ttl,
        ]
        outcome, raised = self.scripts("commit", call.keys, args)
        return int(outcome), bool(raised)

    @staticmethod
    def _lock_pairs(tokens: dict[str, str] | None, call: KeyList) -> list[list[int | str]]:
        """Return {phone: token} as the [lock, token] pairs the commit script reads."""
        return [[call.at(keys.lock(phone)), token] for phone, token in (tokens or {}).items()]

    @staticmethod
    def _writes(changes: Changes, call: KeyList) -> dict[str, Any]:
        contact = changes.contact
        phone = contact.phone
        return {
            "phone": phone,
            "key": call.at(keys.contact(phone)),
            "value": jsonio.dumps(contact.to_dict()),
            "messages": [
                [
                    call.at(keys.message(m.phone, m.id)),
                    [x for pair in m.to_hash().items() for x in pair],
                ]
                for m in changes.messages
            ],
            "ids": [m.id for m in changes.messages],
            "list": call.at(keys.messages(phone)),
            "outbox": changes.outbox,
            "timers": [[repr(due), timer_member(payload)] for due, payload in changes.timers],
            "log": call.at(keys.events(phone)),
            "events": [jsonio.dumps(event) for event in changes.events],
            "counters": changes.counters,
            "links": [
                [call.at(keys.link(link.code)), jsonio.dumps(link.to_dict())]
                for link in changes.links
            ],
            "record": jsonio.dumps(record_entry(changes)),
        }

    def events(self, phone: str) -> list[dict[str, Any]]:
        """Return the recent event log of a contact, oldest first."""
        return [jsonio.loads(raw) for raw in self.redis.lrange(keys.events(phone), 0, -1)]

    # messages
    def messages(self, phone: str) -> list[Message]:
        """Return a contact's messages, oldest first."""
        ids = self.redis.lrange(keys.messages(phone), 0, -1)
        pipe = self.redis.pipeline(transaction=False)
        for message_id in ids:
            pipe.hgetall(keys.message(phone, text(message_id)))
        return [Message.from_hash(text_hash(data)) for data in pipe.execute() if data]

    def trim_messages(
        self, phones: Iterable[str], keep: int, upto: Mapping[str, str] | None = None
    ) -> int:
        """Let all but each contact's newest `keep` messages leave Redis; return how many left.

        Only for messages the record holds: the recorder calls it after writing them, and
        names in `upto` the newest message it wrote of a contact, which none after may pass.
        A message still being sent stays, and so does every message after it.
        """
        wanted = list(dict.fromkeys(phones))
        pipe = self.redis.pipeline(transaction=False)
        for phone in wanted:
            pipe.lrange(keys.messages(phone), 0, -1)
        calls = []
        for phone, held in zip(wanted, pipe.execute(), strict=True):
            every = [text(message_id) for message_id in held]
            ids = every[: max(0, len(every) - keep)]  # all but the newest `keep`
            newest = None if upto is None else upto.get(phone)
            if newest is not None:
                # Up to the newest written; none if that has left already, as all before it.
                ids = ids[: every.index(newest) + 1] if newest in every else []
            if ids:
                names = [keys.messages(phone), *(keys.message(phone, i) for i in ids)]
                calls.append(("trim", names, [keep, *ids]))
        return sum(int(removed) for removed in self.scripts.many(calls)) if calls else 0

    def stats(self) -> dict[str, int]:
        """Return the analytics counters."""
        return {text(key): int(value) for key, value in self.redis.hgetall(keys.STATS).items()}
