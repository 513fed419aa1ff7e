"""The sender: real twilio SDK to the emulator, guardrails re-checked, retries, permanent errors."""

from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import urlencode

import pytest

from bot import worker
from bot.conversation.runner import Inbound
from bot.conversation.turn import Turn
from bot.delivery import sender
from bot.delivery.sender import MAX_ATTEMPTS, Sender
from bot.domain.messages import Kind, Status, parse_ref
from bot.storage import keys
from bot.worker import tick
from tests.conftest import BUSINESS_NUMBER, PUBLIC_URL, free_port

PHONE = "+14155550123"


def queue(runtime, text: str, kind: Kind = Kind.TRANSACTIONAL, phone: str = PHONE) -> str:
    """Queue one outbound message for `phone` the way a transition does."""
    conversations = runtime.conversations
    contact = runtime.store.load_contact(phone) or conversations.new_contact(phone)
    turn = Turn(contact, runtime.clock())
    message = turn.send(text, kind)
    runtime.store.commit(turn.changes)
    return message.ref


def test_a_queued_message_reaches_twilio_with_a_status_callback(runtime, emulator) -> None:
    ref = queue(runtime, "Your table is ready")
    assert Sender(runtime).drain() == 1
    (sent,) = emulator.messages()
    assert sent["to"] == PHONE
    assert sent["from"] == BUSINESS_NUMBER
    assert sent["body"] == "Your table is ready"
    # The callback's URL names the message, so it settles a send whose answer was lost.
    named = urlencode({"message": ref})
    assert sent["status_callback"] == f"{PUBLIC_URL}/webhooks/twilio/status?{named}"
    stored = runtime.store.message(ref)
    assert stored.sid == sent["sid"]
    assert stored.status in (Status.QUEUED, Status.SENT, Status.DELIVERED)


def test_a_message_is_never_sent_twice(runtime, emulator) -> None:
    ref = queue(runtime, "once")
    Sender(runtime).drain()
    runtime.outbox.push(ref)  # a duplicate entry in the queue, as after a recovery
    Sender(runtime).drain()
    assert len(emulator.messages()) == 1


def test_a_queued_journey_message_is_withheld_after_stop(runtime, emulator) -> None:
    queued = queue(runtime, "Reminder: your appointment is tomorrow")
    runtime.conversations.receive(Inbound(sid="SMstop1", phone=PHONE, body="STOP"))
    Sender(runtime).drain()
    bodies = [m["body"] for m in emulator.messages()]
    assert len(bodies) == 1 and "unsubscribed" in bodies[0]  # only the confirmation
    assert runtime.store.message(queued).status == Status.SUPPRESSED


def test_marketing_is_withheld_without_consent(runtime, emulator) -> None:
    queued = queue(runtime, "20% off today", Kind.MARKETING)
    Sender(runtime).drain()
    assert emulator.messages() == []
    assert runtime.store.message(queued).status == Status.SUPPRESSED


def test_error_21610_marks_the_contact_unsubscribed(runtime, emulator) -> None:
    blocked = "+15005550004"
    queued = queue(runtime, "hello", phone=blocked)
    Sender(runtime).drain()
    message = runtime.store.message(queued)
    assert (message.status, message.error_code) == (Status.FAILED, 21610)
    assert runtime.store.load_contact(blocked).subscribed is False


def test_invalid_numbers_are_marked_and_not_retried(runtime, emulator) -> None:
    for number, code in (("+15005550001", 21211), ("+15005550009", 21614)):
        queued = queue(runtime, "hello", phone=number)
        Sender(runtime).drain()
        assert runtime.store.message(queued).error_code == code
        assert runtime.store.load_contact(number).undeliverable == code
        later = queue(runtime, "again", phone=number)
        Sender(runtime).drain()
        assert runtime.store.message(later).status == Status.SUPPRESSED
    assert runtime.timers.pending() == 0


