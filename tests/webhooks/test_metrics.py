"""GET /metrics: figures for the whole deployment, read from Redis as real traffic moves them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from bot.conversation.turn import Turn
from bot.delivery.sender import Sender
from bot.domain.contacts import Purpose
from bot.domain.messages import Kind
from bot.record import database
from bot.storage import keys
from bot.worker import tick
from tests.texting import Texter, new_sid, post_signed
from tests.webhooks.test_history import record_everything

PHONE = "+14155550123"


class Figures:
    """One scrape's samples, by sample name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        self.types: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples[sample.name, frozenset(sample.labels.items())] = sample.value

    def __call__(self, name: str, **labels: str) -> float:
        """Return one sample's value; KeyError if the scrape did not have it."""
        return self.samples[name, frozenset(labels.items())]

    def has(self, name: str) -> bool:
        return any(sample == name for sample, _ in self.samples)


def scrape(client, **headers: str) -> Figures:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return Figures(response.get_data(as_text=True))


def status_callback(client, settings, sid: str, status: str) -> None:
    params = {"MessageSid": sid, "MessageStatus": status}
    response = post_signed(client, "/webhooks/twilio/status", params, settings.auth_token)
    assert response.status_code == 204


@pytest.fixture
def texter(client, settings) -> Texter:
    return Texter(client, PHONE, settings.auth_token, settings.api_token)


def sent(figures: Figures, status: str) -> float:
    return figures("parley_messages_total", direction="outbound", status=status)


def test_each_message_counts_once_in_each_status_it_reaches(
    client, settings, runtime, emulator, texter
) -> None:
    before = scrape(client)
    sid = new_sid()
    assert texter.text("hello", sid=sid).status_code == 200
    assert texter.text("hello", sid=sid).status_code == 200  # Twilio's retry of it

    queued = scrape(client)
    received = queued("parley_messages_total", direction="inbound", status="received")
    assert received - before("parley_messages_total", direction="inbound", status="received") == 1
    assert sent(queued, "pending") - sent(before, "pending") == 1  # the bot's one answer
    assert queued("parley_outbox_messages", state="waiting") == 1
    assert queued("parley_jobs_queued") == 1  # the drain job on its way
    assert queued("parley_send_latency_seconds_count") == 0

    assert Sender(runtime).drain() == 1
    (answer,) = emulator.messages()
    handed = scrape(client)
    assert sent(handed, "queued") - sent(queued, "queued") == 1
    assert handed("parley_outbox_messages", state="waiting") == 0
    assert handed("parley_outbox_messages", state="in_flight") == 0
    # The histogram holds the one send: every bucket (Twilio's emulator answers at once).
    assert handed("parley_send_latency_seconds_count") == 1
    assert handed("parley_send_latency_seconds_bucket", le="+Inf") == 1
    assert handed("parley_send_latency_seconds_bucket", le="60.0") == 1
    assert 0 <= handed("parley_send_latency_seconds_sum") < 60
    assert handed.types["parley_send_latency_seconds"] == "histogram"

    # Twilio reports the delivery twice, then a late `sent` that changes nothing.
    status_callback(client, settings, answer["sid"], "delivered")
    status_callback(client, settings, answer["sid"], "delivered")
    status_callback(client, settings, answer["sid"], "sent")
    after = scrape(client)
    assert sent(after, "delivered") - sent(handed, "delivered") == 1
    assert sent(after, "sent") == sent(handed, "sent")
    assert after("parley_send_latency_seconds_count") == 1


