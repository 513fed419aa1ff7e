"""Hostile input at the edges: each probe gets a clear 4xx saying what is wrong, never a 500."""

from __future__ import annotations

import json

import pytest

from bot.delivery.sender import Sender
from tests.texting import Texter, new_sid, post_signed

AUTH = {"Authorization": "Bearer test-token"}
PHONE = "+14155550123"
SMS, STATUS = "/webhooks/twilio/sms", "/webhooks/twilio/status"


def _form(path: str) -> dict[str, str]:
    if path == SMS:
        return {"MessageSid": new_sid(), "From": PHONE, "To": "+15005550006", "Body": "STOP"}
    return {"MessageSid": new_sid(), "MessageStatus": "failed", "ErrorCode": "21610"}


# Sent by someone without the auth token, so no signature here is right anyway.
ODD_SIGNATURES = {
    "unknown algorithm": {
        "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl",
        "X-Twilio-Webhooks-Signature-Settings": "key=k,algorithm=HMAC_MD5",
    },
    "non-ASCII algorithm": {
        "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl",
        "X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_SHA\xb2\xb5\xb6",
    },
    "non-ASCII signature": {"X-Twilio-Signature": "caf\xe9/\xff=="},
    "both": {
        "X-Twilio-Signature": "\xe9",
        "X-Twilio-Webhooks-Signature-Settings": "algorithm=\xff",
    },
    "SHA-256 named, nonsense signature": {
        "X-Twilio-Signature": "\x80\x81",
        "X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_SHA256",
    },
}


@pytest.mark.parametrize("path", [SMS, STATUS])
@pytest.mark.parametrize("headers", ODD_SIGNATURES.values(), ids=ODD_SIGNATURES)
def test_odd_signature_headers_are_refused(client, path: str, headers: dict[str, str]) -> None:
    response = client.post(path, data=_form(path), headers=headers)
    assert response.status_code == 403
    assert b"X-Twilio-Signature" in response.data


NOT_ERROR_CODES = {
    "superscript two": "\xb2",
    "Arabic-Indic one": "\u0661",
    "Arabic-Indic 21610": "\u0662\u0661\u0666\u0661\u0660",
    "fullwidth digits": "\uff13\uff10\uff10\uff10\uff13",
    "5000 digits": "9" * 5000,
    "4000 digits": "9" * 4000,
    "ten digits": "1234567890",
    "negative": "-1",
    "exponent": "3e4",
}


@pytest.mark.parametrize("code", NOT_ERROR_CODES.values(), ids=NOT_ERROR_CODES)
def test_an_error_code_that_is_not_a_number_is_a_400(client, settings, code: str) -> None:
    params = {"MessageSid": new_sid(), "MessageStatus": "failed", "ErrorCode": code}
    response = post_signed(client, STATUS, params, settings.auth_token)
    assert response.status_code == 400
    assert b"ErrorCode must be a number" in response.data


@pytest.mark.parametrize("code", ["30003", "21610"])
def test_twilio_error_codes_still_apply(runtime, client, settings, code: str) -> None:
    phone = Texter(client, PHONE, settings.auth_token, settings.api_token)
    phone.text("hello")
    Sender(runtime).drain()
    sid = runtime.store.messages(PHONE)[-1].sid
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": code}
    assert post_signed(client, STATUS, params, settings.auth_token).status_code == 204
    assert phone.outbound()[0]["error_code"] == int(code)
    assert phone.contact()["subscribed"] is (code != "21610")


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


def _deep(path: str, depth: int) -> str:
    """Return a body for path that is well-formed but for one deeply nested value."""
    if path == "/api/contacts":
        body = {"phone": PHONE, "fields": {"items": _nested(depth)}}
    else:
        body = {"phone": PHONE, "event": "order_placed", "data": {"items": _nested(depth)}}
    return json.dumps(body)


