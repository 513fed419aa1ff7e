"""History and the contact list from the record, with what Redis holds laid over it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from bot.config import Settings
from bot.record.drain import RecordDrain
from bot.record.writer import RecordWriter
from bot.runtime import Runtime
from bot.storage import keys
from tests.texting import Texter

AUTH = {"Authorization": "Bearer test-token"}
PHONE = "+14155550123"


def record_everything(runtime: Runtime) -> int:
    """Copy the record stream into the record, as the recorder process does."""
    drain = RecordDrain(runtime.redis, RecordWriter(runtime.record), keys.RECORD, "test")
    total = 0
    while count := drain.run_once():
        total += count
    return total


def page(client: FlaskClient, **query: Any) -> list[dict[str, Any]]:
    response = client.get(f"/api/contacts/{PHONE}/messages", query_string=query, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def texter(client: FlaskClient, settings: Settings) -> Texter:
    return texter_for(client, settings, PHONE)


def texter_for(client: FlaskClient, settings: Settings, phone: str) -> Texter:
    assert settings.api_token is not None
    return Texter(client, phone, settings.auth_token, settings.api_token)


def test_history_is_the_same_before_and_after_the_recorder_copies_it(
    client: FlaskClient, texter: Texter, runtime: Runtime
) -> None:
    for word in ("hello", "what are your hours?", "thanks"):
        texter.text(word)
    fresh = page(client)  # nothing copied yet: all from Redis
    assert [m["body"] for m in fresh if m["direction"] == "inbound"] == [
        "hello",
        "what are your hours?",
        "thanks",
    ]
    assert [m["direction"] for m in fresh] == ["inbound", "outbound"] * 3
    assert record_everything(runtime) > 0
    assert page(client) == fresh
    # Gone from Redis (as old messages will be), the record alone answers the same.
    for message_id in runtime.store.redis.lrange(keys.messages(PHONE), 0, -1):
        runtime.redis.delete(keys.message(PHONE, str(message_id)))
    runtime.redis.delete(keys.messages(PHONE))
    assert page(client) == fresh


def test_pages_walk_back_through_the_history_oldest_first_within_each(
    client: FlaskClient, texter: Texter, runtime: Runtime
) -> None:
    for n in range(7):
        texter.text(f"message {n}")
        if n == 3:
            record_everything(runtime)  # half in the record, half only in Redis
    everything = page(client, limit=500)
    assert len(everything) == 14
    newest = page(client, limit=5)
    assert newest == everything[-5:]
    before = page(client, limit=5, before=newest[0]["id"])
    assert before == everything[-10:-5]
    rest = page(client, limit=5, before=before[0]["id"])
    assert rest == everything[:4]
    assert page(client, limit=5, before=everything[0]["id"]) == []


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"limit": "0"}, "limit must be a whole number from 1 to 500"),
        ({"limit": "501"}, "limit must be a whole number from 1 to 500"),
        ({"limit": "ten"}, "limit must be a whole number from 1 to 500"),
        ({"before": "SMnope"}, "before names no message of +14155550123"),
    ],
)
def test_bad_paging_is_a_400_that_says_why(
    client: FlaskClient, texter: Texter, query: dict[str, str], says: str
) -> None:
    texter.text("hello")
    response = client.get(f"/api/contacts/{PHONE}/messages", query_string=query, headers=AUTH)
    assert response.status_code == 400
    assert response.get_json() == {"error": says}


def contacts(client: FlaskClient, **query: Any) -> dict[str, Any]:
    response = client.get("/api/contacts", query_string=query, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_contact_list_is_newest_activity_first_filtered_and_paged(
    client: FlaskClient, settings: Settings, runtime: Runtime
) -> None:
    people = {
        "+14155550101": "Ana Ruiz",
        "+14155550102": "Bo Chen",
        "+14155550103": "Cleo Ruiz",
    }
    for phone, name in people.items():
        given, family = name.split(maxsplit=1)
        client.post(
            "/api/contacts",
            json={"phone": phone, "fields": {"first_name": given, "last_name": family}},
            headers=AUTH,
        )
    runtime.clock.advance(minutes=1)  # type: ignore[attr-defined]
    texter_for(client, settings, "+14155550102").text("agent please")
    runtime.clock.advance(minutes=1)  # type: ignore[attr-defined]
    texter_for(client, settings, "+14155550101").text("hi")
    record_everything(runtime)

    listed: dict[str, Any] = contacts(client)
    assert [c["phone"] for c in listed["contacts"]] == [
        "+14155550101",
        "+14155550102",
        "+14155550103",  # never active: as of when it was created
    ]
    assert listed["next"] is None

    first = contacts(client, limit=2)
    assert len(first["contacts"]) == 2 and first["next"]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", first["next"])  # pasted into a URL as it is
    second = contacts(client, limit=2, cursor=first["next"])
    assert second["next"] is None
    walked = [c["phone"] for c in first["contacts"] + second["contacts"]]
    assert walked == [c["phone"] for c in listed["contacts"]]

    assert [c["phone"] for c in contacts(client, handoff="true")["contacts"]] == ["+14155550102"]
    assert {c["phone"] for c in contacts(client, q="ruiz")["contacts"]} == {
        "+14155550101",
        "+14155550103",
    }
    assert [c["phone"] for c in contacts(client, q="(415) 555-0103")["contacts"]] == [
        "+14155550103"
    ]
    assert contacts(client, q="cleo ruiz")["contacts"][0]["first_name"] == "Cleo"


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"handoff": "yes"}, "handoff must be true or false"),
        ({"cursor": "nonsense"}, "cursor must be the one a previous page gave"),
        ({"limit": "-1"}, "limit must be a whole number from 1 to 500"),
    ],
)
def test_a_bad_contact_list_query_is_a_400(
    client: FlaskClient, query: dict[str, str], says: str
) -> None:
    response = client.get("/api/contacts", query_string=query, headers=AUTH)
    assert response.status_code == 400
    assert response.get_json() == {"error": says}


def test_a_record_that_does_not_answer_is_a_503_not_a_500(
    client: FlaskClient, texter: Texter, runtime: Runtime, tmp_path: Any
) -> None:
    texter.text("hello")
    (tmp_path / "var" / "record.sqlite3").unlink()
    (tmp_path / "var" / "record.sqlite3").mkdir()  # a path SQLite cannot open
    runtime.record.dispose()
    for path in (f"/api/contacts/{PHONE}/messages", "/api/contacts"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 503
        assert response.get_json() == {"error": "the record is unavailable; try again shortly"}


def events(client: FlaskClient, **query: Any) -> list[dict[str, Any]]:
    response = client.get(f"/api/contacts/{PHONE}/events", query_string=query, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_events_are_the_same_from_redis_the_record_or_both_and_page_back(
    client: FlaskClient, texter: Texter, runtime: Runtime
) -> None:
    for n in range(6):
        texter.text(f"question {n}")
        if n == 2:
            record_everything(runtime)
    fresh = events(client, limit=500)
    assert [e["seq"] for e in fresh] == list(range(1, len(fresh) + 1))
    assert [e["text"] for e in fresh if e["type"] == "message_received"] == [
        f"question {n}" for n in range(6)
    ]
    record_everything(runtime)
    assert events(client, limit=500) == fresh
    runtime.redis.ltrim(keys.events(PHONE), -2, -1)  # as for an idle contact
    assert events(client, limit=500) == fresh
    newest = events(client, limit=4)
    assert newest == fresh[-4:]
    assert events(client, limit=4, before=newest[0]["seq"]) == fresh[-8:-4]


def test_a_bad_event_cursor_is_a_400(client: FlaskClient, texter: Texter) -> None:
    texter.text("hello")
    response = client.get(
        f"/api/contacts/{PHONE}/events", query_string={"before": "x"}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.get_json() == {"error": "before must be an event's seq"}
