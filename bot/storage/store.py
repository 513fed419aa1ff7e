"""Redis persistence: contacts, messages, inbound de-duplication and per-contact locks."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from bot.domain.consent import Purpose
from bot.domain.contacts import Contact
from bot.domain.guardrails import Standing
from bot.domain.messages import RANK, Message, parse_ref
from bot.storage import jsonio, keys
from bot.storage.scripts import ScriptRunner

# A handled MessageSid is remembered this long: Twilio's retries of a webhook come within
# its 15-second request timeout, a few times at most, so a day is thousands of times that.
# Each marker costs ~200 bytes of Redis, so a week of them was most of an idle contact's.
INBOUND_TTL = 24 * 3600
# A commit call is remembered this long, so that the script runner's retry of it (its reply
# lost on the way back) is recognised; retries come within seconds.
COMMIT_REPLAY_TTL = 60
# A sid's link to its message lasts as long as Twilio sends status callbacks for it.
SID_LINK_TTL = 30 * 24 * 3600
# A status callback that came before its sid was linked waits this long for the link.
PARKED_TTL = 3600
EVENT_LOG_LENGTH = 500
_RANK_JSON = jsonio.dumps({str(status): rank for status, rank in RANK.items()})
_LATENCY_BOUNDS = " ".join(keys.SEND_LATENCY_BOUNDS)

# The fields of a contact's stored JSON that the scripts read (claim.lua), as paths. Lua reads
# the document Python wrote: a field renamed or moved here must be changed there too, and a
# test holds this list to what the Lua source reads.
SCRIPT_FIELDS = (
    "consent.marketing.changed_at",
    "consent.marketing.granted",
    "consent.transactional.changed_at",
    "consent.transactional.granted",
    "subscribed",
    "timezone",
    "undeliverable",
)

# What beginning an inbound message found (bot/storage/lua/begin.lua).
DUPLICATE, BUSY, LOCKED = 0, 1, 2
# What a commit did (bot/storage/lua/commit.lua): applied, or nothing because the MessageSid was
# handled or the lock lost.
COMMITTED, REPEAT, LOCK_LOST = 0, 1, 2
# What advancing a status did (bot/storage/lua/advance_status.lua).
_PARKED, _RELINKED, _APPLIED = 0, 1, 2


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


def text_hash(reply: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """Return a Redis hash reply with its fields and values as text."""
    return {text(name): text(value) for name, value in reply.items()}


def _cap_arguments(now: datetime | None, caps: list[tuple[int, float]]) -> list[str | int]:
    """Return claim.lua's arguments for the caps a message counts against (none: no cap)."""
    if now is None or not caps:
        return []
    stamp = now.timestamp()
    longest = max(window for _, window in caps)
    args: list[str | int] = [repr(stamp), f"({stamp - longest!r}", math.ceil(longest * 1000)]
    for count, window in caps:
        args += [count, repr(window), f"({stamp - window!r}"]
    return args


def _blank_if_none(value: object) -> str:
    """Return `value` as a script argument: None is the empty string."""
    return "" if value is None else str(value)


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
    return entry


def _recorded(message: Message) -> dict[str, str]:
    data = message.to_hash()
    for sending_only in ("attempts", "submitted_at"):
        data.pop(sending_only, None)
    return data


