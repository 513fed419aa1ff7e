"""GET /api/contacts/<phone>/consent: the consent ledger, from the record and Redis together."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from bot.config import Settings
from bot.record import database
from bot.runtime import Runtime
from bot.storage import keys
from tests.texting import Texter
from tests.webhooks.test_history import record_everything

AUTH = {"Authorization": "Bearer test-token"}
PHONE = "+14155550123"
STOP_SID = "SM" + "a" * 32
START_SID = "SM" + "b" * 32
FORM = '{"phone": "(415) 555-0123", "consent": {"marketing": true, "source": "form:checkout"}}'


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The suite's settings, the record on SQLite or on the suite's own PostgreSQL."""
    if request.param == "sqlite":
        return settings
    url = str(request.getfixturevalue("postgres_url"))
    database.upgrade(url)
    return dataclasses.replace(settings, database_url=url)


@pytest.fixture
def texter(client: FlaskClient, settings: Settings) -> Texter:
    assert settings.api_token is not None
    return Texter(client, PHONE, settings.auth_token, settings.api_token)


def ledger(client: FlaskClient, phone: str = PHONE) -> list[dict[str, Any]]:
    response = client.get(f"/api/contacts/{quote(phone)}/consent", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def decide(client: FlaskClient, texter: Texter, runtime: Runtime) -> None:
    """STOP, then START, each texted in; then a web form's marketing opt-in, through the API."""
    texter.text("STOP", sid=STOP_SID)
    runtime.clock.advance(minutes=1)  # type: ignore[attr-defined]
    texter.text("START", sid=START_SID)
    runtime.clock.advance(minutes=1)  # type: ignore[attr-defined]
    response = client.post(
        "/api/contacts", data=FORM, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.get_json()


def said(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["purpose"], e["granted"], e["method"], e["source"], e["evidence"]) for e in entries]


EXPECTED = [
    ("marketing", False, "keyword", STOP_SID, "STOP"),
    ("transactional", False, "keyword", STOP_SID, "STOP"),
    ("transactional", True, "keyword", START_SID, "START"),
    ("marketing", True, "form", "form:checkout", FORM),
]


def test_each_decision_is_in_the_ledger_with_how_it_was_made_oldest_first(
    client: FlaskClient, texter: Texter, runtime: Runtime
) -> None:
    decide(client, texter, runtime)
    fresh = ledger(client)  # nothing copied to the record yet: from Redis alone
    assert said(fresh) == EXPECTED
    assert [sorted(entry) for entry in fresh] == [
        sorted(("purpose", "granted", "method", "source", "evidence", "disclosure", "at"))
    ] * 4
    assert [entry["at"] for entry in fresh] == [
        "2026-11-30T17:00:00+00:00",
        "2026-11-30T17:00:00+00:00",
        "2026-11-30T17:01:00+00:00",
        "2026-11-30T17:02:00+00:00",
    ]
    assert record_everything(runtime) > 0
    assert ledger(client) == fresh  # the record and Redis together: each decision once
    runtime.redis.delete(keys.events(PHONE))  # gone from Redis, the record alone answers
    assert ledger(client) == fresh


def test_a_decision_made_after_the_record_was_written_shows_at_once(
    client: FlaskClient, texter: Texter, runtime: Runtime
) -> None:
    texter.text("STOP", sid=STOP_SID)
    record_everything(runtime)
    runtime.clock.advance(minutes=1)  # type: ignore[attr-defined]
    texter.text("START", sid=START_SID)  # in Redis only, for now
    assert said(ledger(client)) == EXPECTED[:3]


def test_the_same_stream_entries_written_again_add_no_row(
    client: FlaskClient, texter: Texter, runtime: Runtime
) -> None:
    decide(client, texter, runtime)
    sent: Any = runtime.redis.xrange(keys.RECORD)
    record_everything(runtime)
    for _, fields in sent:  # a recorder that wrote them and died before saying so
        runtime.redis.xadd(keys.RECORD, fields)
    assert record_everything(runtime) == len(sent)
    runtime.redis.delete(keys.events(PHONE))
    assert said(ledger(client)) == EXPECTED


def test_the_phone_may_be_written_any_way_phonenumbers_reads(
    client: FlaskClient, texter: Texter, runtime: Runtime
) -> None:
    decide(client, texter, runtime)
    assert said(ledger(client, "(415) 555-0123")) == EXPECTED


def test_an_unknown_contact_is_a_404_and_a_bad_phone_a_400(client: FlaskClient) -> None:
    response = client.get("/api/contacts/+14155550188/consent", headers=AUTH)
    assert response.status_code == 404
    assert response.get_json() == {"error": "no contact with phone +14155550188"}
    response = client.get("/api/contacts/not-a-phone/consent", headers=AUTH)
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_the_ledger_needs_the_api_token(client: FlaskClient, texter: Texter) -> None:
    texter.text("STOP")
    assert client.get(f"/api/contacts/{PHONE}/consent").status_code == 401
