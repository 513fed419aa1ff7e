"""The worker process: RQ for the outbound queue, plus the ticker that fires due timers."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from zoneinfo import ZoneInfo

import redis
from rq import Worker

import nlu
from bot.delivery.timers import (
    CheckTimer,
    ClickTimer,
    SendTimer,
    StaffTimer,
    StartTimer,
    TimeoutTimer,
    Timer,
)
from bot.domain.link_bots import DELIVERY_GRACE, near_delivery
from bot.record import database
from bot.record.drain import entry_order
from bot.record.links import delivery_time, find_link
from bot.runtime import Runtime, install
from bot.storage import keys
from bot.storage.clicks import find

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5
BATCH = 200
# A click waits for the record to know its message's delivery this long at most, looking
# again every CLICK_RECHECK; then it is decided on what the record holds.
CLICK_PATIENCE = 30.0
CLICK_RECHECK = timedelta(seconds=1)


def tick(runtime: Runtime, now: datetime | None = None) -> int:
    """Fire every timer and schedule due at `now` (default: the clock); return timers fired."""
    now = now or runtime.clock()
    fired = 0
    while due := runtime.timers.claim_due(now, BATCH):
        fired += _fire(runtime, due)
    runtime.schedules.run_due(now)
    return fired


def _fire(runtime: Runtime, due: list[tuple[str, Timer | None]]) -> int:
    """Handle one claimed batch; timers that fail stay in flight and come back later."""
    timeouts = [timer for _, timer in due if isinstance(timer, TimeoutTimer)]
    starts = [timer for _, timer in due if isinstance(timer, StartTimer)]
    sends = [timer for _, timer in due if isinstance(timer, SendTimer)]
    checks = [timer for _, timer in due if isinstance(timer, CheckTimer)]
    staff = [timer for _, timer in due if isinstance(timer, StaffTimer)]
    clicks = [timer for _, timer in due if isinstance(timer, ClickTimer)]
    for member, timer in due:
        if timer is None:
            log.error("dropping a timer Parley does not know: %r", member)
    conversations = runtime.conversations
    try:
        busy = conversations.fire_timeouts(timeouts) if timeouts else []
        for timeout in busy:  # contacts mid-reply: wait for their lock
            conversations.fire_timeout(timeout.phone, timeout.run, timeout.seq)
        for start in starts:
            conversations.fire_start(
                start.phone, start.journey, start.due, start.data, start.event_id
            )
        for timer in staff:
            if timer.kind == "notify":  # the webhook may be slow: a job, retried
                runtime.outbox.enqueue_handoff_notice(timer.phone, timer.mark)
            else:
                runtime.desk.fire(timer)
        for click in clicks:
            _take_click(runtime, click)
        runtime.outbox.push(*(send.message for send in sends))
        if checks:
            # Checks ask Twilio, which may be slow: they run as a job, not on the ticker.
            runtime.outbox.enqueue_checks([(check.message, check.attempt) for check in checks])
    except Exception:
        # Left in flight: they come back after the in-flight timeout and are tried again.
        log.exception("%d timers failed", len(due))
        return 0
    runtime.timers.done(*(member for member, _ in due))
    return len(due)


def _take_click(runtime: Runtime, click: ClickTimer) -> None:
    """Let a person's click move journeys, unless it came within a second of its message's
    delivery; wait (the timer set again) until the record can tell.

    The record holds what happened up to a moment once every record stream entry before
    it is written: a delivery receipt that lands up to DELIVERY_GRACE after the click
    counts too, so the click waits that long and for the recorder, CLICK_PATIENCE at most.
    """
    link = find(runtime.redis, click.code) or find_link(runtime.record, click.code)
    if link is None:
        return
    if click.at is not None:
        settled = click.at + DELIVERY_GRACE.total_seconds()
        now, oldest = _record_position(runtime)
        unknown = now < settled or (oldest is not None and oldest <= settled)
        if unknown and now - click.at < CLICK_PATIENCE:
            runtime.timers.schedule(runtime.clock() + CLICK_RECHECK, click)
            return
        delivered = delivery_time(runtime.record, link.message)
        at = datetime.fromtimestamp(click.at, UTC)
        if delivered is not None and near_delivery(at, delivered):
            log.info("click %s came with its message's delivery: not acted on", click.click)
            return
    runtime.conversations.click(link.phone, link.url, link.message, link.journey, link.step)


def _record_position(runtime: Runtime) -> tuple[float, float | None]:
    """Return Redis' time and that of the oldest record stream entry not yet written."""
    pipe = runtime.redis.pipeline(transaction=False)
    pipe.time()
    pipe.xrange(keys.RECORD, count=1)
    (seconds, micros), first = pipe.execute()
    oldest = entry_order(first[0][0])[0] / 1000 if first else None
    return int(seconds) + int(micros) / 1_000_000, oldest