class Store:
    """Reads and writes Parley's state in one Redis database."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        # The one way Parley calls its scripts; the outbox, timers and schedules use it too.
        self.scripts = ScriptRunner(client)

    # contacts
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

    def message(self, ref: str) -> Message | None:
        """Return one message by its ref (Message.ref)."""
        data = self.redis.hgetall(keys.message(*parse_ref(ref)))
        return Message.from_hash(text_hash(data)) if data else None

    def in_conversation_order(self, refs: list[str]) -> list[str]:
        """Return one contact's message refs in the order the messages were made."""
        pipe = self.redis.pipeline(transaction=False)
        for ref in refs:
            pipe.hget(keys.message(*parse_ref(ref)), "seq")
        seqs = [int(seq or 0) for seq in pipe.execute()]
        return [ref for _, _, ref in sorted(zip(seqs, range(len(refs)), refs, strict=True))]

    def claim_message(
        self,
        ref: str,
        token: str,
        now: datetime | None = None,
        caps: Iterable[tuple[int, float]] = (),
    ) -> tuple[Message, Standing | None] | None:
        """Move a pending message to `submitting`; return it and its contact's standing.

        A marketing message that counts against `caps` ((count, window seconds), ...) also
        takes its place under them at `now`, if its contact may get it: the standing says
        whether it did (`placed`) or when there will be room (`room`).
        """
        phone, message_id = parse_ref(ref)
        names = [keys.message(phone, message_id), keys.contact(phone), keys.sent_marketing(phone)]
        reply = self.scripts("claim", names, [token, *_cap_arguments(now, list(caps))])
        if not reply:
            return None
        flat, exists, subscribed, undeliverable, marketing, transactional, timezone, place = reply[
            :8
        ]
        marketing_changed, transactional_changed = reply[8:10]
        message = Message.from_hash(dict(zip(flat[::2], flat[1::2], strict=True)))
        if exists != "1":
            return message, None
        standing = Standing(
            subscribed=subscribed == "1",
            undeliverable=int(undeliverable) if undeliverable else None,
            marketing=marketing == "1",
            transactional=transactional == "1",
            timezone=timezone or None,
            changed={
                Purpose.MARKETING: marketing_changed or None,
                Purpose.TRANSACTIONAL: transactional_changed or None,
            },
            placed=place == "0",
            room=datetime.fromtimestamp(float(place), UTC) if place not in ("", "0") else None,
        )
        return message, standing

    def settle(
        self,
        ref: str,
        attempt: int,
        status: str,
        error_code: int | None = None,
        *,
        requeue: bool = False,
        reason: str | None = None,
    ) -> bool:
        """Give attempt `attempt` of a message its outcome; False if it has moved on since."""
        names = [keys.message(*parse_ref(ref)), keys.OUTBOX, keys.RECORD, keys.OUTBOUND_COUNTS]
        error, again = _blank_if_none(error_code), "1" if requeue else "0"
        args = [str(attempt), str(status), error, again, ref, reason or ""]
        return bool(self.scripts("settle", names, args))

    def give_back_place(self, ref: str) -> None:
        """Give back the place a message took under the frequency caps: it did not go out."""
        phone, message_id = parse_ref(ref)
        self.redis.zrem(keys.sent_marketing(phone), message_id)

    def defer(
        self,
        ref: str,
        attempt: int,
        until: datetime,
        timer: tuple[float, str],
        reason: str,
        *,
        release: bool = False,
        wait: tuple[float, str] | None = None,
    ) -> bool:
        """Hold attempt `attempt` of a message until `until`; False if it has moved on since.

        `timer` is (due, member): the timer, set in the same step, that sends it on. With
        `release`, the place its claim took under the frequency caps is given back; `wait`
        (seconds, member) moves the timeout of the wait the message asks for by as much.
        """
        due, member = timer
        phone, message_id = parse_ref(ref)
        names = [keys.message(phone, message_id), keys.TIMERS, keys.RECORD]
        names += [keys.sent_marketing(phone), keys.OUTBOUND_COUNTS]
        given_back = message_id if release else ""
        later, timeout = wait or (0.0, "")
        args = [str(attempt), until.isoformat(), repr(due), member, reason, ref, given_back]
        args += [repr(later), timeout]
        return bool(self.scripts("defer", names, args))

    def now(self) -> float:
        """Return Redis' clock, the one every worker's leases and attempts are timed by."""
        seconds, micros = self.redis.time()
        return seconds + micros / 1_000_000

    def sid_known(self, sid: str) -> bool:
        """Say whether a Twilio sid is already linked to one of Parley's messages."""
        return bool(self.redis.exists(keys.sid_link(sid)))

    def accept(self, ref: str, sid: str, status: str, error_code: int | None = None) -> str | None:
        """Record that Twilio accepted a message as `sid`; return its resulting status.

        None means the message is unknown or already linked to another sid.
        """
        names = [
            keys.message(*parse_ref(ref)),
            keys.sid_link(sid),
            keys.parked(sid),
            keys.RECORD,
            keys.OUTBOUND_COUNTS,
            keys.SEND_LATENCY,
        ]
        error = _blank_if_none(error_code)
        args = [ref, sid, str(status), _RANK_JSON, error, SID_LINK_TTL, _LATENCY_BOUNDS]
        return self.scripts("accept", names, args)

    def advance_status(
        self, sid: str, status: str, error_code: int | None = None
    ) -> tuple[str, str, str, bool] | None:
        """Apply a Twilio status if it moves forward; return (ref, phone, status, changed).

        None means no message is linked to `sid` yet: the status waits for the link.
        """
        names = [keys.sid_link(sid), keys.parked(sid), keys.RECORD, keys.OUTBOUND_COUNTS]
        while True:
            # The link names the message, whose key the script must be given: read it first.
            link = self.redis.get(names[0])
            ref = "" if link is None else text(link)
            try:
                message = [keys.message(*parse_ref(ref))] if ref else []
            except ValueError:
                return None  # not a link Parley wrote
            args = [status, _blank_if_none(error_code), _RANK_JSON, PARKED_TTL, ref]
            reply = self.scripts("advance_status", names + message, args)
            if int(reply[0]) == _PARKED:
                return None
            if int(reply[0]) == _APPLIED:
                return ref, parse_ref(ref)[0], reply[1], bool(reply[2])
            # Linked or expired between the read and the script: read the link again.

    def stats(self) -> dict[str, int]:
        """Return the analytics counters."""
        return {text(key): int(value) for key, value in self.redis.hgetall(keys.STATS).items()}
