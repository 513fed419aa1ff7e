"""Script calls on per-thread connections: replies, lost script caches, Redis restarts."""

from __future__ import annotations

import pytest
import redis

from bot.app import create_app
from bot.redis_server import RedisProcess
from bot.runtime import Runtime
from bot.scripts import ScriptRunner
from tests.texting import Texter

ECHO = "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}"


@pytest.fixture
def own_redis(tmp_path) -> RedisProcess:
    server = RedisProcess(tmp_path / "redis", appendonly=True).start()
    yield server
    server.stop()


def test_a_script_answers_and_survives_a_flushed_script_cache(redis_url) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    run = ScriptRunner(client)
    echo = client.register_script(ECHO)
    assert run(echo, ["n"], ["hello"]) == ["n", "hello", 1]
    client.script_flush()
    assert not client.script_exists(echo.sha)[0]
    assert run(echo, ["n"], ["again"]) == ["n", "again", 2]


def test_a_script_error_reaches_the_caller_and_the_next_call_works(redis_url) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    run = ScriptRunner(client)
    broken = client.register_script("return redis.call('NOSUCHCOMMAND')")
    with pytest.raises(redis.exceptions.ResponseError):
        run(broken, [], [])
    assert run(client.register_script(ECHO), ["n"], ["x"]) == ["n", "x", 1]


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
    echo = client.register_script(ECHO)
    assert run(echo, ["n"], ["parent"]) == ["n", "parent", 1]
    pid = os.fork()  # as RQ does for every job's work horse
    if pid == 0:
        ok = False
        try:
            ok = run(echo, ["n"], ["child"]) == ["n", "child", 2]
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The child closed only its copy: the parent's connection still answers, in order.
    assert run(echo, ["n"], ["parent again"]) == ["n", "parent again", 3]


def test_a_begin_retried_after_a_lost_reply_is_not_taken_for_a_repeat(runtime) -> None:
    from bot.store import DUPLICATE, LOCKED

    store, phone = runtime.store, "+14155550123"
    first, _ = store.begin_inbound("SM" + "1" * 32, phone, "token-a")
    # The same call again, as a retry whose first reply never arrived: still ours.
    again, _ = store.begin_inbound("SM" + "1" * 32, phone, "token-a")
    # Twilio delivering the message a second time: a repeat.
    repeat, _ = store.begin_inbound("SM" + "1" * 32, phone, "token-b")
    assert (first, again, repeat) == (LOCKED, LOCKED, DUPLICATE)
