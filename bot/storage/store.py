"""Redis persistence: contacts, messages, inbound de-duplication and per-contact locks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

from bot.domain.contacts import Contact
from bot.domain.guardrails import Standing
from bot.domain.messages import RANK, Message
from bot.storage import jsonio, lua
from bot.storage.scripts import ScriptRunner

PREFIX = "parley:"
# A handled MessageSid is remembered this long: far past any retry of Twilio's.
INBOUND_TTL = 7 * 24 * 3600
EVENT_LOG_LENGTH = 500
_RANK_JSON = jsonio.dumps({str(status): rank for status, rank in RANK.items()})

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


def text(reply: bytes | str) -> str:
    """Return a Redis reply as text: Parley's clients decode replies, RQ's do not."""
    return reply if isinstance(reply, str) else reply.decode()


def _blank_if_none(value: object) -> str:
    """Return `value` as a script argument: None is the empty string."""
    return "" if value is None else str(value)


def timer_member(payload: dict[str, Any]) -> str:
    """Encode a timer payload the same way every time, so equal timers are one member."""
    return jsonio.dumps(payload, sort_keys=True)


@dataclass
class Changes:
    """Everything one state transition writes, committed in a single transaction."""

    contact: Contact
    messages: list[Message] = field(default_factory=list)
    outbox: list[str] = field(default_factory=list)
    timers: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    counters: list[str] = field(default_factory=list)


class Store:
    """Reads and writes Parley's state in one Redis database."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._advance = lua.register(client, "advance")
        self._claim = lua.register(client, "claim")
        self._accept = lua.register(client, "accept")
        self._unlock = lua.register(client, "unlock")
        self._begin = lua.register(client, "begin")
        self._commit = lua.register(client, "commit")
        self._settle = lua.register(client, "settle")
        self._run = ScriptRunner(client)

    # keys
    @staticmethod
    def key(*parts: str) -> str:
        """Return the namespaced key for `parts`."""
        return PREFIX + ":".join(parts)

    # contacts
    def load_contact(self, phone: str) -> Contact | None:
        """Return the stored contact for `phone`, or None."""
        raw = self.redis.get(self.key("contact", phone))
        return Contact.from_dict(jsonio.loads(raw)) if raw else None

    @contextmanager
    def lock(self, phone: str, timeout: float = 30.0) -> Iterator[str]:
        """Serialise state transitions for one contact across every process; yield the token.

        Commits made under the lock pass the token as a fence, so a transition whose lock
        expired while it ran is refused rather than overwriting a newer one.
        """
        key, token, backoff = self.key("lock", phone), uuid.uuid4().hex, Backoff(timeout)
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
        keys = [
            self.key("inbound", inbound.sid),
            self.key("lock", inbound.phone),
            self.key("contact", inbound.phone),
        ]
        args = [inbound.token, int(inbound.lease * 1000), inbound.sid, "1" if take_over else "0"]
        reply = self._run(self._begin, keys, args)
        raw = reply[1] if len(reply) > 1 else None
        return int(reply[0]), Contact.from_dict(jsonio.loads(raw)) if raw else None

    def unlock(self, phone: str, token: str) -> None:
        """Release a lock taken with `token` (by begin_inbound), if we still hold it."""
        self._run(self._unlock, [self.key("lock", phone)], [token])

    def lock_many(self, phones: Iterable[str], timeout: float = 30.0) -> dict[str, str]:
        """Take the locks of every free contact in one round trip; return {phone: token}."""
        wanted = list(dict.fromkeys(phones))
        tokens = {phone: uuid.uuid4().hex for phone in wanted}
        pipe = self.redis.pipeline(transaction=False)
        for phone in wanted:
            pipe.set(self.key("lock", phone), tokens[phone], nx=True, px=int(timeout * 1000))
        taken = pipe.execute()
        return {phone: tokens[phone] for phone, ok in zip(wanted, taken, strict=True) if ok}

    def unlock_many(self, tokens: dict[str, str]) -> None:
        """Release locks taken by lock_many (only those still held with our token)."""
        pipe = self.redis.pipeline(transaction=False)
        for phone, token in tokens.items():
            self._unlock(keys=[self.key("lock", phone)], args=[token], client=pipe)
        pipe.execute()

    def phones(self) -> list[str]:
        """Return the phone number of every stored contact, least recently active first."""
        members = self.redis.zrange(self.key("contacts"), 0, -1)
        # Asked without scores, Redis answers with the members alone.
        return [text(member) for member in members if isinstance(member, bytes | str)]

    def load_contacts(self, phones: list[str]) -> dict[str, Contact]:
        """Return the stored contacts among `phones`, in one round trip."""
        if not phones:
            return {}
        raws = self.redis.mget([self.key("contact", phone) for phone in phones])
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
        now = repr(time.time())
        document = {
            "done": self.key("committed", uuid.uuid4().hex),
            "contacts": [self._writes(changes) for changes in batch],
            "now": now,
            "claims": [
                [self.key("inbound", claim.sid), claim.token, INBOUND_TTL] for claim in claims
            ],
            "fence": self._lock_pairs(fence),
            "unlock": self._lock_pairs(unlock),
            "flag": [flag[0], flag[1]] if flag else None,
        }
        keys = [self.key("contacts"), self.key("outbox"), self.key("timers"), self.key("stats")]
        outcome, raised = self._run(self._commit, keys, [jsonio.dumps(document), EVENT_LOG_LENGTH])
        return int(outcome), bool(raised)

    def _lock_pairs(self, tokens: dict[str, str] | None) -> list[list[str]]:
        """Return {phone: token} as the [lock key, token] pairs the commit script reads."""
        return [[self.key("lock", phone), token] for phone, token in (tokens or {}).items()]

    def _writes(self, changes: Changes) -> dict[str, Any]:
        contact = changes.contact
        return {
            "phone": contact.phone,
            "key": self.key("contact", contact.phone),
            "value": jsonio.dumps(contact.to_dict()),
            "messages": [
                [self.key("msg", m.id), [x for pair in m.to_hash().items() for x in pair]]
                for m in changes.messages
            ],
            "ids": [m.id for m in changes.messages],
            "list": self.key("messages", contact.phone),
            "outbox": changes.outbox,
            "timers": [[repr(due), timer_member(payload)] for due, payload in changes.timers],
            "log": self.key("events", contact.phone),
            "events": [jsonio.dumps(event) for event in changes.events],
            "counters": changes.counters,
        }

    def events(self, phone: str) -> list[dict[str, Any]]:
        """Return the recent event log of a contact, oldest first."""
        return [jsonio.loads(raw) for raw in self.redis.lrange(self.key("events", phone), 0, -1)]

    # messages
    def messages(self, phone: str) -> list[Message]:
        """Return a contact's messages, oldest first."""
        ids = self.redis.lrange(self.key("messages", phone), 0, -1)
        pipe = self.redis.pipeline(transaction=False)
        for message_id in ids:
            pipe.hgetall(self.key("msg", text(message_id)))
        return [Message.from_hash(data) for data in pipe.execute() if data]

    def message(self, message_id: str) -> Message | None:
        """Return one message by id."""
        data = self.redis.hgetall(self.key("msg", message_id))
        return Message.from_hash({text(k): text(v) for k, v in data.items()}) if data else None

    def phones_of(self, message_ids: list[str]) -> list[str | None]:
        """Return the phone number of each message, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for message_id in message_ids:
            pipe.hget(self.key("msg", message_id), "phone")
        return pipe.execute()

    def claim_message(
        self, message_id: str, phone: str, token: str
    ) -> tuple[Message, Standing | None] | None:
        """Move a pending message to `submitting`; return it and its contact's standing."""
        keys = [self.key("msg", message_id), self.key("contact", phone)]
        reply = self._run(self._claim, keys, [token])
        if not reply:
            return None
        flat, exists, subscribed, undeliverable, marketing = reply
        message = Message.from_hash(dict(zip(flat[::2], flat[1::2], strict=True)))
        if exists != "1":
            return message, None
        standing = Standing(
            subscribed=subscribed == "1",
            undeliverable=int(undeliverable) if undeliverable else None,
            marketing=marketing == "1",
        )
        return message, standing

    def settle(
        self,
        message_id: str,
        attempt: int,
        status: str,
        error_code: int | None = None,
        *,
        requeue: bool = False,
    ) -> bool:
        """Give attempt `attempt` of a message its outcome; False if it has moved on since."""
        keys = [self.key("msg", message_id), self.key("outbox")]
        error, again = _blank_if_none(error_code), "1" if requeue else "0"
        args = [str(attempt), str(status), error, again, message_id]
        return bool(self._run(self._settle, keys, args))

    def now(self) -> float:
        """Return Redis' clock, the one every worker's leases and attempts are timed by."""
        seconds, micros = self.redis.time()
        return seconds + micros / 1_000_000

    def sid_known(self, sid: str) -> bool:
        """Say whether a Twilio sid is already linked to one of Parley's messages."""
        return bool(self.redis.exists(self.key("sid", sid)))

    def accept(
        self, message_id: str, sid: str, status: str, error_code: int | None = None
    ) -> str | None:
        """Record that Twilio accepted a message as `sid`; return its resulting status.

        None means the message is unknown or already linked to another sid.
        """
        return self._run(
            self._accept,
            [self.key("msg", message_id), self.key("sid", sid), self.key("parked", sid)],
            [message_id, sid, str(status), _RANK_JSON, _blank_if_none(error_code)],
        )

    def advance_status(
        self, sid: str, status: str, error_code: int | None = None
    ) -> tuple[str, str, str, bool] | None:
        """Apply a Twilio status if it moves forward; return (id, phone, status, changed)."""
        result = self._run(
            self._advance,
            [self.key("sid", sid), self.key("parked", sid)],
            [status, _blank_if_none(error_code), _RANK_JSON, self.key("msg", "")],
        )
        if not result:
            return None
        message_id, phone, current, changed = result
        return message_id, phone, current, bool(changed)

    def stats(self) -> dict[str, int]:
        """Return the analytics counters."""
        counters = self.redis.hgetall(self.key("stats"))
        return {text(key): int(value) for key, value in counters.items()}
