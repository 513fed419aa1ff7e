"""The key layout: each script's keys share one Cluster slot unless its header says why not."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from redis.crc import key_slot

from bot.conversation.turn import Turn
from bot.delivery.sender import Sender
from bot.delivery.timers import SendTimer, encode
from bot.domain.messages import Kind, Status
from bot.storage import keys, lua
from bot.storage.lua import Script
from bot.storage.scripts import ScriptRunner
from bot.storage.store import timer_member
from bot.worker import tick
from tests.texting import Texter, post_signed

PHONE = "+14155550123"


def slots(names: list[str]) -> set[int]:
    return {key_slot(name.encode()) for name in names}


@pytest.fixture
def seen(monkeypatch) -> dict[str, list[set[int]]]:
    """Record the slots of the keys of every script call, by script."""
    calls: dict[str, list[set[int]]] = defaultdict(list)
    call, many = ScriptRunner.__call__, ScriptRunner.many

    def name(script: Script | str) -> str:
        return script if isinstance(script, str) else script.name

    def spy_call(self, script, names, args):
        calls[name(script)].append(slots(list(names)))
        return call(self, script, names, args)

    def spy_many(self, batch):
        for script, names, _ in batch:
            calls[name(script)].append(slots(list(names)))
        return many(self, batch)

    monkeypatch.setattr(ScriptRunner, "__call__", spy_call)
    monkeypatch.setattr(ScriptRunner, "many", spy_many)
    return calls


def queue(runtime, text: str) -> str:
    contact = runtime.store.load_contact(PHONE) or runtime.conversations.new_contact(PHONE)
    turn = Turn(contact, runtime.clock())
    message = turn.send(text, Kind.TRANSACTIONAL)
    runtime.store.commit(turn.changes)
    return message.ref


def test_a_contacts_keys_share_its_slot() -> None:
    names = [
        keys.contact(PHONE),
        keys.lock(PHONE),
        keys.messages(PHONE),
        keys.events(PHONE),
        keys.message(PHONE, "0123abcd"),
        keys.handled(PHONE, "SM" + "1" * 32),
    ]
    assert len(slots(names)) == 1
    assert len(slots([keys.OUTBOX, keys.OUTBOX_INFLIGHT, keys.OUTBOX_DRAIN])) == 1
    assert len(slots([keys.TIMERS, keys.TIMERS_INFLIGHT])) == 1
    assert len(slots([keys.sid_link("SMx"), keys.parked("SMx")])) == 1


def test_every_script_keeps_to_one_slot_unless_its_header_says_why(
    runtime, client, settings, emulator, clock, seen
) -> None:
    texter = Texter(client, PHONE, settings.auth_token, settings.api_token)
    # An inbound message: begin, then commit.
    assert texter.text("hello").status_code == 200
    # Sending: take, claim, accept, settle; renewing leases.
    Sender(runtime).drain()
    (sent,) = [m for m in runtime.store.messages(PHONE) if m.direction == "outbound"]
    runtime.outbox.renew([sent.ref])
    # A status callback for a linked sid, and one naming its message in the URL.
    status = {"MessageSid": sent.sid, "MessageStatus": "delivered"}
    response = post_signed(client, "/webhooks/twilio/status", status, settings.auth_token)
    assert response.status_code == 204
    unlinked, failing = queue(runtime, "no answer from Twilio"), queue(runtime, "refused")
    assert runtime.outbox.take(10) == [unlinked, failing]
    runtime.store.claim_message(unlinked, "claim-1")
    path = "/webhooks/twilio/status?" + urlencode({"message": unlinked})
    early = {"MessageSid": "SMearly", "MessageStatus": "sent"}
    assert post_signed(client, path, early, settings.auth_token).status_code == 204
    claimed, _ = runtime.store.claim_message(failing, "claim-2")
    runtime.store.settle(failing, claimed.attempts, Status.FAILED)
    runtime.outbox.done(unlinked, failing)
    # Guardrails on timing: a place under a frequency cap; a message deferred to its time.
    held = queue(runtime, "held by quiet hours")
    assert runtime.outbox.take(10) == [held]
    claimed, _ = runtime.store.claim_message(held, "claim-3", clock(), [(3, 86400.0)])
    later = clock() + timedelta(hours=9)
    timer = (later.timestamp(), timer_member(encode(SendTimer(held))))
    assert runtime.store.defer(held, claimed.attempts, later, timer, "quiet_hours", release=True)
    runtime.outbox.done(held)
    # A dead sender's lease: recovered.
    recovered = queue(runtime, "recovered")
    assert runtime.outbox.take(10) == [recovered]
    runtime.redis.zadd(keys.OUTBOX_INFLIGHT, {recovered: 0}, xx=True)
    runtime.outbox.recover()
    # Timers: claimed and recovered; a schedule trigger fired; locks taken and released.
    runtime.conversations.trigger(
        PHONE, "appointment_booked", {"appointment_at": "2026-12-03T17:30:00Z"}
    )
    runtime.timers.recover(clock())
    runtime.schedules.run_due(clock())
    tick(runtime, clock.advance(days=3))
    runtime.store.unlock_many(runtime.store.lock_many([PHONE, "+14155550199"]))
    # Recorded messages leaving Redis; the recorders' writer lease.
    runtime.store.trim_messages([PHONE], 1)
    runtime.store.scripts("lead", [keys.RECORD_WRITER], ["token", 1000])
    # A click on a tracked short link (click.lua), with a short link saved by its commit.
    reply = texter.client.post(
        f"/api/contacts/{PHONE}/messages",
        json={"body": "See https://shop.example/x", "track_links": True},
        headers=texter.headers,
    )
    code = reply.get_json()["body"].rsplit("/", 1)[1]
    assert client.get(f"/l/{code}", headers={"User-Agent": "Mozilla/5.0"}).status_code == 302

    assert set(seen) == set(lua.names()), "exercise every script"
    for name, calls in seen.items():
        spread = any(len(call) > 1 for call in calls)
        says_why = any(line.startswith("-- Cluster:") for line in lua.source(name).splitlines())
        assert spread == says_why, (
            f"{name}.lua touches {'several slots' if spread else 'one slot'}"
            f" but its header {'does not say' if spread else 'says'} why"
        )


def test_the_script_runner_makes_several_calls_in_one_round_trip(runtime, redis_url) -> None:
    runtime.redis.script_flush()  # the first of them must be sent in full
    tokens = runtime.store.lock_many([PHONE, "+14155550199"])
    replies = runtime.store.scripts.many(
        [("unlock", [keys.lock(phone)], [token]) for phone, token in tokens.items()]
        + [("unlock", [keys.lock(PHONE)], ["not ours"])]
    )
    assert replies == [1, 1, 0]
    assert not runtime.redis.exists(keys.lock(PHONE))
