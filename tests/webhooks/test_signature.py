"""X-Twilio-Signature: Twilio's published vectors, one-character changes, replays, proxies, 403."""

from __future__ import annotations

from dataclasses import replace

import pytest
from twilio.request_validator import RequestValidator

from bot.delivery.sender import Sender
from parley.app import create_app
from tests.conftest import PUBLIC_URL, sign
from tests.texting import Texter, post_signed

# The vector twilio-python publishes in its own tests.
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def flip(text: str, index: int) -> str:
    """Return `text` with one character changed."""
    replacement = "X" if text[index] != "X" else "Y"
    return text[:index] + replacement + text[index + 1 :]


def test_published_vector_signs_as_twilio_says() -> None:
    assert sign(URL, PARAMS, TOKEN) == EXPECTED
    assert RequestValidator(TOKEN).validate(URL, PARAMS, EXPECTED)


def test_published_vectors_with_ports() -> None:
    validator = RequestValidator(TOKEN)
    assert validator.validate(URL.replace(".com", ".com:1234"), PARAMS, EXPECTED)
    assert validator.validate(URL, PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w=")  # signed with :443


@pytest.mark.parametrize("index", [8, 20, len(URL) - 1])
def test_one_character_in_the_url_breaks_it(index: int) -> None:
    assert not RequestValidator(TOKEN).validate(flip(URL, index), PARAMS, EXPECTED)


@pytest.mark.parametrize("field", sorted(PARAMS))
def test_one_character_in_a_value_breaks_it(field: str) -> None:
    params = dict(PARAMS, **{field: flip(PARAMS[field], 2)})
    assert not RequestValidator(TOKEN).validate(URL, params, EXPECTED)


@pytest.mark.parametrize("index", [0, 10, len(EXPECTED) - 2])
def test_one_character_in_the_signature_breaks_it(index: int) -> None:
    assert not RequestValidator(TOKEN).validate(URL, PARAMS, flip(EXPECTED, index))


def _inbound(body: str = "hello") -> dict[str, str]:
    return {"MessageSid": "SM" + "a" * 32, "From": "+14155550123", "To": "+15005550006",
            "Body": body}  # fmt: skip


def test_webhook_accepts_a_signature_over_public_url(client, settings) -> None:
    params = _inbound()
    response = post_signed(client, "/webhooks/twilio/sms", params, settings.auth_token)
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert b"<Response" in response.data


def test_webhook_refuses_a_missing_signature(client) -> None:
    response = client.post("/webhooks/twilio/sms", data=_inbound())
    assert response.status_code == 403


@pytest.mark.parametrize("what", ["url", "value", "signature", "token"])
def test_webhook_refuses_one_wrong_character(client, settings, what: str) -> None:
    params = _inbound()
    url, token = f"{PUBLIC_URL}/webhooks/twilio/sms", settings.auth_token
    if what == "url":
        url = flip(url, 10)
    if what == "token":
        token = flip(token, 0)
    signature = sign(url, params, token)
    if what == "signature":
        signature = flip(signature, 3)
    if what == "value":
        params["Body"] = flip(params["Body"], 1)
    response = client.post(
        "/webhooks/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403


OTHER = "https://other.example.com"  # another app on the same Twilio account
PHONE = "+14155550123"


def _client(runtime, settings, **changes):
    runtime.settings = replace(settings, **changes)
    return create_app(runtime).test_client()


def _replay(client, path: str, params: dict[str, str], token: str, via: str):
    """Post what Twilio signed for another host, claiming to be that host."""
    headers = {"X-Twilio-Signature": sign(f"{OTHER}{path}", params, token)}
    if via == "host":
        return client.post(path, data=params, headers=headers, base_url=OTHER)
    headers |= {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "other.example.com"}
    return client.post(path, data=params, headers=headers)


@pytest.mark.parametrize("trusted_proxies", [0, 1])
@pytest.mark.parametrize("via", ["host", "forwarded"])
def test_a_status_callback_signed_for_another_host_is_refused(
    runtime, settings, via: str, trusted_proxies: int
) -> None:
    client = _client(runtime, settings, trusted_proxies=trusted_proxies)
    phone = Texter(client, PHONE, settings.auth_token, settings.api_token)
    phone.text("hello")
    Sender(runtime).drain()
    (reply,) = phone.outbound()
    sid = runtime.store.messages(PHONE)[-1].sid
    params = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "21610"}
    path = "/webhooks/twilio/status"
    assert _replay(client, path, params, settings.auth_token, via).status_code == 403
    assert phone.contact()["subscribed"] is True
    assert phone.outbound()[0]["status"] == reply["status"]


@pytest.mark.parametrize("trusted_proxies", [0, 1])
@pytest.mark.parametrize("via", ["host", "forwarded"])
def test_an_inbound_text_signed_for_another_host_is_refused(
    runtime, settings, via: str, trusted_proxies: int
) -> None:
    client = _client(runtime, settings, trusted_proxies=trusted_proxies)
    phone = Texter(client, PHONE, settings.auth_token, settings.api_token)
    phone.text("hello")
    params = _inbound("STOP")
    path = "/webhooks/twilio/sms"
    assert _replay(client, path, params, settings.auth_token, via).status_code == 403
    assert phone.contact()["subscribed"] is True
    assert [m["body"] for m in phone.messages() if m["direction"] == "inbound"] == ["hello"]


def _forwarded(client, signed_for: str, host: str, token: str) -> int:
    params = _inbound()
    headers = {
        "X-Twilio-Signature": sign(f"{signed_for}/webhooks/twilio/sms", params, token),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": host,
    }
    return client.post("/webhooks/twilio/sms", data=params, headers=headers).status_code


def test_without_public_url_forwarded_headers_are_ignored_by_default(runtime, settings) -> None:
    client = _client(runtime, settings, public_url=None)
    token = settings.auth_token
    assert _forwarded(client, "https://bot.shop.example", "bot.shop.example", token) == 403
    # What reached Parley is what counts: here, the test client's own URL.
    assert _forwarded(client, "http://localhost", "bot.shop.example", token) == 200


def test_without_public_url_a_trusted_proxy_names_the_url(runtime, settings) -> None:
    client = _client(runtime, settings, public_url=None, trusted_proxies=1)
    token = settings.auth_token
    assert _forwarded(client, "https://bot.shop.example", "bot.shop.example", token) == 200
    assert _forwarded(client, "https://bot.shop.example", "evil.example", token) == 403
    assert _forwarded(client, "http://localhost", "bot.shop.example", token) == 403


def test_with_public_url_a_trusted_proxy_cannot_move_it(runtime, settings) -> None:
    client = _client(runtime, settings, trusted_proxies=1)
    token = settings.auth_token
    assert _forwarded(client, PUBLIC_URL, "parley.example.com", token) == 200
    assert _forwarded(client, "https://bot.shop.example", "bot.shop.example", token) == 403


def test_status_callbacks_need_a_signature_too(client) -> None:
    response = client.post(
        "/webhooks/twilio/status", data={"MessageSid": "SM1", "MessageStatus": "delivered"}
    )
    assert response.status_code == 403
