"""X-Twilio-Signature: Twilio's published vectors, one-character changes, and the webhook's 403."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from tests.conftest import PUBLIC_URL, sign
from tests.texting import post_signed

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


def test_webhook_honours_forwarded_proto_and_host(runtime, settings) -> None:
    from dataclasses import replace

    from bot.app import create_app

    runtime.settings = replace(settings, public_url=None)
    client = create_app(runtime).test_client()
    params = _inbound()
    url = "https://bot.shop.example/webhooks/twilio/sms"
    headers = {
        "X-Twilio-Signature": sign(url, params, settings.auth_token),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "bot.shop.example",
    }
    assert client.post("/webhooks/twilio/sms", data=params, headers=headers).status_code == 200
    headers["X-Forwarded-Host"] = "evil.example"
    assert client.post("/webhooks/twilio/sms", data=params, headers=headers).status_code == 403


def test_status_callbacks_need_a_signature_too(client) -> None:
    response = client.post(
        "/webhooks/twilio/status", data={"MessageSid": "SM1", "MessageStatus": "delivered"}
    )
    assert response.status_code == 403
