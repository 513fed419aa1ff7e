"""The recorder process: copies the record stream into the record (SQL), batch by batch.

It runs on its own (`recorder:` in the Procfile) so that writing the record never takes
time from the web's replies or the worker's sends. Any number may run: they share the
stream's consumer group, and a batch one of them read and never finished is claimed by
another (bot/record/drain.py).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType

import redis
from sqlalchemy.exc import DBAPIError

from bot.config import Settings
from bot.record import database
from bot.record.drain import RecordDrain
from bot.record.writer import RecordWriter
from bot.storage import keys, redis_server

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0  # after Redis or the database failed to answer


class Recorder:
    """Drains the record stream until stopped."""

    def __init__(self, drain: RecordDrain) -> None:
        self.drain = drain
        self.stopped = threading.Event()

    def run(self, *, burst: bool = False) -> int:
        """Copy batches until stopped (or, with `burst`, until the stream is empty).

        Return how many entries were copied. A failure acknowledges nothing: the batch is
        read again once Redis and the database answer.
        """
        copied = 0
        while not self.stopped.is_set():
            try:
                count = self.drain.run_once(block_ms=None if burst else 1000)
            except (redis.exceptions.RedisError, DBAPIError, OSError) as exc:
                log.warning("cannot copy to the record now: %s", exc)
                self.stopped.wait(RETRY_SECONDS)
                continue
            copied += count
            if burst and not count:
                break
        return copied

    def stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Stop after the batch in hand (also a signal handler)."""
        self.stopped.set()


def run(settings: Settings, redis_url: str, *, burst: bool = False) -> int:
    """Run a recorder for these settings until SIGTERM or SIGINT; return entries copied."""
    database.upgrade_at_start(settings.record_url)
    engine = database.connect(settings.record_url)
    client = redis_server.connect(redis_url)
    consumer = f"{socket.gethostname()}:{os.getpid()}"
    recorder = Recorder(RecordDrain(client, RecordWriter(engine), keys.RECORD, consumer))
    signal.signal(signal.SIGTERM, recorder.stop)
    signal.signal(signal.SIGINT, recorder.stop)
    try:
        return recorder.run(burst=burst)
    finally:
        engine.dispose()
        client.close()
