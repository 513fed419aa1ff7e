"""The JSON API for staff campaigns: one marketing message for many contacts.

`POST /api/campaigns` queues the message for every listed contact who may get marketing;
each is then sent through every guardrail a journey's promotion meets: quiet hours in the
contact's own time and the frequency caps, which campaigns and journeys share.
"""

from __future__ import annotations

import re
import uuid

from flask import Response, jsonify

from bot.conversation import campaigns
from bot.conversation.staffing import REPLY_LIMIT
from webhooks.api import BadRequest, _json_object, _optional, _phone, _runtime, blueprint
from webhooks.staff_api import author_of

CAMPAIGN_FIELDS = ("id", "text", "phones", "author", "when_capped", "track_links")
# A campaign's own id: letters, digits, '-', '_' and '.'.
CAMPAIGN_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
# Contacts one request may name; larger audiences go in several requests.
MAX_PHONES = 1000
WHEN_CAPPED = ("defer", "skip")


@blueprint.post("/campaigns")
def send_campaign() -> tuple[Response, int]:
    """Queue a campaign; answer which contacts got a message and why the others did not."""
    data = _json_object(CAMPAIGN_FIELDS)
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("'text' must be a non-empty string")
    if len(text.strip()) > REPLY_LIMIT:
        raise BadRequest(f"'text' can be at most {REPLY_LIMIT} characters")
    raw_phones = data.get("phones")
    if not isinstance(raw_phones, list) or not raw_phones:
        raise BadRequest("'phones' must be a non-empty list of phone numbers")
    if len(raw_phones) > MAX_PHONES:
        raise BadRequest(f"'phones' can list at most {MAX_PHONES} numbers in one request")
    phones = []
    for index, raw in enumerate(raw_phones):
        if not isinstance(raw, str):
            raise BadRequest(f"'phones[{index}]' must be a string")
        try:
            phones.append(_phone(raw))
        except BadRequest as exc:
            raise BadRequest(f"'phones[{index}]': {exc}") from None
    when_capped = _optional(data, "when_capped", str, "'defer' or 'skip'") or "defer"
    if when_capped not in WHEN_CAPPED:
        raise BadRequest("'when_capped' must be 'defer' or 'skip'")
    given = _optional(data, "id", str, "a string of at most 100 letters, digits, '-', '_' or '.'")
    if given is not None and not CAMPAIGN_ID.fullmatch(given):
        raise BadRequest("'id' must be at most 100 letters, digits, '-', '_' or '.'")
    campaign = campaigns.Campaign(
        id=given or uuid.uuid4().hex,
        text=text.strip(),
        by=author_of(data),
        when_capped=when_capped,
        track_links=_optional(data, "track_links", bool, "true or false") or False,
    )
    outcome = campaigns.send(_runtime().conversations, campaign, phones)
    answer = {"campaign": campaign.id, "queued": outcome.queued, "held": outcome.held}
    return jsonify(answer), 202
