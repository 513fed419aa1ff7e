"""The quick urlencoded form parser reads every body exactly as werkzeug's parse_qsl does."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" error handler)
from hypothesis import given
from hypothesis import strategies as st

from tests.texting import Texter
from webhooks.forms import FormData, parse_pairs

ESCAPES = ["%2", "%41", "%zz", "%E9", "%C3%A9"]
FIELD_CHARS = st.sampled_from([*"abcXYZ019=&%+;. ~é😀\x00", *ESCAPES])


def werkzeug_pairs(body: str) -> list[tuple[str, str]]:
    return parse_qsl(body, keep_blank_values=True, errors="werkzeug.url_quote")


@given(st.lists(FIELD_CHARS, max_size=40).map("".join))
def test_any_body_parses_as_parse_qsl_does(body: str) -> None:
    assert parse_pairs(body) == werkzeug_pairs(body)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), max_size=20))
def test_encoded_forms_round_trip(fields: dict[str, str]) -> None:
    assert parse_pairs(urlencode(fields)) == list(fields.items())


def test_a_webhook_body_with_escapes_is_recorded_as_sent(client, settings) -> None:
    texter = Texter(client, "+14155550123", settings.twilio_auth_token, settings.api_token)
    body = "what time? 50% off & more + é; a=b"
    assert texter.text(body).status_code == 200
    received = [m["body"] for m in texter.messages() if m["direction"] == "inbound"]
    assert received == [body]


def test_the_form_hands_twilio_every_value_of_a_field(app) -> None:
    with app.test_request_context(
        "/webhooks/twilio/sms",
        method="POST",
        data="Body=one&Body=two&From=%2B1415",
        content_type="application/x-www-form-urlencoded",
    ):
        from flask import request

        form = request.form
        assert isinstance(form, FormData)
        assert form.getall("Body") == ["one", "two"]
        assert form.getlist("From") == ["+1415"]
        with pytest.raises(KeyError):
            form.getall("To")
