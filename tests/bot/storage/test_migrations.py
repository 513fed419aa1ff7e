"""Start-up migration: data written in Parley's first key layout is all there after start-up."""

from __future__ import annotations

import threading
from typing import Any, TypedDict

import pytest
import redis

from bot.delivery.sender import Sender
from bot.delivery.timers import SendTimer, TimeoutTimer, encode
from bot.domain.contacts import Contact
from bot.domain.messages import Direction, Kind, Message, Status, message_ref
from bot.runtime import Runtime
from bot.storage import jsonio, keys, migrations
from bot.storage.store import DUPLICATE, InboundClaim, timer_member
from bot.worker import tick

PHONE = "+14155550123"
OTHER = "+14155550199"
WEEK, MONTH = 7 * 24 * 3600, 30 * 24 * 3600


def message(message_id: str, phone: str, body: str, status: Status, **extra) -> Message:
    inbound = status is Status.RECEIVED
    return Message(
        id=message_id,
        phone=phone,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        body=body,
        status=status,
        at="2026-11-30T16:00:00+00:00",
        kind=None if inbound else Kind.TRANSACTIONAL,
        **extra,
    )


class Layout1(TypedDict):
    """What write_layout_1 wrote, to be found again after the upgrade."""

    contact: Contact
    messages: list[Message]
    events: list[dict[str, str]]
    timeout: dict[str, Any]


def write_layout_1(client: redis.Redis, clock) -> Layout1:
    """Write what Parley's first key layout held, as its code wrote it; return the facts."""
    contact = Contact(PHONE, "America/Los_Angeles", "2026-11-01T10:00:00+00:00")
    contact.fields["first_name"] = "Ada"
    messages = [
        message("SMin1", PHONE, "hello", Status.RECEIVED),
        message("out1", PHONE, "Hi Ada", Status.QUEUED, sid="SMout1", attempts=1),
        message("out2", PHONE, "queued before the upgrade", Status.PENDING),
        message("out3", PHONE, "waiting for its retry", Status.PENDING, attempts=1),
        message("out4", PHONE, "its sender died", Status.SUBMITTING, attempts=1),
        message("out5", PHONE, "its answer is late", Status.SUBMITTING, attempts=1),
    ]
    events = [{"at": "2026-11-30T16:00:00+00:00", "type": "message_received", "text": "hello"}]
    now = clock().timestamp()
    timeout = encode(TimeoutTimer(PHONE, "run1", 1))
    pipe = client.pipeline(transaction=False)
    pipe.set(f"parley:contact:{PHONE}", jsonio.dumps(contact.to_dict()))
    pipe.set(f"parley:contact:{OTHER}", jsonio.dumps(Contact(OTHER, "UTC", "x").to_dict()))
    pipe.zadd("parley:contacts", {PHONE: now, OTHER: now})
    pipe.rpush(f"parley:messages:{PHONE}", *(m.id for m in messages))
    for m in messages:
        # redis-py types `mapping` as Mapping[FieldT, EncodableT], invariant in its union key
        # type, so it refuses any dict[str, str] that is not written out in the call itself.
        pipe.hset(f"parley:msg:{m.id}", mapping=m.to_hash())  # type: ignore[arg-type]
    pipe.rpush(f"parley:events:{PHONE}", *(jsonio.dumps(e) for e in events))
    pipe.set("parley:inbound:SMin1", "SMin1:" + "a" * 32, ex=WEEK)
    pipe.set("parley:sid:SMout1", "out1", ex=MONTH)
    pipe.hset("parley:parked:SMlate", mapping={"status": "delivered", "error_code": ""})
    pipe.expire("parley:parked:SMlate", 3600)
    pipe.rpush("parley:outbox", "out2", "gone")  # an id with no message: nothing to send
    pipe.zadd("parley:outbox:inflight", {"out4": 0})  # its lease ran out long ago
    pipe.set("parley:outbox:drain", 1, ex=120)
    pipe.zadd(
        "parley:timers",
        {
            timer_member(encode(SendTimer("out3"))): now,
            timer_member(timeout): now + 86400,
        },
    )
    pipe.hincrby("parley:stats", "messages_received", 1)
    pipe.execute()
    return {"contact": contact, "messages": messages, "events": events, "timeout": timeout}


def layout_1_keys(client: redis.Redis) -> list[str]:
    """Return the keys still named as the first layout named them."""
    kept = {keys.CONTACTS, keys.STATS, keys.SCHEDULES, keys.SCHEMA, keys.SCHEMA_LOCK}
    return [
        key
        for key in client.scan_iter(match="parley:*")
        if key not in kept and "{" not in key and not key.startswith("parley:committed:")
    ]