def test_server_errors_are_checked_and_429_retried_with_backoff(
    runtime, emulator, clock, quick_checks
) -> None:
    emulator.inject_fault(status=500, count=1)
    emulator.inject_fault(status=429, count=1)
    queued = queue(runtime, "eventually")
    Sender(runtime).drain()
    # A 500 may or may not have created the message: it waits for a look at Twilio's list.
    assert runtime.store.message(queued).status == Status.SUBMITTING
    assert emulator.messages() == []
    for _ in range(2):
        check_due(runtime, clock, quick_checks)
        Sender(runtime).drain()
    assert [m["body"] for m in emulator.messages()] == ["eventually"]
    assert runtime.store.message(queued).attempts == 3


@pytest.fixture
def quick_checks(runtime, settings, monkeypatch) -> float:
    """Time out sends after 0.3 s and check them with Twilio 0.2 s after that."""
    monkeypatch.setattr(sender, "CHECK_AFTER", 0.2)
    runtime.settings = replace(settings, send_timeout=0.3)
    runtime._local.__dict__.clear()  # Twilio clients are made with the send timeout
    return 0.5


def check_due(runtime, clock, wait: float) -> None:
    """Let a check's grace pass, then fire it as the ticker would, and run its job."""
    time.sleep(wait)
    clock.advance(minutes=5)
    tick(runtime)
    worker.run(runtime, burst=True)


def test_a_send_answered_too_late_is_found_at_twilio_not_sent_again(
    runtime, emulator, clock, quick_checks
) -> None:
    emulator.inject_fault(delay=1.0, mode="late")  # Twilio creates it, answers after 1 s
    queued = queue(runtime, "slow")
    Sender(runtime).drain()
    assert runtime.store.message(queued).status == Status.SUBMITTING
    emulator.wait_for(lambda sent: len(sent) == 1)
    check_due(runtime, clock, quick_checks)
    Sender(runtime).drain()
    (sent,) = emulator.messages()
    message = runtime.store.message(queued)
    assert (message.sid, message.attempts) == (sent["sid"], 1)
    assert message.status in (Status.QUEUED, Status.SENT, Status.DELIVERED)


def test_a_send_whose_answer_was_lost_is_found_at_twilio(
    runtime, emulator, clock, quick_checks
) -> None:
    emulator.inject_fault(mode="drop")  # Twilio creates it; the connection drops
    queued = queue(runtime, "dropped")
    Sender(runtime).drain()
    assert runtime.store.message(queued).status == Status.SUBMITTING
    check_due(runtime, clock, quick_checks)
    Sender(runtime).drain()
    (sent,) = emulator.messages()
    assert runtime.store.message(queued).sid == sent["sid"]


def test_a_timed_out_send_twilio_never_created_is_sent_again(
    runtime, emulator, clock, quick_checks
) -> None:
    emulator.inject_fault(status=503, delay=1.0)  # answered too late, and not created
    queued = queue(runtime, "again")
    Sender(runtime).drain()
    assert runtime.store.message(queued).status == Status.SUBMITTING
    time.sleep(1.0)  # Twilio's answer, which nobody hears, has gone out by now
    check_due(runtime, clock, quick_checks)
    Sender(runtime).drain()
    assert [m["body"] for m in emulator.messages()] == ["again"]
    assert runtime.store.message(queued).attempts == 2


def test_a_send_that_cannot_have_reached_twilio_is_retried_without_a_check(
    runtime, emulator, clock, settings
) -> None:
    runtime.settings = replace(settings, twilio_api_base=f"http://127.0.0.1:{free_port()}")
    queued = queue(runtime, "refused")
    Sender(runtime).drain()
    assert runtime.store.message(queued).status == Status.PENDING
    runtime.settings = settings
    runtime._local.__dict__.clear()
    clock.advance(minutes=5)
    tick(runtime)
    Sender(runtime).drain()
    assert [m["body"] for m in emulator.messages()] == ["refused"]
    assert runtime.store.message(queued).attempts == 2


