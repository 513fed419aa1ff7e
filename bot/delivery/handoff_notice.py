"""Tell a webhook (a Slack incoming webhook, a helpdesk) that a conversation waits for staff.

The notice is a durable timer set in the same commit as the hand-off, fired by a worker
into an RQ job that retries with backoff until the webhook answers 2xx. The body is
JSON with a `text` line (what Slack shows) and the details; with HANDOFF_WEBHOOK_SECRET
set, `X-Parley-Signature` is `sha256=` and the HMAC-SHA256 of `<timestamp>.<body>` under
it, and `X-Parley-Timestamp` the timestamp, so a receiver can check both origin and age.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import quote

import requests

from bot.config import Settings
from bot.domain.contacts import Contact

TIMEOUT = 10.0  # seconds; a webhook slower than this is tried again later
RETRY_INTERVALS = [10, 60, 300, 900, 3600]  # seconds between attempts after the first


class NoticeFailed(Exception):
    """The webhook did not take the notice; RQ tries again later."""


def notice(settings: Settings, contact: Contact) -> dict[str, Any]:
    """Return what the webhook is told about a conversation waiting for staff."""
    name = " ".join(
        str(contact.fields[key]) for key in ("first_name", "last_name") if contact.fields.get(key)
    )
    who = f"{name} ({contact.phone})" if name else contact.phone
    link = f"{settings.public_url}/inbox/c/{quote(contact.phone)}" if settings.public_url else None
    reason = contact.handoff_reason or ("opt_out_review" if contact.opt_out_review else "requested")
    text = f"{who} is waiting for staff ({reason})" + (f": {link}" if link else "")
    return {
        "text": text,
        "phone": contact.phone,
        "name": name or None,
        "reason": reason,
        "waiting_since": contact.waiting_since,
        "url": link,
    }


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Return the X-Parley-Signature of a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def send(settings: Settings, contact: Contact, session: requests.Session | None = None) -> None:
    """Post the notice; raise NoticeFailed unless the webhook answers 2xx."""
    assert settings.handoff_webhook_url, "only called when a webhook is configured"
    body = json.dumps(notice(settings, contact)).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Parley-Timestamp": timestamp}
    if settings.handoff_webhook_secret:
        headers["X-Parley-Signature"] = signature(settings.handoff_webhook_secret, timestamp, body)
    try:
        response = (session or requests).post(
            settings.handoff_webhook_url, data=body, headers=headers, timeout=TIMEOUT
        )
    except requests.RequestException as exc:
        raise NoticeFailed(f"hand-off webhook unreachable: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise NoticeFailed(f"hand-off webhook answered {response.status_code}")