def test_a_send_whose_answer_was_lost_counts_once_when_its_callback_names_it(
    client, settings, runtime, emulator, texter
) -> None:
    assert texter.text("hello").status_code == 200
    before = scrape(client)
    emulator.inject_fault(mode="drop")  # Twilio creates it; its answer never comes
    Sender(runtime).drain()
    (created,) = emulator.messages()
    (message,) = [m for m in runtime.store.messages(PHONE) if m.direction == "outbound"]
    assert message.status == "submitting"
    unsure = scrape(client)
    assert unsure("parley_send_latency_seconds_count") == 0
    assert unsure("parley_timers_scheduled") == 1  # a look at Twilio's list, later

    # The status callback's URL names the message: it is linked and counted, once.
    path = "/webhooks/twilio/status?" + urlencode({"message": message.ref})
    params = {"MessageSid": created["sid"], "MessageStatus": "sent", "To": PHONE}
    for _ in range(2):
        assert post_signed(client, path, params, settings.auth_token).status_code == 204
    # The look at Twilio's list, when its time comes, finds it linked and does nothing.
    Sender(runtime).check(message.ref, message.attempts)
    after = scrape(client)
    assert sent(after, "sent") - sent(before, "sent") == 1
    assert sent(after, "queued") == sent(before, "queued")
    assert after("parley_send_latency_seconds_count") == 1
    assert len(emulator.messages()) == 1


def test_withheld_deferred_and_refused_messages_are_counted(
    client, settings, runtime, emulator, clock
) -> None:
    before = scrape(client)
    # No marketing consent: withheld as it is made.
    contact = runtime.conversations.new_contact(PHONE)
    turn = Turn(contact, clock())
    turn.send("20% off this week", Kind.MARKETING)
    runtime.store.commit(turn.changes)
    withheld = scrape(client)
    assert sent(withheld, "suppressed") - sent(before, "suppressed") == 1
    assert sent(withheld, "pending") == sent(before, "pending")

    # With consent, at 22:00 in San Francisco: held by quiet hours till morning.
    contact = runtime.store.load_contact(PHONE)
    assert contact is not None
    contact.grant(Purpose.MARKETING, True, "test", clock())
    clock.now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    turn = Turn(contact, clock())
    turn.send("20% off this week", Kind.MARKETING, quiet_hours="respect")
    runtime.store.commit(turn.changes)
    Sender(runtime).drain()
    held = scrape(client)
    assert sent(held, "pending") - sent(withheld, "pending") == 1
    assert sent(held, "deferred") - sent(withheld, "deferred") == 1
    assert emulator.messages() == []
    # Its timer waits for 08:00; nothing is late yet.
    assert held("parley_timers_scheduled") == 1
    assert held("parley_timers_due") == 0
    assert held("parley_timer_lateness_seconds") == 0

    # Twilio refuses the next message outright: failed, counted once.
    emulator.inject_fault(status=400, code=21602)
    turn = Turn(runtime.store.load_contact(PHONE), clock())
    turn.send("Your appointment is confirmed.", Kind.TRANSACTIONAL)
    runtime.store.commit(turn.changes)
    Sender(runtime).drain()
    refused = scrape(client)
    assert sent(refused, "failed") - sent(held, "failed") == 1
    assert refused("parley_send_latency_seconds_count") == 0  # Twilio accepted none


def test_timer_lateness_is_how_long_the_earliest_due_timer_has_waited(
    client, runtime, clock, texter
) -> None:
    response = texter.event("appointment_booked", {"appointment_at": "2026-12-03T17:30:00Z"})
    assert response.status_code == 202, response.get_json()
    ((_, earliest),) = runtime.redis.zrange(keys.TIMERS, 0, 0, withscores=True)
    scheduled = runtime.redis.zcard(keys.TIMERS)
    waiting = scrape(client)
    assert waiting("parley_timers_scheduled") == scheduled > 0
    assert waiting("parley_timers_due") == 0
    assert waiting("parley_timer_lateness_seconds") == 0

    # No worker ticks: 90 seconds after the first timer was due, it is 90 seconds late.
    clock.now = datetime.fromtimestamp(earliest, UTC) + timedelta(seconds=90)
    late = scrape(client)
    assert late("parley_timers_due") == runtime.redis.zcount(keys.TIMERS, "-inf", earliest) >= 1
    assert late("parley_timer_lateness_seconds") == pytest.approx(90, abs=0.01)

    tick(runtime)  # the worker catches up
    caught_up = scrape(client)
    assert caught_up("parley_timers_due") == 0
    assert caught_up("parley_timer_lateness_seconds") == 0


