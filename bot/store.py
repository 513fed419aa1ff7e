"""Redis persistence: contacts, messages, inbound de-duplication and per-contact locks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

from bot import jsonio
from bot.contacts import Contact
from bot.guardrails import Standing
from bot.messages import RANK, Message
from bot.scripts import ScriptRunner

PREFIX = "parley:"
# A handled MessageSid is remembered this long: far past any retry of Twilio's.
INBOUND_TTL = 7 * 24 * 3600
EVENT_LOG_LENGTH = 500
_RANK_JSON = jsonio.dumps({str(status): rank for status, rank in RANK.items()})

# Move a message to a status only if it ranks higher than its current one. A callback
# that arrives before the sender has linked its MessageSid is parked under the sid
# and applied by _ACCEPT, so an early `delivered` is not lost.
_ADVANCE = """
local rank = cjson.decode(ARGV[3])
local id = redis.call('GET', KEYS[1])
if not id then
  local parked = redis.call('HGET', KEYS[2], 'status')
  if (not parked) or (rank[ARGV[1]] or 0) > (rank[parked] or 0) then
    redis.call('HSET', KEYS[2], 'status', ARGV[1], 'error_code', ARGV[2])
    redis.call('EXPIRE', KEYS[2], 3600)
  end
  return nil
end
local key = ARGV[4] .. id
local current = redis.call('HGET', key, 'status')
local phone = redis.call('HGET', key, 'phone')
if current and (rank[ARGV[1]] or 0) <= (rank[current] or 0) then
  return {id, phone, current, 0}
