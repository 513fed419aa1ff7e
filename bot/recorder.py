"""The recorder process: copies the record stream into the record (SQL), batch by batch.

It runs on its own (`recorder:` in the Procfile) so that writing the record never takes
time from the web's replies or the worker's sends. One writes at a time, holding a lease;
others wait as standbys. They share the stream's consumer group, so a batch one read and
never finished is claimed by the next (bot/record/drain.py). After each batch it lets
recorded messages leave Redis, and now and then it trims idle contacts and prunes the
record by its retention setting.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import redis
from sqlalchemy.exc import DBAPIError

from bot.config import Settings
from bot.record import database
from bot.record.drain import RecordDrain, entry_order
from bot.record.retention import RetentionSettings, prune_due
from bot.record.writer import RecordWriter
from bot.storage import keys, redis_server
from bot.storage.store import Store, text

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0  # after Redis or the database failed to answer
RECENT_MESSAGES = 20  # messages of an active contact that stay in Redis once recorded
IDLE_SECONDS = 600.0  # a contact this long without a commit keeps none there
IDLE_EVENTS = 10  # events of an idle contact's log that stay in Redis
CLOCK_MARGIN = 60.0  # seconds two machines' clocks may disagree by
SWEEP_SECONDS = 30.0  # how often idle contacts are looked for
PRUNE_SECONDS = 3600.0  # how often the record is pruned, when RECORD_RETENTION_DAYS is set
SWEEP_BATCH = 500


class Recorder:
    """Drains the record stream until stopped."""

    def __init__(
        self, drain: RecordDrain, store: Store, retention: RetentionSettings | None = None
    ) -> None:
        self.drain = drain
        self.store = store
        self.retention = retention  # None: the record keeps everything
        self.stopped = threading.Event()
        self.token = uuid.uuid4().hex  # what the writer's lease holds while we hold it
        # Monotonic times of the last sweep and prune; None until the first, which is due
        # at once (a monotonic clock may start near zero: on a machine just booted).
        self._swept_at: float | None = None
        self._pruned_at: float | None = None
        # Contacts whose messages were written, each with one written (the newest of its
        # latest batch), waiting to be trimmed; and the newest entry written.
        self._untrimmed: dict[str, str] = {}
        self._written_upto: str | None = None

    def run(self, *, burst: bool = False) -> int:
        """Copy batches until stopped (or, with `burst`, until the stream is empty).

        Return how many entries were copied. A failure acknowledges nothing: the batch is
        read again once Redis and the database answer.
        """
        copied = 0
        try:
            copied = self._run(burst)
        finally:
            with contextlib.suppress(redis.exceptions.RedisError):
                self.release()
        return copied

    def _run(self, burst: bool) -> int:
        copied = 0
        while not self.stopped.is_set():
            try:
                count = self.step(block_ms=None if burst else 1000)
            except (redis.exceptions.RedisError, DBAPIError, OSError) as exc:
                log.warning("cannot copy to the record now: %s", exc)
                self.stopped.wait(RETRY_SECONDS)
                continue
            copied += count
            if burst and not count:
                break
        return copied

    def _prune_if_due(self) -> None:
        """Once an hour, delete what the retention setting no longer keeps."""
        if self.retention is None or not _due(self._pruned_at, PRUNE_SECONDS):
            return
        self._pruned_at = time.monotonic()
        try:
            prune_due(self.retention, self.drain.writer.engine, datetime.now(UTC))
        except (DBAPIError, OSError) as exc:  # an hour later it tries again
            log.warning("cannot prune the record now: %s", exc)

    def step(self, block_ms: int | None = None) -> int:
        """Copy one batch and trim Redis after it; return how many entries were copied.

        Only the recorder holding the writer's lease copies: two merging the same message
        at once would each miss what the other wrote. The others wait, ready to take over
        (after RECORD_CLAIM_AFTER) when it dies.
        """
        if not self._leading():
            self.stopped.wait((block_ms or 0) / 1000 or RETRY_SECONDS)
            return 0
        count = self.drain.run_once(block_ms=block_ms)
        if self.drain.newest is not None:
            self._untrimmed.update(self.drain.written)
            if self._written_upto is None or entry_order(self.drain.newest) > entry_order(
                self._written_upto
            ):
                self._written_upto = self.drain.newest
        try:
            self.trim()
            if _due(self._swept_at, SWEEP_SECONDS):
                self.sweep()
        except redis.exceptions.RedisError as exc:  # the next batch tries again
            log.warning("cannot trim Redis now: %s", exc)
        self._prune_if_due()
        return count

    def _leading(self) -> bool:
        lease = max(self.drain.claim_after_ms, 1000)
        return bool(self.store.scripts("lead", [keys.RECORD_WRITER], [self.token, lease]))

    def release(self) -> None:
        """Give up the writer's lease, if held, for another recorder to take at once."""
        self.store.scripts("unlock", [keys.RECORD_WRITER], [self.token])

    def trim(self) -> int:
        """Let the written contacts' recorded messages leave Redis, but their newest.

        Only messages the record holds leave: none after the one written of each contact
        (the rest of a backlog may hold newer ones), and none while an entry older than
        those written is left to write (a batch another recorder has in hand, or one that
        died with it, may hold older ones). Return how many messages left.
        """
        if not self._untrimmed or self._written_upto is None:
            return 0
        oldest = self.drain.oldest()
        if oldest is not None and entry_order(oldest) < entry_order(self._written_upto):
            return 0  # a later batch tries again
        removed = self.store.trim_messages(self._untrimmed, RECENT_MESSAGES, self._untrimmed)
        self._untrimmed = {}
        return removed

    def sweep(self, now: float | None = None) -> int:
        """Let the recorded messages (and most events) of idle contacts leave Redis.

        Only contacts whose last commit is older than everything the record has yet to
        copy: their messages are all in the record. Return how many messages left.
        """
        self._swept_at = time.monotonic()
        client = self.store.redis
        now = self.store.now() if now is None else now
        # A contact's score is its committing process's clock, the stream's ids Redis': the
        # margin keeps a contact whose last commit is still to be written from passing.
        horizon = min(now - IDLE_SECONDS, self.drain.lag_start(now) - CLOCK_MARGIN)
        since = float(client.get(keys.RECORD_SWEPT) or 0)
        if horizon <= since:
            return 0
        removed, lower, done = 0, f"({since}", set[str]()
        while True:
            # Contacts committed together share a score: a page may end among them, so the
            # next one starts at that score again and skips those already done.
            asked = SWEEP_BATCH + len(done)
            page: Any = client.zrangebyscore(keys.CONTACTS, lower, horizon, 0, asked, True)
            fresh = [(text(phone), float(score)) for phone, score in page]
            fresh = [(phone, score) for phone, score in fresh if phone not in done]
            if not fresh:
                break
            batch = [phone for phone, _ in fresh]
            removed += self.store.trim_messages(batch, 0)
            pipe = client.pipeline(transaction=False)
            for phone in batch:  # the record has the whole log; Redis keeps its tail
                pipe.ltrim(keys.events(phone), -IDLE_EVENTS, -1)
            pipe.execute()
            last = fresh[-1][1]
            done = {phone for phone, score in fresh if score == last} | (
                done if lower == repr(last) else set()
            )
            lower = repr(last)
            if len(page) < asked:
                break
        client.set(keys.RECORD_SWEPT, repr(horizon))
        return removed

    def stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Stop after the batch in hand (also a signal handler)."""
        self.stopped.set()


def run(settings: Settings, redis_url: str, *, burst: bool = False) -> int:
    """Run a recorder for these settings until SIGTERM or SIGINT; return entries copied."""
    database.upgrade_at_start(settings.record_url, ZoneInfo(settings.default_timezone))
    engine = database.connect(settings.record_url)
    client = redis_server.connect(redis_url)
    consumer = f"{socket.gethostname()}:{os.getpid()}"
    claim_after_ms = round(settings.record_claim_after * 1000)
    drain = RecordDrain(
        client,
        RecordWriter(engine, ZoneInfo(settings.default_timezone)),
        keys.RECORD,
        consumer,
        claim_after_ms,
        keys.RECORD_FEED,
    )
    recorder = Recorder(drain, Store(client), settings)
    signal.signal(signal.SIGTERM, recorder.stop)
    signal.signal(signal.SIGINT, recorder.stop)
    try:
        return recorder.run(burst=burst)
    finally:
        engine.dispose()
        client.close()


def _due(last: float | None, every: float) -> bool:
    """Say whether work done every `every` seconds, last at `last` (monotonic), is due."""
    return last is None or time.monotonic() - last >= every
