"""The JSON API for staff tools: reply as staff, hand a conversation off, hand it back.

The same actions as the staff inbox, for a helpdesk that drives Parley itself. Routes
sit on the API's blueprint, so they take its bearer token and answer errors its way.
"""

from __future__ import annotations

from flask import Response, jsonify, request

from bot.conversation.staffing import REPLY_LIMIT, Refused
from webhooks.api import BadRequest, _json_object, _known, _optional, _runtime, blueprint, error

MESSAGE_FIELDS = ("body", "author", "track_links")
HANDOFF_FIELDS = ("reason", "author")
HANDBACK_FIELDS = ("author",)
API_AUTHOR = "api"  # who a staff action came from when the caller names nobody


def author_of(data: dict[str, object]) -> str:
    """Return who a staff request names as its author, or `api` when it names nobody."""
    author = _optional(data, "author", str, "a string naming who wrote it")
    return (author or API_AUTHOR).strip()[:200] or API_AUTHOR


@blueprint.errorhandler(Refused)
def refused(exc: Refused) -> tuple[Response, int]:
    """Answer a staff action the contact's standing forbids with 409 and why."""
    return error(str(exc), 409)


@blueprint.post("/contacts/<raw_phone>/messages")
def send_as_staff(raw_phone: str) -> tuple[Response, int]:
    """Send a message as staff: it takes the conversation over, and consent still applies."""
    phone = _known(raw_phone).phone
    data = _json_object(MESSAGE_FIELDS)
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        raise BadRequest("'body' must be a non-empty string")
    if len(body.strip()) > REPLY_LIMIT:
        raise BadRequest(f"'body' can be at most {REPLY_LIMIT} characters")
    tracked = _optional(data, "track_links", bool, "true or false") or False
    message = _runtime().desk.reply(phone, author_of(data), body, track_links=tracked)
    return jsonify({"id": message.id, **message.public()}), 201


@blueprint.post("/contacts/<raw_phone>/handoff")
def hand_off(raw_phone: str) -> Response:
    """Take the conversation from the bot for staff; answers the contact."""
    phone = _known(raw_phone).phone
    data = _json_object(HANDOFF_FIELDS) if _has_body() else {}
    reason = _optional(data, "reason", str, "a string saying why") or "api"
    contact = _runtime().desk.hand_off(phone, reason.strip()[:200] or "api")
    return jsonify(contact.public())


@blueprint.post("/contacts/<raw_phone>/handback")
def hand_back(raw_phone: str) -> Response:
    """Give the conversation back to the bot; a paused journey goes on. Answers the contact."""
    phone = _known(raw_phone).phone
    data = _json_object(HANDBACK_FIELDS) if _has_body() else {}
    runtime = _runtime()
    runtime.desk.hand_back(phone, author_of(data))
    return jsonify(_known(phone).public())


def _has_body() -> bool:
    return bool(request.get_data(cache=True))
