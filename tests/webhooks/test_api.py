"""The JSON API as the contract states it: contacts, messages, events, auth and errors."""

from __future__ import annotations

import pytest

AUTH = {"Authorization": "Bearer test-token"}


def test_create_contact_normalises_the_phone_and_derives_the_time_zone(client) -> None:
    response = client.post(
        "/api/contacts",
        json={"phone": "(415) 555-0123", "fields": {"first_name": "Ana"}, "language": "es"},
        headers=AUTH,
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["phone"] == "+14155550123"
    assert body["timezone"] == "America/Los_Angeles"
    assert body["fields"] == {"first_name": "Ana"}
    assert body["language"] == "es"
    assert body["subscribed"] is True
    assert body["journeys"] == []
    assert body["handoff"] is False


def test_update_merges_fields_and_records_consent(client) -> None:
    client.post("/api/contacts", json={"phone": "+14155550123", "fields": {"a": 1}}, headers=AUTH)
    response = client.post(
        "/api/contacts",
        json={
            "phone": "+1 415 555 0123",
            "fields": {"b": "two"},
            "timezone": "Europe/Paris",
            "consent": {"marketing": True, "source": "checkout checkbox"},
        },
        headers=AUTH,
    )
    body = response.get_json()
    assert body["fields"] == {"a": 1, "b": "two"}
    assert body["timezone"] == "Europe/Paris"
    assert body["consent"]["marketing"]["granted"] is True
    assert body["consent"]["marketing"]["source"] == "checkout checkbox"
    events = client.get("/api/contacts/+14155550123/events", headers=AUTH).get_json()
    assert [e["type"] for e in events] == ["consent_changed"]


def test_get_contact_accepts_any_format_and_404s_unknown(client) -> None:
    client.post("/api/contacts", json={"phone": "+14155550123"}, headers=AUTH)
    assert client.get("/api/contacts/4155550123", headers=AUTH).status_code == 200
    missing = client.get("/api/contacts/+14155550199", headers=AUTH)
    assert missing.status_code == 404
    assert "+14155550199" in missing.get_json()["error"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"phone": "12"}, "not a valid phone number"),
        ({"phone": "+1 555 123 4567"}, "no such number"),
        ({"phone": "call me maybe"}, "not a phone number"),
        ({}, "phone is required"),
        ({"phone": "+14155550123", "nickname": "x"}, "unknown field 'nickname'"),
        ({"phone": "+14155550123", "fields": ["x"]}, "'fields' must be an object"),
        ({"phone": "+14155550123", "fields": {"x": {"y": 1}}}, "field 'x' must be"),
        ({"phone": "+14155550123", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"phone": "+14155550123", "consent": {"marketing": "yes"}}, "consent.marketing"),
        ({"phone": "+14155550123", "consent": {"sms": True}}, "unknown field consent.'sms'"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_contacts_get_a_400_that_says_why(client, body, says: str) -> None:
    response = client.post("/api/contacts", json=body, headers=AUTH)
    assert response.status_code == 400
    assert says in response.get_json()["error"]


def test_broken_json_is_a_400(client) -> None:
    response = client.post(
        "/api/contacts", data="{not json", content_type="application/json", headers=AUTH
    )
    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic dGVzdC10b2tlbg==", "Bearer"])
def test_api_needs_the_bearer_token(client, header) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.post("/api/contacts", json={"phone": "+14155550123"}, headers=headers)
    assert response.status_code == 401
    assert "error" in response.get_json()


def test_events_start_the_triggered_journey_and_report_it(client) -> None:
    response = client.post(
        "/api/events",
        json={
            "phone": "+14155550123",
            "event": "appointment_booked",
            "data": {"appointment_at": "2026-12-01T17:30:00Z", "provider": "Dr. Lee"},
        },
        headers=AUTH,
    )
    assert response.status_code == 202
    assert response.get_json()["started"] == ["appointment_confirmation"]
    contact = client.get("/api/contacts/+14155550123", headers=AUTH).get_json()
    assert contact["journeys"] == [
        {"journey": "appointment_confirmation", "step": "ask", "status": "waiting"}
    ]
    messages = client.get("/api/contacts/+14155550123/messages", headers=AUTH).get_json()
    assert [(m["direction"], m["status"]) for m in messages] == [("outbound", "pending")]
    assert "Dr. Lee" in messages[0]["body"]
    assert set(messages[0]) >= {"direction", "body", "status", "at"}


def test_a_known_event_that_starts_nothing_for_the_contact_answers_202(client) -> None:
    # appointment_cancelled only ends journeys, and this contact is in none.
    response = client.post(
        "/api/events",
        json={"phone": "+14155550123", "event": "appointment_cancelled"},
        headers=AUTH,
    )
    assert response.status_code == 202
    assert response.get_json() == {"started": [], "skipped": []}


def test_a_mistyped_event_is_a_400_that_suggests_the_closest(client) -> None:
    response = client.post(
        "/api/events", json={"phone": "+14155550123", "event": "apointment_booked"}, headers=AUTH
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "unknown event 'apointment_booked'" in error
    assert "did you mean 'appointment_booked'?" in error
    for known in ("appointment_cancelled", "cart_abandoned", "order_placed", "signup"):
        assert known in error
    contact = client.get("/api/contacts/+14155550123", headers=AUTH)
    assert contact.status_code == 404  # nothing was recorded for it


def test_an_event_like_none_known_lists_the_known_ones(client) -> None:
    response = client.post(
        "/api/events", json={"phone": "+14155550123", "event": "zzz"}, headers=AUTH
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "did you mean" not in error
    assert "known events are" in error and "appointment_booked" in error


def test_known_events_are_those_journeys_start_exit_or_date_on(runtime) -> None:
    known = runtime.runner.known_events()
    assert {"appointment_booked", "signup", "product_viewed"} <= known  # start journeys
    assert {"appointment_cancelled", "order_placed"} <= known  # end them
    dated = {
        trigger.params["event"]
        for journey in runtime.journeys.values()
        for trigger in journey.triggers_of("date")
        if trigger.params.get("event")
    }
    assert dated and dated <= known


def test_marketing_journeys_need_marketing_consent(client) -> None:
    event = {"phone": "+14155550123", "event": "cart_abandoned", "data": {"item": "shoes"}}
    refused = client.post("/api/events", json=event, headers=AUTH).get_json()
    assert refused == {
        "started": [],
        "skipped": [{"journey": "abandoned_cart", "reason": "no_marketing_consent"}],
    }
    client.post(
        "/api/contacts",
        json={"phone": "+14155550123", "consent": {"marketing": True, "source": "web form"}},
        headers=AUTH,
    )
    assert client.post("/api/events", json=event, headers=AUTH).get_json()["started"] == [
        "abandoned_cart"
    ]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"phone": "+14155550123"}, "'event' must be"),
        ({"phone": "+14155550123", "event": "x", "data": "y"}, "'data' must be an object"),
        ({"phone": "nope", "event": "x"}, "not a phone number"),
        ({"phone": "+14155550123", "event": "x", "when": 1}, "unknown field 'when'"),
    ],
)
def test_bad_events_get_a_400(client, body, says: str) -> None:
    response = client.post("/api/events", json=body, headers=AUTH)
    assert response.status_code == 400
    assert says in response.get_json()["error"]


