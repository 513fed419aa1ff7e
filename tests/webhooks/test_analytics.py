"""A journey's figures through HTTP: a survey run for 120 contacts with known replies.

Everything goes the way it does in production: events and texts over HTTP, the sender
to the Twilio emulator, status callbacks, timers fired by the worker's tick, the record
written by the recorder's writer. The figures expected are counted here from what the
test did, not from the rollups' definitions.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.record import rollups
from bot.record.schema import conversions, journey_counts, link_clicks
from bot.runtime import Runtime
from bot.worker import tick
from tests.survey import (
    ASK,
    AUTH,
    OFFERS,
    PEOPLE,
    Survey,
    a_clear_winner,
    day,
    real_now,
    record,
    with_flows,
)
from tests.texting import Texter


@pytest.fixture
def settings(settings):
    return with_flows(settings)


@pytest.fixture
def now(clock) -> datetime:
    return real_now(clock)


def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def test_a_survey_for_120_people_adds_up(client, runtime: Runtime, emulator, now) -> None:
    survey = Survey(client, runtime, emulator, now)
    people = survey.phones
    group = {phone.phone: i % 6 for i, phone in enumerate(people)}
    failing = frozenset(p.phone for i, p in enumerate(people) if i % 12 == 0)  # silent ones

    for phone in people:
        assert phone.event("survey_due").status_code == 202
    survey.send(failing)

    def reply(members: int, text: str, seconds: float, waited: float | None) -> None:
        survey.at(seconds)
        for phone in people:
            if group[phone.phone] == members:
                assert phone.text(text).status_code == 200
                if waited is not None:
                    survey.waited.append(waited)
        survey.send()

    reply(1, "hmm", 60, 60)  # unclear: the question is asked again
    reply(1, "5", 120, 120)
    reply(2, "2", 300, 300)
    reply(3, "4", 600, 600)
    reply(4, "STOP", 900, None)  # compliance, not an answer to the question
    reply(5, "5", 1800, 1800)
    reply(1, "yes", 120 + 3600, 3600)
    reply(5, "yes", 1800 + 3600, 3600)
    for days in (1.5, 3.5):  # the question's wait, then the offers', time out
        survey.at(days * 86400)
        tick(runtime)
        survey.send()
    record(runtime)

    arm = {
        phone.phone: next(a for a, text in OFFERS.items() if text in survey.texts_to(phone))
        for phone in people
        if group[phone.phone] in (1, 3, 5)
    }
    entered = Counter(arm.values())
    booked = Counter(a for p, a in arm.items() if group[p] in (1, 5))
    waiting_at_offer = Counter(a for p, a in arm.items() if group[p] == 3)
    journey_texts = [
        text
        for phone in people
        for text in survey.texts_to(phone)
        if text == ASK
        or text in OFFERS.values()
        or text.startswith(("Just a number", "Booked!", "Sorry to hear"))
    ]
    assert len(journey_texts) == 120 + 20 + 60 + 40 + 20

    first, last = day(now), day(now + timedelta(days=4))
    figures = survey.figures(**{"from": first.isoformat(), "to": last.isoformat()})
    assert figures["journey"] == "survey"
    assert (figures["from"], figures["to"]) == (first.isoformat(), last.isoformat())
    assert figures["entered"] == PEOPLE
    assert figures["completed"] == 20 + 20 + 20  # booked twice over, and the unhappy
    steps = {s["step"]: s for s in figures["steps"]}
    assert [s["step"] for s in figures["steps"]] == [
        "ask", "happy", "offer_a", "offer_b", "booked", "unhappy"
    ]  # fmt: skip
    assert {name: s["reached"] for name, s in steps.items()} == {
        "ask": 120,
        "happy": 60,
        "offer_a": entered["offer_a"],
        "offer_b": entered["offer_b"],
        "booked": 40,
        "unhappy": 20,
    }
    assert {name: s["dropped_off"] for name, s in steps.items()} == {
        "ask": 20 + 20,  # never answered, or opted out
        "happy": 0,
        "offer_a": waiting_at_offer["offer_a"],
        "offer_b": waiting_at_offer["offer_b"],
        "booked": 0,
        "unhappy": 20,  # ended without a goal
    }
    assert figures["paths"] == sorted(
        [
            {"from": "ask", "to": "happy", "runs": 60},
            {"from": "ask", "to": "unhappy", "runs": 20},
            {"from": "happy", "to": "offer_a", "runs": entered["offer_a"]},
            {"from": "happy", "to": "offer_b", "runs": entered["offer_b"]},
            {"from": "offer_a", "to": "booked", "runs": booked["offer_a"]},
            {"from": "offer_b", "to": "booked", "runs": booked["offer_b"]},
        ],
        key=lambda p: (p["from"], p["to"]),
    )
    assert figures["goals"] == {"booked": 40}
    assert figures["messages"] == {
        "sent": len(journey_texts),
        "delivered": len(journey_texts) - len(failing),
        "failed": len(failing),
        "clicked": 0,
        "suppressed": 0,
        "delivery_rate": round((len(journey_texts) - len(failing)) / len(journey_texts), 4),
        "click_rate": 0.0,
    }
    assert figures["opt_outs"] == 20
    assert steps["ask"]["opt_outs"] == 20
    assert figures["conversions"] == 40  # each run that reached the goal
    assert figures["response_time_s"] == {
        "p50": nearest_rank(survey.waited, 0.5),
        "p90": nearest_rank(survey.waited, 0.9),
        "count": len(survey.waited),
    }
    assert figures["ratings"] == {"count": 80, "mean": 4.0, "csat": 0.75}
    assert (steps["ask"]["replies"], steps["ask"]["unclear"]) == (100, 20)
    assert steps["ask"]["unclear_rate"] == 0.2
    assert figures["splits"] == {
        "happy": {
            a: {
                "entered": entered[a],
                "goals": booked[a],
                "goal_rate": round(booked[a] / entered[a], 4),
            }
            for a in ("offer_a", "offer_b")
        }
    }
    assert figures["split_tests"]["happy"]["test"] in ("chi-square", "fisher-exact")

    # The conversations as a whole: opt-out rates out of deliveries, unclear replies.
    response = client.get(
        "/api/analytics/conversations",
        query_string={"from": first.isoformat(), "to": last.isoformat()},
        headers=AUTH,
    )
    assert response.status_code == 200
    whole = response.get_json()
    assert whole["opt_outs"]["by_journey"] == [
        {"journey": None, "opt_outs": 0, "delivered": 20, "rate": 0.0},  # the STOP answers
        {"journey": "survey", "opt_outs": 20, "delivered": 250, "rate": 0.08},
    ]
    assert (whole["opt_outs"]["count"], whole["opt_outs"]["delivered"]) == (20, 270)
    assert sum(w["opt_outs"] for w in whole["opt_outs"]["by_week"]) == 20
    assert whole["unclear_replies"][0] == {
        "journey": "survey", "step": "ask", "replies": 100, "unclear": 20, "rate": 0.2
    }  # fmt: skip

    # A range without those days counts nothing; one day of it counts the day's.
    before = (first - timedelta(days=30)).isoformat(), (first - timedelta(days=1)).isoformat()
    empty = survey.figures(**{"from": before[0], "to": before[1]})
    assert (empty["entered"], empty["messages"]["sent"], empty["steps"][0]["reached"]) == (0, 0, 0)
    first_day = survey.figures(**{"from": first.isoformat(), "to": first.isoformat()})
    assert first_day["entered"] == PEOPLE
    ended = [now + timedelta(seconds=s) for s in (300, 120 + 3600, 1800 + 3600)]
    assert first_day["completed"] == 20 * sum(day(t) == first for t in ended)

    # The rollups kept as the record was written are what a rebuild from the record gives.
    kept = counts(runtime)
    assert kept and sum(kept.values()) > 0
    rebuilt = rollups.rebuild(runtime.record, ZoneInfo(runtime.settings.default_timezone))
    assert rebuilt > PEOPLE
    assert counts(runtime) == kept


def counts(runtime: Runtime) -> dict[tuple[Any, ...], int]:
    with runtime.record.connect() as connection:
        rows = connection.execute(select(journey_counts)).all()
    return {(r.journey, r.day, r.metric, r.key): r.value for r in rows if r.value}


def test_orders_are_credited_within_the_receipt_window_in_their_currencies(
    client, runtime: Runtime, emulator, now
) -> None:
    survey = Survey(client, runtime, emulator, now)
    early, late, stranger = survey.phones[:3]
    for phone in (early, late):
        assert phone.event("survey_due").status_code == 202
    survey.send()  # delivered at the start
    survey.at(11 * 3600 + 59 * 60)  # 11 h 59 min after it was received: credited
    assert early.event("order_placed", {"total": 120.5, "currency": "usd"}).status_code == 202
    assert early.event("booking_made", {"total": "80", "currency": "EUR"}).status_code == 202
    survey.at(12 * 3600 + 60)  # 12 h 1 min: too late
    assert late.event("order_placed", {"total": 99, "currency": "USD"}).status_code == 202
    assert stranger.event("order_placed", {"total": 10}).status_code == 202  # in USD
    record(runtime)

    figures = survey.figures(**{"to": day(now + timedelta(days=1)).isoformat()})
    assert figures["conversions"] == 2
    assert figures["conversions_by"] == {"events": 2, "goals": 0}
    assert figures["revenue"] == {"EUR": 80.0, "USD": 120.5}
    assert {s["step"]: s for s in figures["steps"]}["ask"]["sent"] == 2
    with runtime.record.connect() as connection:
        credited = {
            (row.phone, row.event): (row.journey, row.step)
            for row in connection.execute(select(conversions))
        }
    assert credited == {
        (early.phone, "order_placed"): ("survey", "ask"),
        (early.phone, "booking_made"): ("survey", "ask"),
        (late.phone, "order_placed"): (None, None),
        (stranger.phone, "order_placed"): (None, None),
    }


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"total": "lots", "currency": "USD"}, "data.total"),
        ({"total": -5, "currency": "USD"}, "data.total"),
        ({"total": 5, "currency": "dollars"}, "data.currency"),
    ],
)
def test_a_conversion_with_money_that_is_not_money_is_refused(
    client, runtime: Runtime, data: dict[str, Any], problem: str
) -> None:
    phone = Texter(client, "+14155551234", runtime.settings.auth_token, "test-token")
    response = phone.event("order_placed", data)
    assert response.status_code == 400
    assert problem in response.get_json()["error"]


@pytest.mark.parametrize(
    ("path", "query", "status", "says"),
    [
        ("/api/analytics/journeys/nope", {}, 404, "no journey 'nope'"),
        ("/api/analytics/journeys/survey", {"from": "yesterday"}, 400, "from must be a date"),
        ("/api/analytics/journeys/survey", {"to": "2026-13-01"}, 400, "to must be a date"),
        (
            "/api/analytics/journeys/survey",
            {"from": "2026-12-02", "to": "2026-12-01"},
            400,
            "is after to",
        ),
        ("/api/analytics/journeys/survey", {"from": "2000-01-01"}, 400, "at most"),
    ],
)
def test_bad_ranges_and_unknown_journeys_are_told_why(
    client, path: str, query: dict[str, str], status: int, says: str
) -> None:
    response = client.get(path, query_string=query, headers=AUTH)
    assert response.status_code == status
    assert says in response.get_json()["error"]


def test_figures_need_the_api_token(client) -> None:
    assert client.get("/api/analytics/journeys/survey").status_code == 401


def test_the_default_range_is_the_last_30_days(client, clock) -> None:
    figures = client.get("/api/analytics/journeys/survey", headers=AUTH).get_json()
    assert (figures["from"], figures["to"]) == ("2026-11-01", "2026-11-30")
    assert figures["entered"] == 0 and figures["steps"][0] == {
        "step": "ask", "reached": 0, "dropped_off": 0, "sent": 0, "delivered": 0,
        "clicked": 0, "replies": 0, "unclear": 0, "unclear_rate": None, "opt_outs": 0,
    }  # fmt: skip


def test_staff_response_times_fall_in_their_bins_and_hand_offs_count_by_reason(
    client, runtime: Runtime, emulator, now
) -> None:
    survey = Survey(client, runtime, emulator, now)
    waits = [30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 25 * 3600, 50 * 60]  # kept to 2 digits
    people = survey.phones[: len(waits)]
    for phone in people:
        assert phone.text("can I talk to a person please").status_code == 200
    for phone, waited in sorted(zip(people, waits, strict=True), key=lambda pair: pair[1]):
        survey.at(waited)
        url = f"/api/contacts/{quote(phone.phone)}/messages"
        body = {"body": "Hi, this is Ana. How can I help?", "author": "ana@example.com"}
        assert client.post(url, json=body, headers=AUTH).status_code == 201
    survey.send()
    record(runtime)

    to = day(now + timedelta(days=2)).isoformat()
    response = client.get("/api/analytics/conversations", query_string={"to": to}, headers=AUTH)
    whole = response.get_json()
    assert whole["staff_response_s"] == {
        "count": 6,
        "p50": nearest_rank([float(w) for w in waits], 0.5),
        "p90": nearest_rank([float(w) for w in waits], 0.9),
        "bins": {"0-1h": 2, "1-4h": 1, "4-8h": 1, "8-24h": 1, "24h+": 1},
    }
    assert whole["handoffs"]["count"] == 6
    assert sum(whole["handoffs"]["by_reason"].values()) == 6


def test_a_split_with_a_clear_winner_names_it(client, runtime: Runtime, emulator, now) -> None:
    survey = Survey(client, runtime, emulator, now)
    arm = a_clear_winner(survey, 80)

    figures = survey.figures(**{"to": day(now + timedelta(days=1)).isoformat()})
    entered = Counter(arm.values())
    assert figures["splits"]["happy"] == {
        "offer_a": {"entered": entered["offer_a"], "goals": entered["offer_a"], "goal_rate": 1.0},
        "offer_b": {"entered": entered["offer_b"], "goals": 0, "goal_rate": 0.0},
    }
    test = figures["split_tests"]["happy"]
    assert test["significant"] is True and test["winner"] == "offer_a"
    assert test["p_value"] < 0.001


@pytest.mark.parametrize(
    "query",
    [{"to": "0001-01-05"}, {"from": "9999-12-01", "to": "9999-12-31"}, {"from": "0001-01-01"}],
)
@pytest.mark.parametrize("path", ["/api/analytics/journeys/survey", "/api/analytics/conversations"])
def test_dates_at_the_calendars_ends_are_refused_not_failed_on(
    client, path: str, query: dict[str, str]
) -> None:
    response = client.get(path, query_string=query, headers=AUTH)
    assert response.status_code == 400
    assert "between the years 1900 and 9000" in response.get_json()["error"]


def test_digits_that_answer_a_question_are_not_ratings(
    client, runtime: Runtime, emulator, now
) -> None:
    survey = Survey(client, runtime, emulator, now)
    confirmer, canceller, rater = survey.phones[:3]
    for phone in (confirmer, canceller):
        assert phone.event("visit_booked").status_code == 202
    assert rater.event("survey_due").status_code == 202
    survey.send()
    assert confirmer.text("1").status_code == 200
    assert canceller.text("2").status_code == 200
    assert rater.text("9 out of 10").status_code == 200  # not on the 1-5 scale asked for
    survey.send()
    record(runtime)

    to = {"to": day(now + timedelta(days=1)).isoformat()}
    confirm = client.get("/api/analytics/journeys/confirm", query_string=to, headers=AUTH)
    assert confirm.get_json()["ratings"] == {"count": 0, "mean": None, "csat": None}
    assert confirm.get_json()["replies"]["count"] == 2
    assert survey.figures(**to)["ratings"] == {"count": 0, "mean": None, "csat": None}


BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"
PREVIEW = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


def test_clicks_count_once_per_message_and_earn_orders_within_five_days(
    client, runtime: Runtime, emulator, now
) -> None:
    survey = Survey(client, runtime, emulator, now)
    early, late, previewed, idle = survey.phones[:4]
    for phone in (early, late, previewed, idle):
        assert phone.event("offer_due").status_code == 202
    survey.send()
    time.sleep(1.2)  # clicks within a second of delivery are a scanner's

    def click(phone: Texter, agent: str) -> None:
        (text,) = survey.texts_to(phone)
        code = re.search(r"/l/([A-Za-z0-9_-]+)", text)
        assert code is not None, text
        answer = client.get(f"/l/{code[1]}", headers={"User-Agent": agent})
        assert answer.status_code == 302
        assert answer.location == "https://shop.example.com/coupon?c=SPRING"

    click(early, BROWSER)
    click(early, BROWSER)  # the same message clicked again
    click(late, BROWSER)
    click(previewed, PREVIEW)  # a link preview: kept, not counted
    survey.at(4 * 86400 + 23 * 3600)  # 4 days 23 hours after the clicks: credited
    assert early.event("order_placed", {"total": 30, "currency": "USD"}).status_code == 202
    survey.at(5 * 86400 + 3600)  # 5 days 1 hour: too late for the click, and for receipt
    assert late.event("order_placed", {"total": 50, "currency": "USD"}).status_code == 202
    record(runtime)

    to = day(now + timedelta(days=6)).isoformat()
    offer = client.get(
        "/api/analytics/journeys/offer", query_string={"to": to}, headers=AUTH
    ).get_json()
    assert offer["messages"]["sent"] == offer["messages"]["delivered"] == 4
    assert offer["messages"]["clicked"] == 2
    assert offer["messages"]["click_rate"] == 0.5
    assert offer["steps"][0]["clicked"] == 2
    assert offer["conversions_by"] == {"events": 1, "goals": 0}
    assert offer["revenue"] == {"USD": 30.0}
    with runtime.record.connect() as connection:
        clicks = connection.execute(select(link_clicks.c.phone, link_clicks.c.counted)).all()
    assert sorted(clicks) == sorted(
        [(early.phone, True), (early.phone, True), (late.phone, True), (previewed.phone, False)]
    )
