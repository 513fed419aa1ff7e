"""Real figures for the analytics pages: the survey journey run for 60 contacts over HTTP.

It goes the way tests/survey.py runs it (events and texts over HTTP,
the sender to the Twilio emulator, status callbacks, timers fired by the worker's tick,
the record written by the recorder's writer), with orders in two currencies on top.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask.testing import FlaskClient

from bot.runtime import Runtime
from bot.worker import tick
from tests.survey import AUTH, FLOWS, Survey, day, record

__all__ = ["AUTH", "FLOWS", "api_figures", "first_day", "last_day", "run_survey"]

PEOPLE = 60


def run_survey(client: FlaskClient, runtime: Runtime, emulator, now: datetime) -> Survey:
    """Run the survey: ratings good and bad, an unclear reply, opt-outs, bookings, orders."""
    survey = Survey(client, runtime, emulator, now)
    people = survey.phones[:PEOPLE]
    group = {phone.phone: i % 6 for i, phone in enumerate(people)}
    failing = frozenset(p.phone for i, p in enumerate(people) if i % 12 == 0)
    for phone in people:
        assert phone.event("survey_due").status_code == 202
    survey.send(failing)

    def reply(members: int, text: str, seconds: float) -> None:
        survey.at(seconds)
        for phone in people:
            if group[phone.phone] == members:
                assert phone.text(text).status_code == 200
        survey.send()

    reply(1, "hmm", 60)
    reply(1, "5", 120)
    reply(2, "2", 300)
    reply(3, "4", 600)
    reply(4, "STOP", 900)
    reply(5, "5", 1800)
    reply(1, "yes", 120 + 3600)
    survey.at(2 * 3600)
    for i, phone in enumerate(people[:4]):
        order = {"total": 20 + i, "currency": "USD" if i % 2 else "EUR"}
        assert phone.event("order_placed", order).status_code == 202
    for days in (1.5, 3.5):
        survey.at(days * 86400)
        tick(runtime)
        survey.send()
    record(runtime)
    return survey


def api_figures(client: FlaskClient, journey: str = "survey", **query: str) -> dict:
    """Return the journey's figures as `GET /api/analytics/journeys/<id>` answers them."""
    response = client.get(f"/api/analytics/journeys/{journey}", query_string=query, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def first_day(now: datetime) -> str:
    """Return the survey's first day, in the business's time zone, as an ISO date."""
    return day(now).isoformat()


def last_day(now: datetime) -> str:
    """Return the survey's last day (its timers' 3.5 days on) as an ISO date."""
    return day(now + timedelta(days=4)).isoformat()
