"""Test helpers that talk to Parley the way Twilio and business systems do: over HTTP."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

from flask.testing import FlaskClient

from tests.conftest import BUSINESS_NUMBER, PUBLIC_URL, sign

_sids = itertools.count(1)


def post_signed(client: FlaskClient, path: str, params: dict[str, str], token: str) -> Any:
    """POST a form to `path` signed as Twilio signs it (over PUBLIC_URL + path)."""
    signature = sign(f"{PUBLIC_URL}{path}", params, token)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def new_sid() -> str:
    """Return a fresh, unique MessageSid."""
    return f"SM{next(_sids):032x}"


class Texter:
    """One person's phone, plus the business system's API client, against a Flask app."""

    def __init__(self, client: FlaskClient, phone: str, token: str, api_token: str) -> None:
        self.client = client
        self.phone = phone
        self.token = token
        self.headers = {"Authorization": f"Bearer {api_token}"}

    def text(self, body: str, sid: str | None = None, **extra: str) -> Any:
        """Deliver an inbound SMS as a signed Twilio webhook; return the response."""
        params = {
            "MessageSid": sid or new_sid(),
            "AccountSid": "AC" + "0" * 32,
            "From": self.phone,
            "To": BUSINESS_NUMBER,
            "Body": body,
            **extra,
        }
        return post_signed(self.client, "/webhooks/twilio/sms", params, self.token)

    def event(self, event: str, data: dict[str, Any] | None = None) -> Any:
        """Send a business event for this contact through the API."""
        body = {"phone": self.phone, "event": event, "data": data or {}}
        return self.client.post("/api/events", json=body, headers=self.headers)

    def contact(self) -> dict[str, Any]:
        """Return this contact as the API shows it."""
        response = self.client.get(f"/api/contacts/{quote(self.phone)}", headers=self.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def messages(self) -> list[dict[str, Any]]:
        """Return this contact's messages as the API shows them."""
        url = f"/api/contacts/{quote(self.phone)}/messages"
        response = self.client.get(url, headers=self.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def outbound(self) -> list[dict[str, Any]]:
        """Return only the messages Parley sent (or queued, or withheld)."""
        return [m for m in self.messages() if m["direction"] == "outbound"]

    def events(self) -> list[dict[str, Any]]:
        """Return this contact's event log."""
        url = f"/api/contacts/{quote(self.phone)}/events"
        response = self.client.get(url, headers=self.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()
