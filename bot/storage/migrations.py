"""Bring the data in Redis to the key layout of bot/storage/keys.py, once, before it is used.

Layout 1 named a contact's keys `parley:contact:+14155550123`, a message's
`parley:msg:<id>` and queued messages by id alone; layout 2 gives each contact's keys the
phone as hash tag and names queued messages by ref (phone and id), so a script's keys for
one contact share one Cluster slot. Layout 3 lets recorded messages and events leave Redis
(the record, SQL, keeps them), so moving to it first puts every contact's history so far on
the record stream (`backfill`). Data without a version is layout 1 (or none at all).

Every process runs upgrade() at start-up. One takes the lock and moves the keys; the others
wait until the version says it is done. A migration cut short (its process killed) leaves
every key either moved or not yet moved, and the next process to start finishes it.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator

import redis

from bot.domain.messages import message_ref
from bot.storage import jsonio, keys
from bot.storage.scripts import ScriptRunner
from bot.storage.store import Changes, Store, record_entry, text, timer_member

log = logging.getLogger(__name__)

# The migrating process renews its lock as it goes; if it dies, another takes over after this.
LOCK_TTL = 30
# How long a process waits for another one's migration before it gives up.
WAIT = 600.0
_SCAN_BATCH = 1000
_BACKFILL_BATCH = 200

_OLD = keys.PREFIX
# Layout 1's keys named by a contact's phone, and the layout 2 key each becomes.
_BY_PHONE: dict[str, Callable[[str], str]] = {
    "contact": keys.contact,
    "lock": keys.lock,
    "messages": keys.messages,
    "events": keys.events,
}
# A layout 1 key: its kind and what follows (never a brace, which only layout 2 has there).
_KEYED = re.compile(
    rf"{re.escape(_OLD)}(contact|lock|messages|events|msg|inbound|sid|parked):([^{{].*)", re.S
)
# Layout 1's global queues, and where layout 2 keeps them.
_QUEUES = {
    _OLD + "outbox": keys.OUTBOX,
    _OLD + "outbox:inflight": keys.OUTBOX_INFLIGHT,
    _OLD + "outbox:drain": keys.OUTBOX_DRAIN,
    _OLD + "timers": keys.TIMERS,
    _OLD + "timers:inflight": keys.TIMERS_INFLIGHT,
}


class SchemaError(RuntimeError):
    """Redis holds data in a layout this version of Parley does not know."""


def version(client: redis.Redis) -> int:
    """Return the layout version of the data in Redis (1 when none is recorded)."""
    raw = client.get(keys.SCHEMA)
    return int(raw) if raw else 1


def upgrade(
    client: redis.Redis,
    scripts: ScriptRunner | None = None,
    *,
    wait: float = WAIT,
    pause: float = 0.2,
) -> int:
    """Bring the data to keys.SCHEMA_VERSION if it is older; return how many keys moved.

    Safe when several processes start at once: one migrates, the others wait for it.
    """
    scripts = scripts or ScriptRunner(client)
    deadline = time.monotonic() + wait
    while True:
        found = version(client)
        if found == keys.SCHEMA_VERSION:
            return 0
        if found > keys.SCHEMA_VERSION:
            raise SchemaError(
                f"Redis holds data in layout {found}, newer than this Parley's "
                f"{keys.SCHEMA_VERSION}: run the newer version"
            )
        token = uuid.uuid4().hex
        if client.set(keys.SCHEMA_LOCK, token, nx=True, ex=LOCK_TTL):
            try:
                # Checked again under the lock: another process may have finished meanwhile.
                found = version(client)
                if found == keys.SCHEMA_VERSION:
                    return 0
                moved = _Migration(client, token).run() if found < 2 else 0
                backfill(client, token)
                client.set(keys.SCHEMA, keys.SCHEMA_VERSION)
            finally:
                scripts("unlock", [keys.SCHEMA_LOCK], [token])
            if moved:
                log.warning("moved %d Redis keys to layout %d", moved, keys.SCHEMA_VERSION)
            return moved
        if time.monotonic() > deadline:
            raise TimeoutError("another process is still migrating Redis' data; try again")
        time.sleep(pause)


def backfill(client: redis.Redis, token: str | None = None) -> int:
    """Layout 2 to 3: put every contact's history so far on the record stream.

    Before layout 3 nothing wrote the record (SQL): each contact's messages and events
    lived in Redis alone. Layout 3 lets them leave Redis once recorded, so first every
    contact gets one stream entry with its queryable part, runs, messages and event log.
    Each entry has a stable id ("0-<n>", n the contact's place in the contacts index, which
    nothing changes while the data is being migrated), so a backfill cut short and run
    again writes the same rows. Return how many contacts it put on the stream.
    """
    store = Store(client)
    phones = store.phones()
    for start in range(0, len(phones), _BACKFILL_BATCH):
        if token is not None:
            client.expire(keys.SCHEMA_LOCK, LOCK_TTL)  # still at it
        batch = phones[start : start + _BACKFILL_BATCH]
        contacts = store.load_contacts(batch)
        pipe = client.pipeline(transaction=False)
        for number, phone in enumerate(batch, start):
            contact = contacts.get(phone)
            if contact is None:
                continue
            changes = Changes(contact, messages=store.messages(phone), events=store.events(phone))
            entry = {"id": f"0-{number}", **record_entry(changes)}
            pipe.xadd(keys.RECORD, {"c": jsonio.dumps(entry)})
        pipe.execute()
    if phones:
        log.warning("put the history of %d contacts on the record stream", len(phones))
    return len(phones)


class _Migration:
    """Layout 1 to layout 2, in two passes over the keys.

    The first moves everything but the message hashes, which it reads to learn each
    message's phone; the second moves the message hashes.
    """

    def __init__(self, client: redis.Redis, token: str) -> None:
        self.redis = client
        self.token = token
        self.phones: dict[str, str | None] = {}
        self.moved = 0
        self.left = 0

    def run(self) -> int:
        for batch in self._scan():
            self._first_pass(batch)
        for batch in self._scan():
            self._move_messages([key for key in batch if _kind(key) == "msg"])
        if self.left:
            log.warning("left %d Redis keys of the old layout where they were", self.left)
        return self.moved

    def _scan(self) -> Iterator[list[str]]:
        batch: list[str] = []
        for key in self.redis.scan_iter(match=_OLD + "*", count=_SCAN_BATCH):
            batch.append(key)
            if len(batch) == _SCAN_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def _renew_lock(self) -> None:
        if self.redis.get(keys.SCHEMA_LOCK) != self.token:
            raise TimeoutError("lost the migration lock to another process")
        self.redis.expire(keys.SCHEMA_LOCK, LOCK_TTL)

    def _first_pass(self, batch: list[str]) -> None:
        self._renew_lock()
        renames: list[tuple[str, str]] = []
        for key in batch:
            if key in _QUEUES:
                self._move_queue(key, _QUEUES[key])
                continue
            match = _KEYED.fullmatch(key)
            if not match:
                continue
            kind, rest = match.groups()
            if kind in _BY_PHONE:
                renames.append((key, _BY_PHONE[kind](rest)))
            elif kind == "parked":
                renames.append((key, keys.parked(rest)))
            elif kind == "inbound":
                phone = self._phone_of(rest)  # an inbound message's id is its MessageSid
                if phone:
                    renames.append((key, keys.handled(phone, rest)))
                else:
                    self.left += 1
            elif kind == "sid":
                self._move_sid_link(key, rest)
        self._rename(renames)

    def _move_messages(self, batch: list[str]) -> None:
        if not batch:
            return
        self._renew_lock()
        pipe = self.redis.pipeline(transaction=False)
        for key in batch:
            pipe.hget(key, "phone")
        renames = []
        for key, phone in zip(batch, pipe.execute(), strict=True):
            if phone:
                renames.append((key, keys.message(phone, key.removeprefix(_OLD + "msg:"))))
            else:
                self.left += 1
        self._rename(renames)

    def _rename(self, renames: list[tuple[str, str]]) -> None:
        """Rename each key unless its new name is taken; TTLs go with the keys."""
        if not renames:
            return
        pipe = self.redis.pipeline(transaction=False)
        for old, new in renames:
            pipe.renamenx(old, new)
        for (old, new), done in zip(renames, pipe.execute(raise_on_error=False), strict=True):
            if done is True or done == 1:
                self.moved += 1
            elif isinstance(done, redis.exceptions.ResponseError):
                continue  # gone already: another process moved it
            else:
                log.warning("kept %s: %s exists already", old, new)
                self.left += 1

    def _phone_of(self, message_id: str) -> str | None:
        """Return the phone of a message, read from its hash (still in layout 1)."""
        if message_id not in self.phones:
            phone = self.redis.hget(_OLD + "msg:" + message_id, "phone")
            self.phones[message_id] = None if phone is None else text(phone)
        return self.phones[message_id]

    def _ref(self, message_id: str) -> str | None:
        phone = self._phone_of(message_id)
        return message_ref(phone, message_id) if phone else None

    def _move_sid_link(self, key: str, sid: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(key)
        pipe.pttl(key)
        message_id, ttl = pipe.execute()
        ref = self._ref(message_id) if message_id else None
        pipe = self.redis.pipeline(transaction=True)
        if ref:
            pipe.set(keys.sid_link(sid), ref, nx=True, px=ttl if ttl and ttl > 0 else None)
        pipe.delete(key)
        pipe.execute()
        self.moved += 1

    def _move_queue(self, old: str, new: str) -> None:
        """Move a queue, naming its messages by ref; entries for unknown messages go."""
        kind = self.redis.type(old)
        if kind not in ("list", "zset"):  # the drain flag, or gone already
            self._rename([(old, new)])
            return
        pipe = self.redis.pipeline(transaction=True)
        if kind == "list":
            refs = [self._ref(text(entry)) for entry in self.redis.lrange(old, 0, -1)]
            if any(refs):
                pipe.rpush(new, *(ref for ref in refs if ref))
        else:
            reply = self.redis.zrange(old, 0, -1, withscores=True)
            # Asked with scores, Redis answers with (member, score) pairs alone.
            pairs = (pair for pair in reply if not isinstance(pair, bytes | str))
            renamed = ((self._member(new, text(member)), score) for member, score in pairs)
            moved = {member: score for member, score in renamed if member is not None}
            if moved:
                pipe.zadd(new, moved)
        pipe.delete(old)
        pipe.execute()
        self.moved += 1

    def _member(self, queue: str, member: str) -> str | None:
        """Return a queue member with its message named by ref (None: no such message)."""
        if queue == keys.OUTBOX_INFLIGHT:
            return self._ref(member)
        try:
            payload = json.loads(member)
        except ValueError:
            return member  # not a timer: the worker logs and drops it, as before
        if not isinstance(payload, dict) or payload.get("type") not in ("send", "check"):
            return member
        message = payload.get("message")
        if not isinstance(message, str) or "/" in message:
            return member
        ref = self._ref(message)
        return timer_member({**payload, "message": ref}) if ref else None


def _kind(key: str) -> str | None:
    """Return what a layout 1 key holds (contact, msg, ...), or None for any other key."""
    match = _KEYED.fullmatch(key)
    return match.group(1) if match else None