end
redis.call('HSET', key, 'status', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', key, 'error_code', ARGV[2]) end
return {id, phone, ARGV[1], 1}
"""

# Record Twilio's acceptance of a message: its sid, and the best status known for it.
# A message already linked to another sid keeps it (answers nil): one message, one sid.
_ACCEPT = """
local rank = cjson.decode(ARGV[4])
local linked = redis.call('HGET', KEYS[1], 'sid')
if linked and linked ~= ARGV[2] then return nil end
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
redis.call('SET', KEYS[2], ARGV[1], 'EX', 2592000)
local status = ARGV[3]
local parked = redis.call('HGETALL', KEYS[3])
local error_code = ARGV[5]
if #parked > 0 then
  local p = {}
  for i = 1, #parked, 2 do p[parked[i]] = parked[i + 1] end
  if (rank[p.status] or 0) > (rank[status] or 0) then
    status = p.status
    error_code = p.error_code or ''
  end
  redis.call('DEL', KEYS[3])
end
-- A status callback may have linked the message already and moved it further on.
local current = redis.call('HGET', KEYS[1], 'status')
if current and (rank[current] or 0) > (rank[status] or 0) then
  redis.call('HSET', KEYS[1], 'sid', ARGV[2])
  return current
end
redis.call('HSET', KEYS[1], 'sid', ARGV[2], 'status', status)
if error_code ~= '' then redis.call('HSET', KEYS[1], 'error_code', error_code) end
return status
"""

# Start handling an inbound message in one round trip: skip it if a turn for its MessageSid
# has committed, else take the contact's lock and read the contact. Nothing lasting is
# written here: a MessageSid counts as handled only once its turn commits (see _COMMIT), so
# an attempt that dies before its commit leaves nothing behind that would hide the retry.
# A lock token is "<MessageSid>:<hex>"; with ARGV[4] = '1' a lock held by an earlier attempt
# at the same MessageSid is taken over, since that attempt is dead or cannot commit anyway.
# KEYS: handled marker, lock, contact. ARGV: token, lock lease (ms), MessageSid, take over.
# Answers {DUPLICATE}, {BUSY} or {LOCKED, contact json}.
_BEGIN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then
  local prefix = ARGV[3] .. ':'
  local same = #holder == #prefix + 32 and string.sub(holder, 1, #prefix) == prefix
  if not (same and ARGV[4] == '1') then return {1} end
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {2, redis.call('GET', KEYS[3])}
"""
DUPLICATE, BUSY, LOCKED = 0, 1, 2
# What a commit did: applied, or nothing because the MessageSid was handled or the lock lost.
COMMITTED, REPEAT, LOCK_LOST = 0, 1, 2

# Apply the writes of one or more transitions (see Store.commit_many) atomically.
# KEYS: contacts index, outbox, timers, stats. ARGV: the document, event log length.
# - doc.done marks this very call as applied for a minute: the same call made again after
#   its reply was lost (the script runner retries on a new connection) changes nothing.
# - doc.claims holds [marker key, token, ttl] for each inbound message the transitions
#   handle: if one was handled already by another attempt, nothing is written; otherwise
#   the markers are set with the writes, so a message counts as handled exactly when its
#   turn is saved.
# - doc.fence holds [lock key, token] for each contact lock the transitions were made
#   under: if one is no longer held (it expired, or a retry took it over), nothing is
#   written, so a transition never overwrites one saved after it was read.
# Answers {COMMITTED|REPEAT|LOCK_LOST, 1 if the drain flag is up because of this call}.
_COMMIT = """
local doc = cjson.decode(ARGV[1])
local function flag_up()
  if doc.flag ~= cjson.null and redis.call('EXISTS', doc.flag[1]) == 1 then return 1 end
  return 0
end
if redis.call('EXISTS', doc.done) == 1 then return {0, flag_up()} end
for _, c in ipairs(doc.claims) do
  local marker = redis.call('GET', c[1])
  if marker then
    -- Our own marker: this very turn was saved and the reply lost on the way back.
    if marker == c[2] then return {0, flag_up()} end
    return {1, 0}
  end
end
for _, f in ipairs(doc.fence) do
  if redis.call('GET', f[1]) ~= f[2] then return {2, 0} end
end
for _, c in ipairs(doc.contacts) do
  redis.call('SET', c.key, c.value)
  redis.call('ZADD', KEYS[1], 'GT', doc.now, c.phone)
  for _, m in ipairs(c.messages) do redis.call('HSET', m[1], unpack(m[2])) end
  if #c.ids > 0 then redis.call('RPUSH', c.list, unpack(c.ids)) end
  if #c.outbox > 0 then redis.call('RPUSH', KEYS[2], unpack(c.outbox)) end
  for _, t in ipairs(c.timers) do redis.call('ZADD', KEYS[3], t[1], t[2]) end
  if #c.events > 0 then
    redis.call('RPUSH', c.log, unpack(c.events))
    redis.call('LTRIM', c.log, -tonumber(ARGV[2]), -1)
  end
  for _, name in ipairs(c.counters) do redis.call('HINCRBY', KEYS[4], name, 1) end
end
for _, c in ipairs(doc.claims) do redis.call('SET', c[1], c[2], 'EX', c[3]) end
redis.call('SET', doc.done, 1, 'EX', 60)
for _, l in ipairs(doc.unlock) do
  if redis.call('GET', l[1]) == l[2] then redis.call('DEL', l[1]) end
end
if doc.flag ~= cjson.null then
  if redis.call('SET', doc.flag[1], 1, 'NX', 'EX', doc.flag[2]) then return {0, 1} end
end
return {0, 0}
"""

# Release a lock only if it still holds our token (it may have expired and moved on).
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Hand a pending message to exactly one sender.
# It also reads what the guardrails need from the contact, so a send costs one round trip
# before Twilio and one after: {hash, exists, subscribed, undeliverable, marketing}.
# KEYS: message, contact. ARGV: the claim's token. The time of the attempt is Redis' own,
# so every worker measures from one clock. The same claim made again (its reply was lost
# and the script runner retried it) answers as the first did.
_CLAIM = """
local m = redis.call('HMGET', KEYS[1], 'status', 'claim', 'sid')
if not (m[1] == 'submitting' and m[2] == ARGV[1]) then
  if m[1] ~= 'pending' or (m[3] and m[3] ~= '') then return nil end
  local t = redis.call('TIME')
  local now = string.format('%.6f', tonumber(t[1]) + tonumber(t[2]) / 1000000)
  redis.call('HSET', KEYS[1], 'status', 'submitting', 'submitted_at', now, 'claim', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
end
local standing = {'0', '0', '', '0'}
local raw = redis.call('GET', KEYS[2])
if raw then
  local c = cjson.decode(raw)
  local consent = type(c.consent) == 'table' and c.consent.marketing or nil
  standing = {
    '1',
    c.subscribed == true and '1' or '0',
    (c.undeliverable ~= nil and c.undeliverable ~= cjson.null) and tostring(c.undeliverable) or '',
    (type(consent) == 'table' and consent.granted == true) and '1' or '0',
  }
end
return {redis.call('HGETALL', KEYS[1]), standing[1], standing[2], standing[3], standing[4]}
"""


class LockLost(TimeoutError):
    """A contact's lock could not be had, or expired before the transition was saved."""


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


# Settle attempt ARGV[1] of a message whose sender is done with it: a new status (and
# error code), and back in the outbox if ARGV[4] is '1'. Nothing happens if the message has
# moved on since: linked to a sid by a status callback, or tried again.
# KEYS: message, outbox. ARGV: attempt, status, error code or '', requeue, message id.
_SETTLE = """
local m = redis.call('HMGET', KEYS[1], 'status', 'sid', 'attempts')
if m[1] ~= 'submitting' or (m[2] and m[2] ~= '') or m[3] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error_code', ARGV[3]) end
if ARGV[4] == '1' then redis.call('RPUSH', KEYS[2], ARGV[5]) end
return 1
"""


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
        self._advance = client.register_script(_ADVANCE)
        self._claim = client.register_script(_CLAIM)
        self._accept = client.register_script(_ACCEPT)
        self._unlock = client.register_script(_UNLOCK)
        self._begin = client.register_script(_BEGIN)
        self._commit = client.register_script(_COMMIT)
        self._settle = client.register_script(_SETTLE)
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
        key, token = self.key("lock", phone), uuid.uuid4().hex
        deadline, pause = time.monotonic() + timeout, 0.005
        while not self.redis.set(key, token, nx=True, px=int(timeout * 1000)):
            if time.monotonic() > deadline:
                raise LockLost(f"could not lock contact {phone}")
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
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
            "fence": [[self.key("lock", phone), token] for phone, token in (fence or {}).items()],
            "unlock": [[self.key("lock", phone), token] for phone, token in (unlock or {}).items()],
            "flag": [flag[0], flag[1]] if flag else None,
        }
        keys = [self.key("contacts"), self.key("outbox"), self.key("timers"), self.key("stats")]
        outcome, raised = self._run(self._commit, keys, [jsonio.dumps(document), EVENT_LOG_LENGTH])
        return int(outcome), bool(raised)

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
            pipe.hgetall(self.key("msg", message_id))
        return [Message.from_hash(data) for data in pipe.execute() if data]

    def message(self, message_id: str) -> Message | None:
        """Return one message by id."""
        data = self.redis.hgetall(self.key("msg", message_id))
        return Message.from_hash(data) if data else None

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
        error = "" if error_code is None else str(error_code)
        args = [str(attempt), str(status), error, "1" if requeue else "0", message_id]
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
        error = "" if error_code is None else str(error_code)
        return self._run(
            self._accept,
            [self.key("msg", message_id), self.key("sid", sid), self.key("parked", sid)],
            [message_id, sid, str(status), _RANK_JSON, error],
        )

    def advance_status(
        self, sid: str, status: str, error_code: int | None = None
    ) -> tuple[str, str, str, bool] | None:
        """Apply a Twilio status if it moves forward; return (id, phone, status, changed)."""
        error = "" if error_code is None else str(error_code)
        result = self._run(
            self._advance,
            [self.key("sid", sid), self.key("parked", sid)],
            [status, error, _RANK_JSON, self.key("msg", "")],
        )
        if not result:
            return None
        message_id, phone, current, changed = result
        return message_id, phone, current, bool(changed)

    def stats(self) -> dict[str, int]:
        """Return the analytics counters."""
        return {key: int(value) for key, value in self.redis.hgetall(self.key("stats")).items()}
