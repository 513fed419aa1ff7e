"""The recorder: the record complete, and Redis holding only a recent window of messages."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.runner import Inbound
from bot.delivery.sender import Sender
from bot.record import drain as drain_module
from bot.record.drain import GROUP, RecordDrain
from bot.record.writer import Commit, RecordWriter
from bot.recorder import IDLE_SECONDS, RECENT_MESSAGES, Recorder
from bot.runtime import Runtime
from bot.storage import keys

PHONE = "+14155550123"


def recorder(runtime: Runtime) -> Recorder:
    drain = RecordDrain(runtime.redis, RecordWriter(runtime.record), keys.RECORD, "test")
    return Recorder(drain, runtime.store)


def converse(runtime: Runtime, turns: int) -> None:
    """Text the bot `turns` times; its replies are sent."""
    for n in range(turns):
        runtime.conversations.receive(Inbound(f"SM{n:032d}", PHONE, f"question {n}"))
    Sender(runtime).drain()


def in_redis(runtime: Runtime) -> int:
    return int(runtime.redis.llen(keys.messages(PHONE)))


def everything(runtime: Runtime) -> list[dict[str, Any]]:
    return runtime.history.messages(PHONE, limit=500)


def test_recorded_messages_leave_redis_but_not_the_history(runtime: Runtime) -> None:
    converse(runtime, 30)
    before = everything(runtime)
    assert len(before) == 60 and in_redis(runtime) == 60
    assert recorder(runtime).run(burst=True) > 0
    assert in_redis(runtime) == RECENT_MESSAGES
    assert everything(runtime) == before
    # Its last 20 are still there for the bot and a live inbox; older ones are gone.
    assert runtime.store.messages(PHONE)[0].body == before[-RECENT_MESSAGES]["body"]


def test_a_message_still_being_sent_stays_with_everything_after_it(runtime: Runtime) -> None:
    converse(runtime, 16)
    first_reply = runtime.store.messages(PHONE)[1]
    # A sender is handing it to Twilio right now (or died doing so: recovery needs it).
    runtime.redis.hset(keys.message(PHONE, first_reply.id), "status", "submitting")
    recorder(runtime).run(burst=True)
    kept = runtime.store.messages(PHONE)
    assert kept[0].id == first_reply.id and len(kept) == 31


def test_an_idle_contact_keeps_no_recorded_messages_in_redis(runtime: Runtime) -> None:
    converse(runtime, 5)
    copier = recorder(runtime)
    copier.run(burst=True)
    assert in_redis(runtime) == 10
    before = everything(runtime)
    assert copier.sweep(now=runtime.store.now()) == 0  # not idle yet
    assert copier.sweep(now=runtime.store.now() + IDLE_SECONDS + 1) == 10
    assert in_redis(runtime) == 0
    assert everything(runtime) == before


def test_an_idle_contact_whose_commits_are_not_recorded_yet_keeps_them(runtime: Runtime) -> None:
    converse(runtime, 2)  # nothing copied: the stream still holds these commits
    assert recorder(runtime).sweep(now=runtime.store.now() + IDLE_SECONDS + 1) == 0
    assert in_redis(runtime) == 4


class Keep30Days:
    record_retention_days = 30


def test_the_recorder_prunes_what_retention_no_longer_keeps(runtime: Runtime) -> None:
    old = Commit(
        "1600000000000-0",
        "2020-09-13T12:26:40+00:00",
        PHONE,
        messages=[
            {
                "id": "old",
                "phone": PHONE,
                "direction": "inbound",
                "body": "years ago",
                "status": "received",
                "at": "2020-09-13T12:26:40+00:00",
            }
        ],
    )
    RecordWriter(runtime.record).apply([old])
    converse(runtime, 1)
    drain = RecordDrain(runtime.redis, RecordWriter(runtime.record), keys.RECORD, "test")
    Recorder(drain, runtime.store, Keep30Days()).run(burst=True)
    bodies = [m["body"] for m in everything(runtime)]
    assert "years ago" not in bodies and "question 0" in bodies
    # Without a retention setting the record keeps everything.
    RecordWriter(runtime.record).apply([old])
    recorder(runtime).run(burst=True)
    assert "years ago" in [m["body"] for m in everything(runtime)]


def test_a_late_status_for_a_message_gone_from_redis_reaches_only_the_record(
    runtime: Runtime,
) -> None:
    converse(runtime, 1)
    (reply,) = [m for m in runtime.store.messages(PHONE) if m.direction == "outbound"]
    assert reply.sid
    recorder(runtime).run(burst=True)
    runtime.store.trim_messages([PHONE], 0)  # recorded, then gone from Redis
    assert not runtime.redis.exists(keys.message(PHONE, reply.id))

    runtime.store.advance_status(reply.sid, "delivered")  # the carrier's receipt, hours late
    assert not runtime.redis.exists(keys.message(PHONE, reply.id))  # nothing left behind
    recorder(runtime).run(burst=True)
    (shown,) = [m for m in everything(runtime) if m["id"] == reply.id]
    assert shown["status"] == "delivered"


def listed(runtime: Runtime) -> list[tuple[str, str, str]]:
    """Return the messages the history lists: which, in what order (not their statuses,
    which for those beyond Redis' window are the record's, as recent as its copy)."""
    return [(m["id"], m["direction"], m["body"]) for m in everything(runtime)]


def test_messages_a_dead_recorders_batch_holds_stay_in_redis_until_written(
    runtime: Runtime,
) -> None:
    converse(runtime, 15)
    before = everything(runtime)
    # A recorder read the oldest entries and died before writing them: they stay pending
    # (for another to claim after CLAIM_AFTER_MS) while newer ones are copied.
    runtime.redis.xgroup_create(keys.RECORD, GROUP, id="0", mkstream=True)
    runtime.redis.xreadgroup(GROUP, "dead", {keys.RECORD: ">"}, count=5)
    copier = recorder(runtime)
    assert copier.run(burst=True) > 0
    assert listed(runtime) == [(m["id"], m["direction"], m["body"]) for m in before]
    claimer = Recorder(
        RecordDrain(runtime.redis, RecordWriter(runtime.record), keys.RECORD, "b", 0),
        runtime.store,
    )
    assert claimer.run(burst=True) == 5
    assert everything(runtime) == before
    assert in_redis(runtime) == RECENT_MESSAGES  # and, once it has, they leave


def test_a_backlog_copied_batch_by_batch_keeps_what_is_not_copied_yet(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recorder catching up (after the database was down) copies the oldest first."""
    converse(runtime, 30)
    before = everything(runtime)
    monkeypatch.setattr(drain_module, "BATCH", 10)
    copier = recorder(runtime)
    while copier.step():  # none leaves Redis before the record has it
        assert listed(runtime) == [(m["id"], m["direction"], m["body"]) for m in before]
    assert in_redis(runtime) == RECENT_MESSAGES
    assert everything(runtime) == before


