"""Script calls on per-thread connections: replies, lost script caches, Redis restarts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from bot.runtime import Runtime
from bot.storage.lua import Script
from bot.storage.redis_server import RedisProcess
from bot.storage.scripts import ScriptRunner
from parley.app import create_app
from tests.texting import Texter

ECHO = Script("echo", "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis", appendonly=True).start()
    yield server
    server.stop()


def test_a_script_answers_and_survives_a_flushed_script_cache(redis_url) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    run = ScriptRunner(client)
    assert run(ECHO, ["n"], ["hello"]) == ["n", "hello", 1]
    client.script_flush()
    assert not client.script_exists(ECHO.sha)[0]
    assert run(ECHO, ["n"], ["again"]) == ["n", "again", 2]


def test_a_script_error_reaches_the_caller_and_the_next_call_works(redis_url) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    run = ScriptRunner(client)
    broken = Script("broken", "return redis.call('NOSUCHCOMMAND')")
    with pytest.raises(redis.exceptions.ResponseError):
        run(broken, [], [])
    assert run(ECHO, ["n"], ["x"]) == ["n", "x", 1]


def test_a_redis_restart_costs_one_503_and_loses_nothing(own_redis, settings, clock) -> None:
    runtime = Runtime(settings, own_redis.url, clock=clock)
    client = create_app(runtime).test_client()
    texter = Texter(client, "+14155550123", settings.twilio_auth_token, settings.api_token)
    assert texter.text("hello").status_code == 200
    own_redis.stop()
    down = texter.text("JOIN", sid="SM" + "d" * 32)
    assert down.status_code == 503
    assert "storage unavailable" in down.get_json()["error"]
    own_redis.start()
    # Twilio retries the same MessageSid; the stale connection is replaced, not reused.
    assert texter.text("JOIN", sid="SM" + "d" * 32).status_code == 200
    received = [m["body"] for m in texter.messages() if m["direction"] == "inbound"]
    assert received == ["hello", "JOIN"]


def test_a_forked_child_opens_its_own_connection(redis_url) -> None:
    import os

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    run = ScriptRunner(client)
    assert run(ECHO, ["n"], ["parent"]) == ["n", "parent", 1]
    pid = os.fork()  # as RQ does for every job's work horse
    if pid == 0:
        ok = False
        try:
            ok = run(ECHO, ["n"], ["child"]) == ["n", "child", 2]
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The child closed only its copy: the parent's connection still answers, in order.
    assert run(ECHO, ["n"], ["parent again"]) == ["n", "parent again", 3]


def test_a_begin_retried_after_a_lost_reply_is_not_taken_for_a_repeat(runtime) -> None:
    from bot.storage.store import COMMITTED, DUPLICATE, LOCKED, REPEAT, Changes, InboundClaim

    store, phone, sid = runtime.store, "+14155550123", "SM" + "1" * 32
    claim = InboundClaim.new(sid, phone)
    first, contact = store.begin_inbound(claim)
    # The same call again, as a retry whose first reply never arrived: still ours.
    again, _ = store.begin_inbound(claim)
    assert (first, again, contact) == (LOCKED, LOCKED, None)
    changes = Changes(runtime.conversations.new_contact(phone))
    assert store.commit(changes, claims=[claim]) == (COMMITTED, False)
    # The same commit again, as a retry whose first reply never arrived: still ours.
    assert store.commit(changes, claims=[claim]) == (COMMITTED, False)
    # Twilio delivering the message a second time: a repeat, at begin and at commit.
    second = InboundClaim.new(sid, phone)
    assert store.begin_inbound(second)[0] == DUPLICATE
    assert store.commit(changes, claims=[second]) == (REPEAT, False)


def test_an_attempt_that_never_committed_leaves_its_message_to_the_retry(runtime) -> None:
    from bot.storage.store import BUSY, COMMITTED, LOCK_LOST, LOCKED, Changes, InboundClaim

    store, phone, sid = runtime.store, "+14155550123", "SM" + "2" * 32
    dead = InboundClaim.new(sid, phone)
    assert store.begin_inbound(dead)[0] == LOCKED  # ... and then its Redis went away
    # Another message of the same contact waits for the lock; the retry takes it over.
    other = InboundClaim.new("SM" + "3" * 32, phone)
    assert store.begin_inbound(other)[0] == BUSY
    retry = InboundClaim.new(sid, phone)
    assert store.begin_inbound(retry)[0] == LOCKED
    changes = Changes(runtime.conversations.new_contact(phone))
    # Should the first attempt still be alive, it can no longer commit.
    assert store.commit(changes, claims=[dead], fence={phone: dead.token})[0] == LOCK_LOST
    held = {phone: retry.token}
    assert store.commit(changes, claims=[retry], unlock=held, fence=held)[0] == COMMITTED
    assert store.begin_inbound(other)[0] == LOCKED


def test_a_transition_whose_lock_expired_cannot_overwrite_a_later_opt_out(runtime) -> None:
    from bot.conversation.runner import Inbound
    from bot.storage.store import LOCK_LOST, Changes

    phone = "+14155550123"
    runtime.conversations.receive(Inbound(sid="SM" + "4" * 32, phone=phone, body="hello"))
    with runtime.store.lock(phone, timeout=0.2) as token:
        stale = runtime.store.load_contact(phone)  # a slow transition reads the contact ...
        time.sleep(0.3)  # ... and outlives its lock, while the contact texts STOP
        runtime.conversations.receive(Inbound(sid="SM" + "5" * 32, phone=phone, body="STOP"))
        outcome, _ = runtime.store.commit(Changes(stale), fence={phone: token})
    assert outcome == LOCK_LOST
    assert runtime.store.load_contact(phone).subscribed is False
