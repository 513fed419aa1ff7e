"""The outbound queue: message ids in a Redis list, drained in batches by RQ jobs."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from rq import Queue

from bot.storage import lua
from bot.storage.store import Store

log = logging.getLogger(__name__)

QUEUE_NAME = "parley-outbound"
# RQ finds its jobs by name. They run with the process's runtime, so they live above it,
# in bot.jobs, and are named here rather than imported.
DRAIN_JOB = "bot.jobs.drain"
CHECK_JOB = "bot.jobs.check_sends"
# If a drain job is lost (a worker killed before it started), the flag expires and
# the next kick enqueues a fresh one.
FLAG_TTL = 120
# A sender holds the messages it has taken under a lease that it renews while it works
# (Outbox.holding). When a sender dies its leases run out and a ticker recovers the messages
# within seconds: pending ones go back in the outbox, and those the dead sender had begun
# to hand to Twilio are returned for a check with Twilio before anything is sent again.
LEASE = 10.0


class Outbox:
    """Holds queued outbound messages and makes sure a drain job is on its way."""

    def __init__(self, store: Store, queue: Queue) -> None:
        self.store = store
        self.queue = queue
        self.list_key = store.key("outbox")
        self.flag_key = store.key("outbox", "drain")
        self.inflight_key = store.key("outbox", "inflight")
        self._take = lua.register(store.redis, "take")
        self._recover = lua.register(store.redis, "recover_outbox")
        self._renew = lua.register(store.redis, "renew")

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
        self._enqueue(DRAIN_JOB, job_id=f"parley-drain-{uuid.uuid4().hex}")

    def enqueue_checks(self, checks: list[tuple[str, int]]) -> None:
        """Enqueue a job that checks sends of unknown outcome, (message id, attempt) each."""
        self._enqueue(CHECK_JOB, checks)

    def _enqueue(self, job: str, *args: object, job_id: str | None = None) -> None:
        # Results are not read; a failed job is kept a day for a look at why.
        self.queue.enqueue(
            job, *args, job_id=job_id, result_ttl=0, failure_ttl=24 * 3600, job_timeout=600
        )

    def begin_drain(self) -> None:
        """Clear the flag so that anything queued from now on kicks a new job."""
        self.store.redis.delete(self.flag_key)

    def take(self, count: int) -> list[str]:
        """Pop up to `count` message ids, oldest first, leased to the caller for LEASE s."""
        return self._take(keys=[self.list_key, self.inflight_key], args=[count, LEASE])

    def renew(self, message_ids: list[str]) -> None:
        """Extend the leases of messages still in flight."""
        if message_ids:
            self._renew(keys=[self.inflight_key], args=[LEASE, *message_ids])

    @contextmanager
    def holding(self, message_ids: list[str]) -> Iterator[set[str]]:
        """Renew the leases of `message_ids` while the block runs, then mark them done.

        The block adds to the set it is given the ids it could not see through (a store
        error mid-send): those keep their lease until it runs out, and are then recovered.
        """
        stop, unsettled = threading.Event(), set[str]()

        def renew() -> None:
            while not stop.wait(LEASE / 4):
                try:
                    self.renew(message_ids)
                except redis.exceptions.RedisError:
                    log.warning("could not renew the leases of %d messages", len(message_ids))

        keeper = threading.Thread(target=renew, name="parley-lease", daemon=True)
        keeper.start()
        try:
            yield unsettled
        finally:
            stop.set()
            keeper.join()
        self.done(*(message_id for message_id in message_ids if message_id not in unsettled))

    def done(self, *message_ids: str) -> None:
        """Mark messages as finished by their sender."""
        if message_ids:
            self.store.redis.zrem(self.inflight_key, *message_ids)

    def recover(self) -> list[tuple[str, int]]:
        """Take back the messages of senders whose lease ran out.

        Pending ones go back in the outbox. Those a dead sender may have handed to Twilio
        are returned as (id, attempt) and stay in flight until the caller has arranged a
        check with Twilio and calls done() for them.
        """
        flat = self._recover(
            keys=[self.list_key, self.inflight_key], args=[self.store.key("msg", ""), LEASE]
        )
        return [(flat[i], int(flat[i + 1])) for i in range(0, len(flat), 2)]

    def size(self) -> int:
        """Return how many messages wait in the outbox."""
        return self.store.redis.llen(self.list_key)