def test_contacts_committed_together_are_all_swept_whatever_the_page_size(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timer batch commits many contacts at once: they share their score in the index."""
    import bot.recorder

    phones = [f"+1415555{n:04d}" for n in range(7)]
    for n, phone in enumerate(phones):
        runtime.conversations.receive(Inbound(f"SM{n:032d}", phone, "hello"))
    Sender(runtime).drain()
    copier = recorder(runtime)
    copier.run(burst=True)
    same = runtime.store.now() - 1
    runtime.redis.zadd(keys.CONTACTS, dict.fromkeys(phones, same))
    monkeypatch.setattr(bot.recorder, "SWEEP_BATCH", 3)
    assert copier.sweep(now=runtime.store.now() + IDLE_SECONDS + 1) == 14
    assert all(runtime.redis.llen(keys.messages(phone)) == 0 for phone in phones)


def test_one_recorder_writes_at_a_time_and_another_takes_over_when_it_stops(
    runtime: Runtime,
) -> None:
    """Two recorders merging one message at once would each lose what the other wrote."""
    converse(runtime, 2)
    first, second = recorder(runtime), recorder(runtime)
    assert first.step() > 0  # it holds the writer's lease now
    runtime.conversations.receive(Inbound("SM" + "7" * 32, PHONE, "one more thing"))
    assert second.step(block_ms=1) == 0  # waits while the first holds it
    assert runtime.redis.xlen(keys.RECORD) > 0
    first.release()
    assert second.step() > 0
    assert runtime.redis.xlen(keys.RECORD) == 0