def test_data_in_the_first_layout_is_all_there_after_start_up(
    settings, redis_url, clock, emulator
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    old = write_layout_1(client, clock)

    runtime = Runtime(settings, redis_url, clock=clock)  # start-up migrates

    assert migrations.version(client) == keys.SCHEMA_VERSION
    assert layout_1_keys(client) == []
    store = runtime.store
    assert store.load_contact(PHONE) == old["contact"]
    assert store.load_contact(OTHER) is not None
    assert store.messages(PHONE) == old["messages"]
    assert store.events(PHONE) == old["events"]
    assert store.stats() == {"messages_received": 1}
    # Twilio retrying a message handled before the upgrade: still a repeat, for a week.
    assert store.begin_inbound(InboundClaim.new("SMin1", PHONE))[0] == DUPLICATE
    assert 0 < client.ttl(keys.handled(PHONE, "SMin1")) <= WEEK
    # A status callback for a message sent before the upgrade still finds it.
    out1 = message_ref(PHONE, "out1")
    assert store.advance_status("SMout1", "delivered") == (out1, PHONE, "delivered", True)
    assert 0 < client.ttl(keys.sid_link("SMout1")) <= MONTH
    # A status parked before the upgrade is applied when its message is linked.
    assert store.accept(message_ref(PHONE, "out5"), "SMlate", "queued") == "delivered"
    # The drain flag, and the timer of a contact's journey, are where this version looks.
    assert client.exists(keys.OUTBOX_DRAIN)
    assert client.zscore(keys.TIMERS, timer_member(old["timeout"])) is not None
    # The dead sender's message is recovered, for a check with Twilio.
    assert runtime.outbox.recover() == [(message_ref(PHONE, "out4"), 1)]
    # The queued message, and the one whose retry is due, are sent.
    tick(runtime, clock.advance(seconds=1))
    Sender(runtime).drain()
    assert sorted(m["body"] for m in emulator.messages()) == [
        "queued before the upgrade",
        "waiting for its retry",
    ]

    # Starting again finds nothing to do.
    assert migrations.upgrade(client) == 0


def test_processes_starting_at_once_migrate_once(settings, redis_url, clock) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    old = write_layout_1(client, clock)
    before = len(list(client.scan_iter(match="parley:*")))
    moved: list[int] = []
    start = threading.Barrier(4)

    def start_up() -> None:
        own = redis.Redis.from_url(redis_url, decode_responses=True)
        start.wait()
        moved.append(migrations.upgrade(own, pause=0.01))

    threads = [threading.Thread(target=start_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert moved.count(0) == 3 and max(moved) > 0
    assert layout_1_keys(client) == []
    runtime = Runtime(settings, redis_url, clock=clock)
    assert runtime.store.messages(PHONE) == old["messages"]
    # + the version, and the record stream the history was put on
    assert len(list(client.scan_iter(match="parley:*"))) <= before + 2


def test_a_migration_cut_short_is_finished_by_the_next_start(settings, redis_url, clock) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    old = write_layout_1(client, clock)
    # A process took the lock and died: the lock runs out, and the next start migrates.
    client.set(keys.SCHEMA_LOCK, "dead", px=300)
    assert migrations.upgrade(client, pause=0.05) > 0
    assert Runtime(settings, redis_url, clock=clock).store.load_contact(PHONE) == old["contact"]


def test_data_from_a_newer_version_is_refused(redis_url) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.set(keys.SCHEMA, keys.SCHEMA_VERSION + 1)
    with pytest.raises(migrations.SchemaError, match="newer"):
        migrations.upgrade(client)


def test_a_process_started_while_redis_was_down_migrates_before_its_first_request(
    settings, redis_url, clock, monkeypatch
) -> None:
    from parley.app import create_app

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    write_layout_1(client, clock)
    down = redis.exceptions.ConnectionError("Redis is down")

    def unreachable(*args, **kwargs) -> int:
        raise down

    monkeypatch.setattr(migrations, "upgrade", unreachable)
    runtime = Runtime(settings, redis_url, clock=clock)  # starts anyway
    assert layout_1_keys(client)
    monkeypatch.undo()
    assert create_app(runtime).test_client().get("/healthz").status_code == 200
    assert layout_1_keys(client) == []
    assert runtime.store.load_contact(PHONE) is not None


def test_history_kept_only_in_redis_before_layout_3_reaches_the_record(runtime: Runtime) -> None:
    """Before layout 3 nothing wrote the record: the upgrade puts it all on the stream."""
    from bot.record.drain import RecordDrain
    from bot.record.writer import RecordWriter

    runtime.conversations.trigger(
        "+14155550123", "appointment_booked", {"appointment_at": "2030-06-03T16:00:00Z"}
    )
    sent = runtime.store.messages("+14155550123")
    logged = runtime.store.events("+14155550123")
    client = runtime.redis
    client.delete(keys.RECORD)  # as layout 2 left it: no stream
    client.set(keys.SCHEMA, 2)

    migrations.upgrade(client)
    assert migrations.version(client) == keys.SCHEMA_VERSION
    # Cut short and run again (the version not yet set): the same entries, the same rows.
    migrations.backfill(client)

    drain = RecordDrain(client, RecordWriter(runtime.record), keys.RECORD, "test")
    while drain.run_once():
        pass
    history = runtime.history.messages("+14155550123")
    assert [m["id"] for m in history] == [m.id for m in sent]
    # Gone from Redis, the record alone still has it all, once.
    client.delete(keys.messages("+14155550123"), keys.events("+14155550123"))
    assert [m["id"] for m in runtime.history.messages("+14155550123")] == [m.id for m in sent]
    assert len(runtime.history.events("+14155550123", limit=500)) == len(logged)