def recover(runtime: Runtime) -> int:
    """Take back what dead senders left: pending messages are queued, unsure ones checked."""
    unsure = runtime.outbox.recover()
    now = runtime.clock()
    for ref, attempt in unsure:
        runtime.timers.schedule(now, CheckTimer(ref, attempt))
    runtime.outbox.done(*(ref for ref, _ in unsure))
    return len(unsure)


class Ticker(threading.Thread):
    """Fires due timers and recovers work that a dead process left half done."""

    def __init__(self, runtime: Runtime, interval: float = TICK_SECONDS) -> None:
        super().__init__(name="parley-ticker", daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        """Tick until stopped."""
        while not self.stopped.wait(self.interval):
            try:
                now = self.runtime.clock()
                self.runtime.timers.recover(now)
                recover(self.runtime)
                tick(self.runtime, now)
                if self.runtime.outbox.size():
                    self.runtime.outbox.kick()
            except Exception:
                log.exception("ticker failed; trying again")

    def stop(self) -> None:
        """Ask the ticker to stop after its current tick."""
        self.stopped.set()


class OutboundWorker(Worker):
    """RQ's worker, remembering whether it was asked to stop (by a signal or a command)."""

    stopping = False

    def asked_to_stop(self) -> bool:
        """Say whether the worker was asked to stop."""
        return self.stopping

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """Note the request, then stop as RQ does: after the job in hand."""
        self.stopping = True
        # With Redis down and the loop over, RQ's own bookkeeping fails: noting it is enough.
        with contextlib.suppress(redis.exceptions.RedisError):
            super().request_stop(signum, frame)


def run(runtime: Runtime, *, burst: bool = False) -> None:
    """Run the RQ worker (with its scheduler) and the ticker until asked to stop.

    RQ's work loop gives up on some Redis errors (a write failing mid-job, a timeout);
    then the worker waits for Redis to answer again and starts a fresh work loop, so an
    outage only pauses sending.
    """
    install(runtime)
    database.upgrade_at_start(
        runtime.settings.record_url, ZoneInfo(runtime.settings.default_timezone)
    )
    for warning in runtime.settings.startup_warnings():
        log.warning("%s", warning)
    nlu.prepare()  # before forking work horses, so they inherit the trained model
    # Nothing runs on data in an older key layout: if Redis was down at start, wait for it.
    while True:
        try:
            runtime.prepare_storage()
            break
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("waiting for Redis: %s", exc)
            wait_for_redis(runtime.redis, lambda: False)
    ticker = Ticker(runtime)
    ticker.start()
    try:
        while True:
            worker = OutboundWorker([runtime.queue], connection=runtime.queue.connection)
            try:
                worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")
            except redis.exceptions.RedisError as exc:  # registering or tearing down
                log.warning("worker lost Redis: %s", exc)
            if burst or worker.stopping:
                return
            time.sleep(1.0)  # whatever ended the loop, do not spin on it
            if not wait_for_redis(runtime.redis, worker.asked_to_stop):
                return
            log.warning("restarting the work loop")
    finally:
        ticker.stop()


def wait_for_redis(
    client: redis.Redis,
    stopping: Callable[[], bool],
    pause: float = 0.5,
    longest: float = 5.0,
) -> bool:
    """Wait until Redis answers a PING (True) or `stopping()` says to give up (False)."""
    while not stopping():
        try:
            client.ping()
            return True
        except redis.exceptions.RedisError:
            time.sleep(pause)
            pause = min(pause * 2, longest)
    return False
