"""The JSON API for business systems: contacts, their messages, and journey events."""

from __future__ import annotations

import difflib
import hmac
import logging
from collections.abc import Mapping
from datetime import UTC, tzinfo
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug import exceptions as http

from bot import history
from bot.domain import phones
from bot.domain.contacts import Contact
from bot.record import reading
from bot.runtime import Runtime
from flows.results import results_view
from flows.timing import off_calendar, zone_named

log = logging.getLogger(__name__)

blueprint = Blueprint("api", __name__, url_prefix="/api")

CONTACT_FIELDS = ("phone", "fields", "language", "timezone", "consent")
EVENT_FIELDS = ("phone", "event", "data")
CONSENT_FIELDS = ("marketing", "source", "disclosure")
# The request kept in the consent ledger as evidence, cut to this many characters.
EVIDENCE_LIMIT = 4000
# Business data nests a few levels. Far deeper, the recursive code that reads and writes
# JSON runs out of stack, so such a body is refused before anything else sees it.
MAX_DEPTH = 32


class BadRequest(Exception):
    """A request the API refuses; the message says what is wrong."""


def _runtime() -> Runtime:
    return current_app.extensions["parley"]


def error(message: str, status: int = 400) -> tuple[Response, int]:
    """Return the API's error shape."""
    return jsonify({"error": message}), status


@blueprint.errorhandler(BadRequest)
def bad_request(exc: BadRequest) -> tuple[Response, int]:
    """Answer a refused request with 400 and the reason."""
    return error(str(exc))


@blueprint.errorhandler(http.HTTPException)
def http_error(exc: http.HTTPException) -> tuple[Response, int]:
    """Answer HTTP errors under /api in JSON too."""
    return error(exc.description or exc.name, exc.code or 500)


def _under_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


# Routing errors happen before a blueprint is chosen, so only app-wide handlers see them.
@blueprint.app_errorhandler(http.NotFound)
def no_such_route(exc: http.NotFound) -> Any:
    """Answer an unknown route under /api with a JSON 404 naming it; elsewhere, as Flask does."""
    if not _under_api():
        return exc
    if request.blueprint == blueprint.name:  # a route of ours said 404 itself
        return error(exc.description or exc.name, 404)
    return error(f"no such route: {request.method} {request.path}", 404)


@blueprint.app_errorhandler(http.MethodNotAllowed)
def wrong_method(exc: http.MethodNotAllowed) -> Any:
    """Answer a wrong method under /api with a JSON 405 naming the methods the route takes."""
    if not _under_api():
        return exc
    allowed = sorted(set(exc.valid_methods or ()) - {"HEAD", "OPTIONS"})
    response, status = error(
        f"method {request.method} not allowed on {request.path}; use {', '.join(allowed)}", 405
    )
    response.headers["Allow"] = ", ".join(exc.valid_methods or ())
    return response, status


@blueprint.before_request
def authenticate() -> tuple[Response, int] | None:
    """Require `Authorization: Bearer $API_TOKEN` (open only in the local sandbox)."""
    settings = _runtime().settings
    if not settings.api_token:
        if settings.sandbox:
            return None
        return error("API_TOKEN is not configured on this server", 401)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), settings.api_token.encode()
    ):
        return error("missing or wrong bearer token", 401)
    return None


def _json_object(allowed: tuple[str, ...]) -> dict[str, Any]:
    too_deep = BadRequest(f"request body nests deeper than {MAX_DEPTH} arrays and objects")
    try:
        data = request.get_json(silent=True, force=True)
    except RecursionError:  # the json module recurses once per level it reads
        raise too_deep from None
    if _depth(data) > MAX_DEPTH:
        raise too_deep
    if data is None:
        raise BadRequest("request body must be a JSON object")
    if not isinstance(data, dict):
        raise BadRequest(f"request body must be a JSON object, not {type(data).__name__}")
    _no_unknown(data, allowed, "")
    return data


