"""The outbound queue: message refs in a Redis list, drained in batches by RQ jobs."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from rq import Queue, Retry

from bot.delivery import handoff_notice
from bot.domain.messages import parse_ref
from bot.storage import keys
from bot.storage.store import Store

log = logging.getLogger(__name__)

QUEUE_NAME = "parley-outbound"
# RQ finds its jobs by name. They run with the process's runtime, so they live above it,
# in bot.jobs, and are named here rather than imported.
DRAIN_JOB = "bot.jobs.drain"
CHECK_JOB = "bot.jobs.check_sends"
NOTICE_JOB = "bot.jobs.notify_handoff"
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
        self.list_key = keys.OUTBOX
        self.flag_key = keys.OUTBOX_DRAIN
        self.inflight_key = keys.OUTBOX_INFLIGHT
        self._run = store.scripts

    def push(self, *refs: str) -> None:
        """Queue messages (by Message.ref) already recorded as pending, and kick a drain."""
        if refs:
            self.store.redis.rpush(self.list_key, *refs)
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
        """Enqueue a job that checks sends of unknown outcome, (message ref, attempt) each."""
        self._enqueue(CHECK_JOB, checks)

    def enqueue_handoff_notice(self, phone: str, mark: str) -> None:
        """Enqueue telling the hand-off webhook that `phone` waits (since `mark`), with retries."""
        retry = Retry(
            max=len(handoff_notice.RETRY_INTERVALS), interval=handoff_notice.RETRY_INTERVALS
        )
        self._enqueue(NOTICE_JOB, phone, mark, retry=retry)

    def _enqueue(
        self, job: str, *args: object, job_id: str | None = None, retry: Retry | None = None
    ) -> None:
        # Results are not read; a failed job is kept a day for a look at why.
        self.queue.enqueue(
            job,
            *args,
            job_id=job_id,
            result_ttl=0,
            failure_ttl=24 * 3600,
            job_timeout=600,
            retry=retry,
        )

    def begin_drain(self) -> None:
        """Clear the flag so that anything queued from now on kicks a new job."""
        self.store.redis.delete(self.flag_key)

    def take(self, count: int) -> list[str]:
        """Pop up to `count` message refs, oldest first, leased to the caller for LEASE s."""
        return self._run("take", [self.list_key, self.inflight_key], [count, LEASE])

    def renew(self, refs: list[str]) -> None:
        """Extend the leases of messages still in flight."""
        if refs:
            self._run("renew", [self.inflight_key], [LEASE, *refs])

    @contextmanager
    def holding(self, refs: list[str]) -> Iterator[set[str]]:
        """Renew the leases of `refs` while the block runs, then mark them done.

        The block adds to the set it is given the refs it could not see through (a store
        error mid-send): those keep their lease until it runs out, and are then recovered.
        """
        stop, unsettled = threading.Event(), set[str]()

        def renew() -> None:
            while not stop.wait(LEASE / 4):
                try:
                    self.renew(refs)
                except redis.exceptions.RedisError:
                    log.warning("could not renew the leases of %d messages", len(refs))

        keeper = threading.Thread(target=renew, name="parley-lease", daemon=True)
        keeper.start()
        try:
            yield unsettled
        finally:
            stop.set()
            keeper.join()
        self.done(*(ref for ref in refs if ref not in unsettled))

    def done(self, *refs: str) -> None:
        """Mark messages as finished by their sender."""
        if refs:
            self.store.redis.zrem(self.inflight_key, *refs)

    def recover(self) -> list[tuple[str, int]]:
        """Take back the messages of senders whose lease ran out.

        Pending ones go back in the outbox. Those a dead sender may have handed to Twilio
        are returned as (ref, attempt) and stay in flight until the caller has arranged a
        check with Twilio and calls done() for them.
        """
        expired, unknown = self.expired(), []
        names = [self.list_key, self.inflight_key]
        for ref in expired:
            try:
                names.append(keys.message(*parse_ref(ref)))
            except ValueError:
                unknown.append(ref)
        if unknown:  # names no message: nothing to send or check
            log.error("dropping %d outbox entries that name no message", len(unknown))
            self.done(*unknown)
            expired = [ref for ref in expired if ref not in unknown]
        if not expired:
            return []
        flat = self._run("recover_outbox", names, [LEASE, *expired])
        return [(flat[i], int(flat[i + 1])) for i in range(0, len(flat), 2)]

    def expired(self, limit: int = 1000) -> list[str]:
        """Return up to `limit` refs in flight whose lease has run out by Redis' clock."""
        pipe = self.store.redis.pipeline(transaction=False)
        pipe.time()
        pipe.zrange(self.inflight_key, 0, limit - 1, withscores=True)
        (seconds, micros), leased = pipe.execute()
        now = seconds + micros / 1_000_000
        return [ref for ref, lease in leased if lease <= now]

    def size(self) -> int:
        """Return how many messages wait in the outbox."""
        return self.store.redis.llen(self.list_key)
