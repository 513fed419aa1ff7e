"""Pacing at send time: frequency caps hold across workers; quiet hours follow the contact."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.conversation.turn import Turn
from bot.delivery import sender
from bot.delivery.sender import Sender
from bot.domain.consent import Purpose
from bot.domain.frequency import Cap
from bot.domain.messages import Kind, Message, Status
from bot.record.reading import messages_before
from bot.record.times import utc
from bot.storage import jsonio, keys
from bot.worker import tick
from tests.texting import Texter
from tests.webhooks.test_history import record_everything

FLORIDA = "+13055550123"


def queue_promotions(runtime, phone: str, count: int) -> list[str]:
    contact = runtime.conversations.new_contact(phone)
    contact.grant(Purpose.MARKETING, True, "form:test", runtime.clock())
    turn = Turn(contact, runtime.clock(), stored=False)
    refs = [turn.send(f"Deal {n}.", Kind.MARKETING).ref for n in range(1, count + 1)]
    runtime.store.commit(turn.changes)
    return refs


def statuses(runtime, refs: list[str]) -> list[str]:
    return [str(runtime.store.message(ref).status) for ref in refs]


def test_two_workers_sending_at_once_never_pass_a_cap(runtime, emulator, clock) -> None:
    # 09:00 in Miami; Florida allows three promotions in 24 hours.
    clock.now = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    refs = queue_promotions(runtime, FLORIDA, 12)
    assert runtime.outbox.take(100) == refs
    halves = [refs[0::2], refs[1::2]]  # each worker gets every other message
    start = threading.Barrier(2)

    def work(mine: list[str]) -> None:
        sender = Sender(runtime)
        start.wait()
        for ref in mine:
            sender.send(ref)

    workers = [threading.Thread(target=work, args=(half,)) for half in halves]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(emulator.messages()) == 3
    assert sorted(statuses(runtime, refs)) == ["deferred"] * 9 + ["queued"] * 3
    held = [runtime.store.message(ref) for ref in refs if statuses(runtime, [ref]) == ["deferred"]]
    assert {m.send_at for m in held} == {"2026-12-02T14:00:00+00:00"}
    assert {m.reason for m in held} == {"frequency_cap"}


def test_a_deferred_message_is_checked_again_when_its_time_comes(runtime, emulator, clock) -> None:
    # Deferred at night, then the contact says STOP: at 08:00 nothing goes.
    clock.now = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)  # 22:30 in Los Angeles
    (ref,) = queue_promotions(runtime, "+14155550123", 1)
    Sender(runtime).drain()
    assert statuses(runtime, [ref]) == ["deferred"]
    runtime.conversations.mark_unsubscribed("+14155550123", "test")
    clock.now = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    runtime.outbox.push(ref)  # what the worker's tick does with the message's timer
    Sender(runtime).drain()
    assert statuses(runtime, [ref]) == ["suppressed"]
    assert runtime.store.message(ref).reason == "unsubscribed"
    assert emulator.messages() == []


def test_waiting_is_not_an_attempt(runtime, emulator, clock) -> None:
    clock.now = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    (ref,) = queue_promotions(runtime, "+14155550123", 1)
    for night in range(8):  # more nights than a message has attempts
        runtime.outbox.push(ref)
        Sender(runtime).drain()
        assert statuses(runtime, [ref]) == ["deferred"], night
    assert runtime.store.message(ref).attempts == 0


def test_a_general_cap_and_a_state_cap_both_hold(runtime, emulator, clock) -> None:
    runtime.settings = replace(runtime.settings, frequency_cap=Cap(2, timedelta(hours=1)))
    clock.now = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    refs = queue_promotions(runtime, FLORIDA, 3)
    Sender(runtime).drain()
    assert statuses(runtime, refs) == ["queued", "queued", "deferred"]
    # An hour on, the general cap has room but Florida's three-a-day still counts two.
    clock.now += timedelta(hours=1)
    runtime.outbox.push(refs[2])
    Sender(runtime).drain()
    assert statuses(runtime, refs) == ["queued", "queued", "queued"]
    more = queue_promotions(runtime, FLORIDA, 1)
    Sender(runtime).drain()
    assert statuses(runtime, more) == ["deferred"]
    assert runtime.store.message(more[0]).send_at == "2026-12-02T14:00:00+00:00"


def test_history_shows_send_at_and_reason_from_the_record_too(
    runtime, client, emulator, clock
) -> None:
    clock.now = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    queue_promotions(runtime, "+14155550123", 1)
    Sender(runtime).drain()
    url = "/api/contacts/+14155550123/messages"
    auth = {"Authorization": "Bearer test-token"}
    fresh = client.get(url, headers=auth).get_json()
    assert record_everything(runtime) > 0
    (row,) = messages_before(runtime.record, "+14155550123", 10, None)
    assert (row["status"], row["reason"]) == ("deferred", "quiet_hours")
    assert utc(row["send_at"]) == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    recorded = client.get(url, headers=auth).get_json()
    assert recorded == fresh
    (message,) = recorded
    assert message["status"] == "deferred"
    assert message["send_at"] == "2026-12-01T16:00:00+00:00"
    assert message["reason"] == "quiet_hours"


def test_a_deferred_message_outlasts_the_recorders_idle_sweep(runtime, emulator, clock) -> None:
    # The recorder lets an idle contact's recorded messages leave Redis; a deferred one must
    # stay, for the sender needs it in the morning.
    clock.now = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    (ref,) = queue_promotions(runtime, "+14155550123", 1)
    Sender(runtime).drain()
    assert record_everything(runtime) > 0
    runtime.store.trim_messages(["+14155550123"], 0)
    assert statuses(runtime, [ref]) == ["deferred"]
    clock.now = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    tick(runtime)
    Sender(runtime).drain()
    assert [m["body"] for m in emulator.messages()] == ["Deal 1."]


def test_a_message_held_overnight_does_not_outlive_a_stop_and_a_fresh_opt_in(
    runtime, client, settings, emulator, clock
) -> None:
    # Deferred at 22:30; STOP at 23:00, START at 07:00, marketing granted again through the
    # API: the promotion of the interrupted evening is not sent at 08:00.
    clock.now = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    (ref,) = queue_promotions(runtime, "+14155550123", 1)
    Sender(runtime).drain()
    phone = Texter(client, "+14155550123", settings.auth_token, settings.api_token)
    clock.now = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    phone.text("STOP")
    clock.now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    phone.text("START")
    consent = {"phone": "+14155550123", "consent": {"marketing": True, "source": "form:x"}}
    assert client.post("/api/contacts", json=consent, headers=phone.headers).status_code == 200
    clock.now = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    tick(runtime)
    Sender(runtime).drain()
    assert statuses(runtime, [ref]) == ["suppressed"]
    assert runtime.store.message(ref).reason == "consent_changed"
    assert "Deal 1." not in [m["body"] for m in emulator.messages()]


def test_a_promotion_that_did_not_go_out_counts_against_no_cap(runtime, emulator, clock) -> None:
    # Florida: three a day. One promotion is refused by Twilio for good, one answered 429
    # and tried again later: neither holds a place meanwhile, so three still go out today.
    clock.now = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    emulator.inject_fault(status=400, code=21408, count=1)  # refused: permission to send
    emulator.inject_fault(status=429, count=1)
    refs = queue_promotions(runtime, FLORIDA, 4)
    Sender(runtime).drain()
    assert statuses(runtime, refs) == ["failed", "pending", "queued", "queued"]
    clock.now += timedelta(seconds=5)
    runtime.outbox.push(refs[1])  # its retry's timer, come due
    Sender(runtime).drain()
    assert statuses(runtime, refs) == ["failed", "queued", "queued", "queued"]
    assert len(emulator.messages()) == 3
    more = queue_promotions(runtime, FLORIDA, 1)
    Sender(runtime).drain()
    assert statuses(runtime, more) == ["deferred"]


def test_a_number_that_spans_two_zones_waits_for_eight_in_both(runtime, emulator, clock) -> None:
    # 208 is Idaho: Boise (Mountain) or the panhandle (Pacific). 15:30 UTC is 08:30 in Boise
    # but 07:30 in the panhandle: the promotion waits for 08:00 Pacific.
    clock.now = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    (ref,) = queue_promotions(runtime, "+12085550123", 1)
    Sender(runtime).drain()
    assert statuses(runtime, [ref]) == ["deferred"]
    assert runtime.store.message(ref).send_at == "2026-12-01T16:00:00+00:00"


def test_the_florida_panhandle_waits_for_eight_in_central_time(runtime, emulator, clock) -> None:
    # 850 is Tallahassee (Eastern) or Pensacola (Central), though the number metadata says
    # Eastern only. 13:30 UTC is 08:30 in Tallahassee but 07:30 in Pensacola: the promotion
    # waits for 08:00 Central, 14:00 UTC.
    clock.now = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
    (ref,) = queue_promotions(runtime, "+18505550123", 1)
    Sender(runtime).drain()
    assert statuses(runtime, [ref]) == ["deferred"]
    assert runtime.store.message(ref).send_at == "2026-12-01T14:00:00+00:00"


def test_a_promotion_withheld_for_a_changed_consent_counts_against_no_cap(
    runtime, client, emulator, clock
) -> None:
    # One promotion a day. Deal 1 is queued at 10:00, then marketing is revoked and granted
    # again before it is sent: it is withheld (queued under a decision since reversed), and
    # the place its claim took under the cap is given back, so Deal 2 goes out at once.
    runtime.settings = replace(runtime.settings, frequency_cap=Cap(1, timedelta(days=1)))
    clock.now = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # 10:00 in Los Angeles
    (first,) = queue_promotions(runtime, "+14155550123", 1)
    clock.now += timedelta(minutes=5)
    auth = {"Authorization": "Bearer test-token"}
    for granted in (False, True):
        consent = {"phone": "+14155550123", "consent": {"marketing": granted, "source": "form:x"}}
        assert client.post("/api/contacts", json=consent, headers=auth).status_code == 200
    Sender(runtime).drain()
    assert statuses(runtime, [first]) == ["suppressed"]
    assert runtime.store.message(first).reason == "consent_changed"
    clock.now += timedelta(minutes=5)
    with runtime.conversations.transition("+14155550123") as turn:
        second = turn.send("Deal 2.", Kind.MARKETING).ref
    Sender(runtime).drain()
    assert statuses(runtime, [second]) == ["queued"]
    assert [m["body"] for m in emulator.messages()] == ["Deal 2."]


def test_a_promotion_linked_while_its_check_looks_at_twilio_keeps_its_place(
    runtime, emulator, clock, monkeypatch
) -> None:
    # One promotion a day. Twilio answers Deal 1 with a 500, so it is looked for in Twilio's
    # list; as the check looks, its status callback links it. It went out: the check must
    # not give its place back, so Deal 2 waits a day.
    monkeypatch.setattr(sender, "CHECK_AFTER", 0.0)
    cap = Cap(1, timedelta(days=1))
    runtime.settings = replace(runtime.settings, frequency_cap=cap, send_timeout=0.1)
    runtime._local.__dict__.clear()  # Twilio clients are made with the send timeout
    emulator.inject_fault(status=500, count=1)
    clock.now = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # 10:00 in Los Angeles
    (first,) = queue_promotions(runtime, "+14155550123", 1)
    Sender(runtime).drain()
    assert statuses(runtime, [first]) == ["submitting"]
    time.sleep(0.2)  # the check's grace
    checking = Sender(runtime)

    def linked_meanwhile(message: Message) -> None:
        assert runtime.store.accept(message.ref, "SMlinked", Status.SENT) == "sent"
        return None  # not in the list it read just before

    monkeypatch.setattr(checking, "_find", linked_meanwhile)
    checking.check(first, 1)
    assert statuses(runtime, [first]) == ["sent"]
    clock.now += timedelta(minutes=5)
    with runtime.conversations.transition("+14155550123") as turn:
        second = turn.send("Deal 2.", Kind.MARKETING).ref
    Sender(runtime).drain()
    assert statuses(runtime, [second]) == ["deferred"]
    assert runtime.store.message(second).send_at == "2026-12-02T18:00:00+00:00"


def test_a_zone_set_to_the_default_is_trusted_over_the_zones_a_number_spans(
    runtime, client, emulator, clock
) -> None:
    # 208 spans Boise and the Idaho panhandle, but the business says this contact lives in
    # New York, DEFAULT_TIMEZONE: 13:00 UTC is 08:00 there, so the promotion goes at once.
    auth = {"Authorization": "Bearer test-token"}
    contact = {
        "phone": "+12085550123",
        "timezone": "America/New_York",
        "consent": {"marketing": True, "source": "form:x"},
    }
    assert client.post("/api/contacts", json=contact, headers=auth).status_code == 200
    clock.now = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    with runtime.conversations.transition("+12085550123") as turn:
        ref = turn.send("Deal 1.", Kind.MARKETING).ref
    Sender(runtime).drain()
    assert statuses(runtime, [ref]) == ["queued"]
    shown = client.get("/api/contacts/+12085550123", headers=auth).get_json()
    assert shown["timezone"] == "America/New_York"


def test_a_contact_stored_before_zones_were_marked_set_is_read_as_then(
    runtime, emulator, clock
) -> None:
    # Stored without `timezone_set`: a zone other than DEFAULT_TIMEZONE was set for the
    # contact and is theirs; DEFAULT_TIMEZONE may be a guess, so the number's zones decide.
    clock.now = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)  # 08:00 in New York, 14:00 in Paris
    refs = {}
    for phone, zone in (("+14155550123", "Europe/Paris"), ("+14155550199", "America/New_York")):
        (refs[zone],) = queue_promotions(runtime, phone, 1)
        stored = jsonio.loads(runtime.redis.get(keys.contact(phone)))
        stored["timezone"] = zone
        del stored["timezone_set"]
        runtime.redis.set(keys.contact(phone), jsonio.dumps(stored))
        assert runtime.store.load_contact(phone).timezone_set is None
    Sender(runtime).drain()
    assert statuses(runtime, [refs["Europe/Paris"]]) == ["queued"]
    held = runtime.store.message(refs["America/New_York"])
    assert (held.status, held.send_at) == ("deferred", "2026-12-01T16:00:00+00:00")  # 08:00 LA