DEEP_BODIES = {
    "60k open brackets": lambda path: "[" * 60_000,
    "5000-deep object": lambda path: '{"a":' * 5000 + "1" + "}" * 5000,
    "900 levels inside": lambda path: _deep(path, 900),
    "300 levels inside": lambda path: _deep(path, 300),
    "40 levels inside": lambda path: _deep(path, 40),
}


@pytest.mark.parametrize("path", ["/api/contacts", "/api/events"])
@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES)
def test_deeply_nested_json_is_a_400(client, path: str, body) -> None:
    response = client.post(path, data=body(path), content_type="application/json", headers=AUTH)
    assert response.status_code == 400
    assert "nests deeper than" in response.get_json()["error"]


def test_json_a_few_levels_deep_is_fine(client) -> None:
    body = {"phone": PHONE, "event": "order_placed", "data": {"items": _nested(8)}}
    assert client.post("/api/events", json=body, headers=AUTH).status_code == 202


def test_a_body_past_the_size_limit_is_a_413(client) -> None:
    body = "[" * 100_000
    response = client.post("/api/events", data=body, content_type="application/json", headers=AUTH)
    assert response.status_code == 413
    assert response.get_json()["error"]


NOT_TIME_ZONES = {
    "a folder": "America",
    "Etc": "Etc",
    "posix": "posix",
    "right": "right",
    "a folder with a slash": "Europe/",
    "300 characters": "A" * 300,
    "a long path": "America/" + "x" * 500,
    "dot-dot": "../../etc/passwd",
    "dot-dot inside": "Europe/../Europe/Paris",
    "absolute": "/etc/localtime",
    "a NUL": "Europe/Paris\x00",
    "not a zone file": "zone1970.tab",
}


@pytest.mark.parametrize("zone", NOT_TIME_ZONES.values(), ids=NOT_TIME_ZONES)
def test_a_time_zone_that_is_not_one_is_a_400(client, zone: str) -> None:
    body = {"phone": PHONE, "timezone": zone}
    response = client.post("/api/contacts", json=body, headers=AUTH)
    assert response.status_code == 400
    assert "timezone" in response.get_json()["error"]


EDGES = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01", "9999-12-31"]
FAR_FROM_UTC = {
    "Hong Kong": ("+85291234567", None),
    "Sydney": ("+61291234567", None),
    "Kiritimati": (PHONE, "Pacific/Kiritimati"),
    "Pago Pago": (PHONE, "Pacific/Pago_Pago"),
}


@pytest.mark.parametrize("where", FAR_FROM_UTC.values(), ids=FAR_FROM_UTC)
@pytest.mark.parametrize("at", EDGES)
def test_an_appointment_at_the_ends_of_the_calendar_is_a_400(
    client, where: tuple[str, str | None], at: str
) -> None:
    phone, zone = where
    contact = {"phone": phone, **({"timezone": zone} if zone else {})}
    assert client.post("/api/contacts", json=contact, headers=AUTH).status_code == 200
    data = {"appointment_at": at, "provider": "Dr. Lee"}
    body = {"phone": phone, "event": "appointment_booked", "data": data}
    response = client.post("/api/events", json=body, headers=AUTH)
    assert response.status_code == 400
    assert "appointment_at" in response.get_json()["error"]


@pytest.mark.parametrize("at", ["9999-12-31T23:30:00Z", "0001-01-01T00:00:00Z"])
def test_a_cart_left_at_the_ends_of_the_calendar_is_a_400(client, at: str) -> None:
    consent = {"marketing": True, "source": "checkout"}
    contact = {"phone": PHONE, "timezone": "Pacific/Kiritimati", "consent": consent}
    assert client.post("/api/contacts", json=contact, headers=AUTH).status_code == 200
    body = {"phone": PHONE, "event": "cart_abandoned", "data": {"abandoned_at": at}}
    response = client.post("/api/events", json=body, headers=AUTH)
    assert response.status_code == 400
    assert "abandoned_at" in response.get_json()["error"]