def test_opt_outs_hand_offs_and_the_record_lag(client, settings, runtime, texter) -> None:
    before = scrape(client)
    assert texter.text("STOP").status_code == 200
    assert texter.text("START").status_code == 200
    other = Texter(client, "+14155550199", settings.auth_token, settings.api_token)
    assert other.text("can I talk to a human please").status_code == 200

    after = scrape(client)
    assert after("parley_opt_outs_total") - before("parley_opt_outs_total") == 1
    assert after("parley_opt_ins_total") - before("parley_opt_ins_total") == 1
    assert after("parley_handoffs_total") - before("parley_handoffs_total") == 1
    assert after.types["parley_opt_outs"] == "counter"
    # The record has not been written yet: the stream holds every commit.
    behind = runtime.redis.xlen(keys.RECORD)
    assert after("parley_record_lag_entries") == behind >= 3
    assert after("parley_record_lag_seconds") >= 0
    assert after("parley_handoffs_waiting") == 0

    record_everything(runtime)
    recorded = scrape(client)
    assert recorded("parley_record_lag_entries") == 0
    assert recorded("parley_record_lag_seconds") == 0
    assert recorded("parley_record_dead_entries") == 0
    assert recorded("parley_handoffs_waiting") == 1


def test_journey_runs_and_goals_are_labelled_by_journey(client, runtime, texter) -> None:
    response = texter.event("appointment_booked", {"appointment_at": "2026-12-03T17:30:00Z"})
    started = response.get_json()["started"]
    assert started
    figures = scrape(client)
    for journey in started:
        assert figures("parley_journey_runs_total", journey=journey, status="started") == 1
    stats = runtime.store.stats()
    goals = {name for name in stats if name.startswith("goal:")}
    for name in goals:
        _, journey, goal = name.split(":")
        assert figures("parley_journey_goals_total", journey=journey, goal=goal) == stats[name]


def test_a_scrape_costs_the_same_few_redis_commands_and_one_query_however_busy(
    client, settings, runtime, emulator, texter
) -> None:
    statements: list[str] = []
    event.listen(runtime.record, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def cost() -> tuple[int, int]:
        scrape(client)  # the process's first request readies its storage: not a scrape's cost
        commands = int(runtime.redis.info("stats")["total_commands_processed"])
        statements.clear()
        scrape(client)
        # INFO itself is one command processed.
        spent = int(runtime.redis.info("stats")["total_commands_processed"]) - commands - 1
        return spent, len(statements)

    quiet = cost()
    for number in range(20):
        phone = f"+1415555{number:04d}"
        Texter(client, phone, settings.auth_token, settings.api_token).text("human")
    Sender(runtime).drain()
    busy = cost()
    assert busy == quiet, (busy, quiet)
    assert quiet[1] == 1  # the count of conversations waiting for staff
    assert quiet[0] == 15  # one pipeline of 15 commands, however many contacts or messages


def test_the_figures_from_redis_are_served_while_the_record_is_down(
    client, runtime, texter
) -> None:
    assert texter.text("hello").status_code == 200
    runtime.record.dispose()
    runtime.record = database.connect("postgresql+psycopg://parley@127.0.0.1:1/none")
    try:
        figures = scrape(client)
    finally:
        runtime.record.dispose()
    assert figures("parley_messages_total", direction="inbound", status="received") == 1
    assert not figures.has("parley_handoffs_waiting")


def test_openmetrics_when_the_scraper_asks_for_it(client) -> None:
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.status_code == 200
    assert response.content_type.startswith("application/openmetrics-text")
    names = {family.name for family in openmetrics_families(response.get_data(as_text=True))}
    assert {"parley_messages", "parley_send_latency_seconds", "parley_outbox_messages"} <= names


def test_metrics_token_when_set_is_required(client, runtime, settings) -> None:
    runtime.settings = replace(settings, metrics_token="scrape-secret")
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert scrape(client, Authorization="Bearer scrape-secret").has("parley_messages_total")
    # The API's token does not open it, nor does /metrics set a session cookie.
    api = client.get("/metrics", headers={"Authorization": f"Bearer {settings.api_token}"})
    assert api.status_code == 401
    assert "Set-Cookie" not in refused.headers