def test_healthz_answers_200_when_redis_answers(client) -> None:
    assert client.get("/healthz").status_code == 200


def test_healthz_answers_503_when_redis_is_down(runtime, redis_process, caplog) -> None:
    from bot.storage.redis_server import connect
    from parley.app import create_app

    runtime.redis = connect("redis://127.0.0.1:1/0")  # nothing listens on port 1
    response = create_app(runtime).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "error": "storage unavailable"}
    # Anyone may call /healthz: where Redis lives is not theirs to learn.
    for detail in ("127.0.0.1", ":1", "redis://", "Connection", "Errno"):
        assert detail not in response.get_data(as_text=True)
    assert "127.0.0.1:1" in caplog.text  # the operator still finds out why


def test_event_data_with_huge_numbers_is_kept(client) -> None:
    data = {"appointment_at": "2026-12-01T17:30:00Z", "provider": "Dr. Lee", "ref": 2**70}
    event = {"phone": "+14155550123", "event": "appointment_booked", "data": data}
    assert client.post("/api/events", json=event, headers=AUTH).status_code == 202
    assert client.get("/api/contacts/+14155550123", headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "says"),
    [
        ("GET", "/api/nope", 404, "no such route: GET /api/nope"),
        ("POST", "/api/contacts/+14155550123/nope", 404, "no such route: POST /api/contacts/"),
        ("GET", "/api", 404, "no such route: GET /api"),
        ("PUT", "/api/contacts", 405, "method PUT not allowed on /api/contacts; use GET, POST"),
        ("DELETE", "/api/events", 405, "method DELETE not allowed on /api/events; use POST"),
        ("POST", "/api/contacts/+14155550123", 405, "; use GET"),
    ],
)
def test_unknown_routes_and_methods_under_api_answer_json(
    client, method: str, path: str, status: int, says: str
) -> None:
    response = client.open(path, method=method, headers=AUTH)
    assert response.status_code == status
    assert response.is_json, response.get_data(as_text=True)[:200]
    assert says in response.get_json()["error"]


def test_unknown_routes_outside_api_stay_html(client) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert not response.is_json


@pytest.mark.parametrize("path", ["/api/contacts", "/api/events"])
@pytest.mark.parametrize(
    ("phone", "says"),
    [
        (14155550123, "phone must be a string"),
        (True, "phone must be a string"),
        (["+14155550123"], "phone must be a string"),
        ({"number": "+14155550123"}, "phone must be a string"),
        (None, "phone is required"),
        ("  ", "phone is required"),
    ],
)
def test_a_phone_that_is_not_a_string_says_so(client, path: str, phone, says: str) -> None:
    event = {"event": "appointment_booked"} if path == "/api/events" else {}
    body = {"phone": phone, **event}
    response = client.post(path, json=body, headers=AUTH)
    assert response.status_code == 400
    assert says in response.get_json()["error"]