def test_retries_give_up_after_max_attempts(runtime, emulator, clock, quick_checks) -> None:
    emulator.inject_fault(status=503, count=MAX_ATTEMPTS + 2)
    queued = queue(runtime, "never")
    for _ in range(MAX_ATTEMPTS + 1):
        Sender(runtime).drain()
        check_due(runtime, clock, quick_checks)
    message = runtime.store.message(queued)
    assert message.status == Status.FAILED
    assert message.attempts == MAX_ATTEMPTS


def test_messages_lost_by_a_dead_worker_are_recovered(runtime, emulator, clock) -> None:
    queued = queue(runtime, "survives")
    runtime.outbox.take(10)  # taken by a worker that then died
    assert runtime.outbox.size() == 0
    assert runtime.outbox.recover() == []  # its lease has not run out yet
    runtime.redis.zadd(runtime.outbox.inflight_key, {queued: 0}, xx=True)  # now it has
    assert runtime.outbox.recover() == []  # nothing it had begun to send
    assert runtime.outbox.size() == 1
    Sender(runtime).drain()
    assert runtime.store.message(queued).sid
    assert [m["body"] for m in emulator.messages()] == ["survives"]


def test_a_late_callback_wins_over_a_retry_decided_after_it(runtime, emulator) -> None:
    queued = queue(runtime, "late news")
    claimed, _ = runtime.store.claim_message(queued, "attempt-1")
    # Attempt 1's outcome was unknown; its status callback links it before it is settled.
    assert runtime.store.accept(queued, "SMlate", Status.DELIVERED) == "delivered"
    queued_before = runtime.outbox.size()
    assert not runtime.store.settle(queued, claimed.attempts, Status.PENDING, requeue=True)
    for outcome in (Status.FAILED, Status.SUPPRESSED):
        assert not runtime.store.settle(queued, claimed.attempts, outcome)
    assert runtime.store.claim_message(queued, "attempt-2") is None
    assert runtime.store.message(queued).status == Status.DELIVERED
    assert runtime.outbox.size() == queued_before


def test_a_claim_made_again_with_its_token_answers_as_before(runtime) -> None:
    queued = queue(runtime, "once")
    first, _ = runtime.store.claim_message(queued, "token-a")
    again, _ = runtime.store.claim_message(queued, "token-a")
    assert (first.attempts, again.attempts) == (1, 1)
    assert runtime.store.claim_message(queued, "token-b") is None


def test_leases_follow_redis_clock_not_the_workers(runtime, monkeypatch) -> None:
    queue(runtime, "leased")
    assert len(runtime.outbox.take(10)) == 1
    monkeypatch.setattr(time, "time", lambda: 4_000_000_000.0)  # a worker far ahead
    assert runtime.outbox.recover() == []
    assert runtime.outbox.size() == 0


def test_one_failing_check_does_not_hold_back_the_others(
    runtime, emulator, clock, quick_checks
) -> None:
    emulator.inject_fault(mode="drop", count=2)
    good, broken = queue(runtime, "good"), queue(runtime, "broken", phone="+14155550199")
    Sender(runtime).drain()
    runtime.redis.hset(keys.message(*parse_ref(broken)), "status", "garbled")
    time.sleep(quick_checks)
    Sender(runtime).check_each([(broken, 1), (good, 1)])
    (good_at_twilio,) = [m for m in emulator.messages() if m["to"] == PHONE]
    assert runtime.store.message(good).sid == good_at_twilio["sid"]
    retries = runtime.redis.zrange(runtime.timers.key, 0, -1)
    assert any(broken in member and '"check"' in member for member in retries)


def test_a_check_queued_with_a_bare_id_is_dropped_not_retried(runtime, emulator) -> None:
    Sender(runtime).check_each([("0123abcd", 1)])  # as jobs queued by an older version
    assert runtime.timers.pending() == 0
