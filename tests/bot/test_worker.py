"""The worker: timers fire once however many tickers poll, and RQ drains the outbox."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from rq.utils import import_attribute

from bot import jobs, worker
from bot.conversation.runner import Inbound
from bot.conversation.schedules import Schedules
from bot.delivery.outbox import CHECK_JOB, DRAIN_JOB
from bot.delivery.timers import CheckTimer, SendTimer, StartTimer, TimeoutTimer, decode, encode
from bot.domain.messages import Status

PHONE = "+14155550123"


def test_each_timer_fires_once_with_two_tickers_racing(runtime, clock) -> None:
    due = clock() - timedelta(seconds=1)
    for number in range(300):
        runtime.timers.schedule(due, SendTimer(f"m{number}"))
    barrier = threading.Barrier(2)
    fired: list[int] = []

    def run() -> None:
        barrier.wait()
        fired.append(worker.tick(runtime))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(fired) == 300
    queued = runtime.redis.lrange(runtime.outbox.list_key, 0, -1)
    assert sorted(queued) == sorted(f"m{n}" for n in range(300))
    assert runtime.timers.pending() == 0


def test_timers_not_yet_due_wait(runtime, clock) -> None:
    runtime.timers.schedule(clock() + timedelta(minutes=5), SendTimer("x"))
    assert worker.tick(runtime) == 0
    clock.advance(minutes=5)
    assert worker.tick(runtime) == 1


def test_a_timer_claimed_by_a_dead_worker_comes_back(runtime, clock) -> None:
    runtime.timers.schedule(clock(), SendTimer("x"))
    assert len(runtime.timers.claim_due(clock())) == 1  # claimed, then the worker died
    assert worker.tick(runtime) == 0
    clock.advance(minutes=2)
    assert runtime.timers.recover(clock()) == 1
    assert worker.tick(runtime) == 1


def test_a_real_rq_worker_drains_the_outbox(runtime, emulator) -> None:
    runtime.conversations.receive(Inbound(sid="SMhi", phone=PHONE, body="hello"))
    runtime.conversations.receive(Inbound(sid="SMhelp", phone=PHONE, body="HELP"))
    runtime.conversations.receive(Inbound(sid="SMthx", phone=PHONE, body="thanks!"))
    worker.run(runtime, burst=True)
    bodies = [m["body"] for m in emulator.messages()]
    assert len(bodies) == 3
    # One contact's messages reach Twilio in the order they were queued.
    assert bodies[0].startswith("Hi! This is")
    assert "Msg & data rates may apply" in bodies[1]
    assert bodies[2] == "You're welcome!"
    statuses = {m.status for m in runtime.store.messages(PHONE) if m.direction == "outbound"}
    assert statuses <= {Status.QUEUED, Status.SENT, Status.DELIVERED}


def test_timeouts_fire_in_batches_and_wait_for_a_busy_contact(runtime, clock) -> None:
    phones = [f"+1415555{n:04d}" for n in range(120, 140)]
    data = {"appointment_at": "2026-12-03T17:30:00Z", "provider": "Dr. Lee"}
    for phone in phones:
        assert runtime.conversations.trigger(phone, "appointment_booked", data).started
    clock.advance(hours=24)
    busy = phones[3]
    held = threading.Event()

    def hold_the_lock() -> None:
        with runtime.store.lock(busy):  # a reply being handled for this contact
            held.set()
            threading.Event().wait(0.3)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait()
    assert worker.tick(runtime) == len(phones)
    holder.join()
    steps = {runtime.store.load_contact(p).runs[0].step for p in phones}
    assert steps == {"remind"}
    assert runtime.outbox.size() == 2 * len(phones)  # the ask, then the reminder


def test_timers_survive_a_redis_restart_with_aof(tmp_path, settings, clock) -> None:
    from bot.runtime import Runtime
    from bot.storage.redis_server import RedisProcess

    server = RedisProcess(tmp_path / "aof", appendonly=True).start()
    try:
        runtime = Runtime(settings, server.url, clock=clock)
        data = {"appointment_at": "2026-12-03T17:30:00Z", "provider": "Dr. Lee"}
        assert runtime.conversations.trigger(PHONE, "appointment_booked", data).started
        server.stop()  # SIGTERM: Redis flushes its append-only file and exits
        server.start()  # same directory and port: it replays the file
        clock.advance(hours=24)
        assert worker.tick(runtime) >= 1
        contact = runtime.store.load_contact(PHONE)
        assert contact is not None
        run = contact.runs[0]
        assert (run.journey, run.step) == ("appointment_confirmation", "remind")
    finally:
        server.stop()


def test_due_timers_fire_earliest_first(runtime, clock) -> None:
    for minutes in (3, 1, 2):
        due = clock() + timedelta(minutes=minutes)
        runtime.timers.schedule(due, SendTimer(f"m{minutes}"))
    clock.advance(minutes=5)
    assert worker.tick(runtime) == 3
    assert runtime.redis.lrange(runtime.outbox.list_key, 0, -1) == ["m1", "m2", "m3"]


@pytest.mark.parametrize(
    ("timer", "stored"),
    [
        (
            TimeoutTimer("+14155550123", "r1", 3),
            {"type": "timeout", "phone": "+14155550123", "run": "r1", "seq": 3},
        ),
        (
            StartTimer("+14155550123", "reminders", "2026-12-01T17:00:00+00:00", {"a": 1}),
            {
                "type": "start",
                "phone": "+14155550123",
                "journey": "reminders",
                "due": "2026-12-01T17:00:00+00:00",
                "data": {"a": 1},
            },
        ),
        (SendTimer("m1"), {"type": "send", "message": "m1"}),
        (CheckTimer("m1", 2), {"type": "check", "message": "m1", "attempt": 2}),
    ],
)
def test_timers_are_stored_as_before_and_read_back(timer, stored) -> None:
    # Timers already in Redis from earlier versions must still be read.
    assert encode(timer) == stored
    assert decode(stored) == timer


@pytest.mark.parametrize(
    "stored",
    [
        {"type": "nope"},
        {"type": "send"},
        {"message": "m1"},
        ["send", "m1"],
        "send",
        {"type": ["send"], "message": "m1"},
        {"type": {"send": 1}, "message": "m1"},
    ],
)
def test_what_is_not_a_timer_reads_as_none(stored) -> None:
    assert decode(stored) is None


def test_an_unknown_timer_is_dropped_and_the_rest_fire(runtime, clock) -> None:
    runtime.redis.zadd(runtime.timers.key, {'{"type": "nope"}': clock().timestamp()})
    runtime.timers.schedule(clock(), SendTimer("m1"))
    assert worker.tick(runtime) == 2
    assert runtime.redis.lrange(runtime.outbox.list_key, 0, -1) == ["m1"]


def test_a_timer_whose_type_is_not_text_is_dropped_and_the_rest_fire(runtime, clock) -> None:
    # A type that cannot be looked up (a list, a mapping) must not stop the whole batch.
    runtime.redis.zadd(runtime.timers.key, {'{"type": ["send"], "message": "m0"}': 0})
    runtime.timers.schedule(clock(), SendTimer("m1"))
    assert worker.tick(runtime) == 2
    assert runtime.redis.lrange(runtime.outbox.list_key, 0, -1) == ["m1"]
    assert runtime.redis.zcard(runtime.timers.inflight_key) == 0


def test_the_outbox_names_jobs_that_rq_can_find() -> None:
    # RQ looks a job up by its dotted name when it runs it: a moved function fails every send.
    assert import_attribute(DRAIN_JOB) is jobs.drain
    assert import_attribute(CHECK_JOB) is jobs.check_sends


def test_schedules_refuse_a_time_zone_that_does_not_exist(runtime) -> None:
    # Without a zone, local times would silently be read in the server's own time zone.
    with pytest.raises(ValueError, match="Mars/Olympus"):
        Schedules(runtime.store, runtime.conversations, "Mars/Olympus")
