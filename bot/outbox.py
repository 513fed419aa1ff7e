"""The outbound queue: message ids in a Redis list, drained in batches by RQ jobs."""

from __future__ import annotations

import uuid

from rq import Queue

from bot.store import Store

QUEUE_NAME = "parley-outbound"
DRAIN_JOB = "bot.sender.drain"
# If a drain job is lost (a worker killed before it started), the flag expires and
# the next kick enqueues a fresh one.
FLAG_TTL = 120
# A message taken but not finished within this many seconds (its worker died) is
# put back; the pending -> submitting claim keeps it from being sent twice.
INFLIGHT_TIMEOUT = 120

_TAKE = """
local ids = redis.call('LPOP', KEYS[1], ARGV[1])
if not ids then return {} end
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[2], ARGV[2], id) end
return ids
"""

_RECOVER = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('RPUSH', KEYS[1], id)
end
return #ids
"""


class Outbox:
    """Holds queued outbound messages and makes sure a drain job is on its way."""

    def __init__(self, store: Store, queue: Queue) -> None:
        self.store = store
        self.queue = queue
        self.list_key = store.key("outbox")
        self.flag_key = store.key("outbox", "drain")
        self.inflight_key = store.key("outbox", "inflight")
        self._take = store.redis.register_script(_TAKE)
        self._recover = store.redis.register_script(_RECOVER)

    def push(self, *message_ids: str) -> None:
        """Queue messages that are already recorded as pending, and kick a drain."""
        if message_ids:
            self.store.redis.rpush(self.list_key, *message_ids)
            self.kick()

    @property
    def flag(self) -> tuple[str, int]:
        """Return the drain flag as (key, ttl), for setting it inside a commit."""
        return self.flag_key, FLAG_TTL

    def kick(self) -> bool:
        """Enqueue a drain job unless one is already waiting; True if this call did."""
        if not self.store.redis.set(self.flag_key, 1, nx=True, ex=FLAG_TTL):
            return False
        self.enqueue_drain()
        return True

    def enqueue_drain(self) -> None:
        """Enqueue a drain job (the caller has just set the flag)."""
        self.queue.enqueue(
            DRAIN_JOB,
            job_id=f"parley-drain-{uuid.uuid4().hex}",
            result_ttl=0,
            failure_ttl=24 * 3600,
            job_timeout=600,
        )

    def begin_drain(self) -> None:
        """Clear the flag so that anything queued from now on kicks a new job."""
        self.store.redis.delete(self.flag_key)

    def take(self, count: int, now: float) -> list[str]:
        """Pop up to `count` message ids, oldest first, marking them in flight."""
        return self._take(keys=[self.list_key, self.inflight_key], args=[count, now])

    def done(self, *message_ids: str) -> None:
        """Mark messages as finished by their sender."""
        if message_ids:
            self.store.redis.zrem(self.inflight_key, *message_ids)

    def recover(self, now: float) -> int:
        """Put back messages whose sender died mid-batch; return how many."""
        count = self._recover(
            keys=[self.list_key, self.inflight_key], args=[now - INFLIGHT_TIMEOUT]
        )
        if count:
            self.kick()
        return int(count)

    def size(self) -> int:
        """Return how many messages wait in the outbox."""
        return self.store.redis.llen(self.list_key)
