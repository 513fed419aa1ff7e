"""Redis answers lost on the way back: the script runner's retry must change nothing twice."""

from __future__ import annotations

import hashlib

from bot.conversation.runner import Inbound
from bot.conversation.turn import Turn
from bot.delivery.sender import Sender
from bot.domain.messages import Kind, Status
from bot.runtime import Runtime
from bot.storage import lua
from tests.redis_proxy import RedisProxy

PHONE = "+14155550123"


def lose_reply(proxy: RedisProxy, runtime: Runtime, script: str) -> None:
    """Make the next run of `script` happen in Redis, and its reply go missing."""
    runtime.redis.script_load(script)  # so the lost call runs it, not just asks for it
    proxy.lose_reply_to(hashlib.sha1(script.encode()).hexdigest().encode())


def test_a_claim_whose_reply_was_lost_is_still_sent_once(
    proxy: RedisProxy, settings, clock, emulator
) -> None:
    runtime = Runtime(settings, proxy.url, clock=clock)
    contact = runtime.conversations.new_contact(PHONE)
    turn = Turn(contact, clock())
    message = turn.send("Your table is ready", Kind.TRANSACTIONAL)
    runtime.store.commit(turn.changes)
    lose_reply(proxy, runtime, lua.source("claim"))
    Sender(runtime).drain()
    assert proxy.cuts == 1
    assert [m["body"] for m in emulator.messages()] == ["Your table is ready"]
    sent = runtime.store.message(message.ref)
    assert sent is not None and sent.sid == emulator.messages()[0]["sid"]
    assert (sent.status, sent.attempts) != (Status.SUBMITTING, 1)


def test_a_commit_whose_reply_was_lost_is_saved_once_and_still_kicks_the_sender(
    proxy: RedisProxy, settings, clock, emulator
) -> None:
    runtime = Runtime(settings, proxy.url, clock=clock)
    lose_reply(proxy, runtime, lua.source("commit"))
    outcome = runtime.conversations.receive(Inbound(sid="SMlost", phone=PHONE, body="HELP"))
    assert proxy.cuts == 1
    assert not outcome.duplicate
    messages = runtime.store.messages(PHONE)
    assert [m.direction for m in messages] == ["inbound", "outbound"]
    assert [e["type"] for e in runtime.store.events(PHONE)].count("message_received") == 1
    # The first run raised the drain flag; the retry says so, so a drain job is on its way.
    assert runtime.queue.count == 1


def test_a_trigger_whose_commit_reply_was_lost_is_saved_once(
    proxy: RedisProxy, settings, clock, emulator
) -> None:
    runtime = Runtime(settings, proxy.url, clock=clock)
    lose_reply(proxy, runtime, lua.source("commit"))
    data = {"appointment_at": "2026-12-03T17:30:00Z", "provider": "Dr. Lee"}
    started = runtime.conversations.trigger(PHONE, "appointment_booked", data).started
    assert proxy.cuts == 1
    assert started == ["appointment_confirmation"]
    assert len(runtime.store.messages(PHONE)) == 1
    received = [e for e in runtime.store.events(PHONE) if e["type"] == "event_received"]
    assert len(received) == 1