def _depth(value: Any) -> int:
    """Return how many arrays and objects deep value nests, looking no deeper than MAX_DEPTH + 1."""
    deepest, pending = 0, [(value, 1)]
    while pending and deepest <= MAX_DEPTH:
        item, level = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            pending.extend((child, level + 1) for child in item)
    return deepest


def _no_unknown(data: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise BadRequest(
            f"unknown field {where}{unknown[0]!r}; allowed fields are {', '.join(allowed)}"
        )


def _phone(raw: Any) -> str:
    try:
        return phones.normalize(raw, _runtime().settings.default_region)
    except phones.InvalidPhone as exc:
        raise BadRequest(str(exc)) from None


def _optional(data: dict[str, Any], name: str, kind: type, label: str) -> Any:
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        raise BadRequest(f"{name!r} must be {label}")
    return value


def _times_on_calendar(values: Mapping[str, Any], where: str) -> None:
    for name, value in values.items():
        if off_calendar(value):
            raise BadRequest(
                f"{where}{name!r} is too near the ends of the calendar (years 1 and 9999)"
                " to show in every time zone"
            )


@blueprint.post("/contacts")
def upsert_contact() -> Response:
    """Create or update a contact."""
    data = _json_object(CONTACT_FIELDS)
    phone = _phone(data.get("phone"))
    fields = _optional(data, "fields", dict, "an object") or {}
    for name, value in fields.items():
        if not isinstance(value, str | int | float | bool) and value is not None:
            raise BadRequest(f"field {name!r} must be a string, number, boolean or null")
    _times_on_calendar(fields, "field ")
    language = _optional(data, "language", str, "a language code such as 'en'")
    timezone = _optional(data, "timezone", str, "an IANA time zone such as 'Europe/Paris'")
    if timezone and zone_named(timezone) is None:
        raise BadRequest(
            f"'timezone': unknown time zone {timezone[:64]!r}; use a name such as 'Europe/Paris'"
        )
    consent = _optional(data, "consent", dict, 'an object like {"marketing": true, "source": ...}')
    if consent is not None:
        _no_unknown(consent, CONSENT_FIELDS, "consent.")
        if not isinstance(consent.get("marketing"), bool):
            raise BadRequest("'consent.marketing' must be true or false")
        _optional(consent, "source", str, "a string saying where consent was given")
        _optional(consent, "disclosure", str, "the text the person agreed to")
    evidence = request.get_data(as_text=True)[:EVIDENCE_LIMIT] if consent else None
    contact = _runtime().conversations.update_contact(
        phone,
        fields=fields,
        language=language,
        timezone=timezone,
        consent=consent,
        evidence=evidence,
    )
    return jsonify(contact.public())


class NotFound(Exception):
    """A contact (or a journey) the API does not know."""


@blueprint.errorhandler(NotFound)
def not_found(exc: NotFound) -> tuple[Response, int]:
    """Answer an unknown contact with 404 and the number looked for."""
    return error(str(exc), 404)


def _known(raw_phone: str) -> Contact:
    phone = _phone(raw_phone)
    contact = _runtime().store.load_contact(phone)
    if contact is None:
        raise NotFound(f"no contact with phone {phone}")
    return contact


@blueprint.get("/contacts/<raw_phone>")
def get_contact(raw_phone: str) -> Response:
    """Return a contact with their journeys."""
    return jsonify(_known(raw_phone).public())


@blueprint.errorhandler(OperationalError)
def record_down(exc: OperationalError) -> Response:
    """Answer 503 when the record (SQL) does not answer; the cause goes to the log."""
    log.error("the record is unavailable: %s", exc)
    response = jsonify({"error": "the record is unavailable; try again shortly"})
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


def _whole_number(name: str, default: int, largest: int) -> int:
    """Return query parameter `name` as a number from 1 to `largest`, else BadRequest."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= largest:
        raise BadRequest(f"{name} must be a whole number from 1 to {largest}")
    return int(raw)


@blueprint.get("/contacts")
def list_contacts() -> Response:
    """Return contacts from the record, most recently active first, a page at a time."""
    limit = _whole_number("limit", reading.CONTACT_PAGE, reading.LONGEST_CONTACT_PAGE)
    handoff = request.args.get("handoff")
    if handoff not in (None, "true", "false"):
        raise BadRequest("handoff must be true or false")
    try:
        page = reading.contact_page(
            _runtime().record,
            limit,
            request.args.get("cursor") or None,
            handoff=None if handoff is None else handoff == "true",
            query=request.args.get("q") or None,
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return jsonify(
        {"contacts": [reading.contact_view(row) for row in page.contacts], "next": page.cursor}
    )


@blueprint.get("/contacts/<raw_phone>/messages")
def get_messages(raw_phone: str) -> Response:
    """Return a page of a contact's messages (the newest, or those before `before`).

    Oldest first within the page; the record's history with Redis' recent window over it,
    so a message accepted a moment ago is there at once.
    """
    phone = _known(raw_phone).phone
    limit = _whole_number("limit", history.PAGE, history.LONGEST_PAGE)
    try:
        page = _runtime().history.messages(phone, limit, request.args.get("before"))
    except history.UnknownMessage:
        raise BadRequest(f"before names no message of {phone}") from None
    return jsonify(page)


@blueprint.get("/contacts/<raw_phone>/runs")
def get_runs(raw_phone: str) -> Response:
    """Return a contact's journey runs with what each is about and the values it kept."""
    return jsonify(results_view(_known(raw_phone).runs))


@blueprint.get("/contacts/<raw_phone>/events")
def get_events(raw_phone: str) -> Response:
    """Return a page of a contact's conversation events (the newest, or those before `before`).

    Oldest first within the page; from the record with Redis' log over it, as messages.
    """
    phone = _known(raw_phone).phone
    limit = _whole_number("limit", history.PAGE, history.LONGEST_PAGE)
    raw_before = request.args.get("before")
    if raw_before is not None and not raw_before.isdigit():
        raise BadRequest("before must be an event's seq")
    before = int(raw_before) if raw_before is not None else None
    return jsonify(_runtime().history.events(phone, limit, before))


@blueprint.get("/contacts/<raw_phone>/consent")
def get_consent(raw_phone: str) -> Response:
    """Return the contact's consent ledger, oldest first: each decision with its evidence.

    From the record with Redis' log over it, so a decision made a moment ago is there.
    """
    return jsonify(_runtime().history.consent(_known(raw_phone).phone))


def _known_event(event: str) -> str:
    """Return `event` if a journey uses it; a typo would otherwise be accepted and do nothing."""
    known = _runtime().runner.known_events()
    if event in known:
        return event
    close = difflib.get_close_matches(event, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise BadRequest(
        f"unknown event {event[:64]!r}{hint} (known events are {', '.join(sorted(known))})"
    )


def _zone(phone: str) -> tzinfo:
    """Return the contact's time zone, or the one their number suggests for a new contact."""
    runtime = _runtime()
    contact = runtime.store.load_contact(phone)
    name = contact.timezone if contact else runtime.conversations.new_contact(phone).timezone
    return zone_named(name) or UTC


@blueprint.post("/events")
def post_event() -> tuple[Response, int]:
    """Start every journey that `event` triggers for the contact."""
    data = _json_object(EVENT_FIELDS)
    phone = _phone(data.get("phone"))
    event = data.get("event")
    if not isinstance(event, str) or not event.strip():
        raise BadRequest("'event' must be a non-empty string such as 'appointment_booked'")
    payload = _optional(data, "data", dict, "an object")
    _times_on_calendar(payload or {}, "data.")
    event = _known_event(event.strip())
    runtime = _runtime()
    problems = runtime.runner.data_problems(
        event, payload or {}, runtime.conversations.clock(), lambda: _zone(phone)
    )
    if problems:
        body = {
            "error": "; ".join(str(problem) for problem in problems),
            "problems": [{"field": p.field, "problem": p.problem} for p in problems],
        }
        return jsonify(body), 400
    outcome = runtime.conversations.trigger(phone, event, payload or {})
    return jsonify({"started": outcome.started, "skipped": outcome.skipped}), 202
