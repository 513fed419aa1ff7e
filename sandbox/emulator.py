"""A Twilio-compatible Messaging API emulator for tests, benchmarks and the local sandbox."""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import re
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from sandbox.emulator_callbacks import SERVICE_FROM, CallbackDispatcher
from sandbox.emulator_store import (
    API_VERSION,
    FAULT_MODES,
    Fault,
    FaultQueue,
    MessageStore,
    count_segments,
    rfc2822,
)

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "emulator-token"
EXTENSION = "parley_emulator"
BASE = f"/{API_VERSION}/Accounts/<account_sid>/Messages"

# Twilio's magic test numbers as 'To', mapped to the error real Twilio answers with.
_MAGIC_TO: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number {to} is not a valid phone number."),
    "+15005550002": (
        21612,
        "The 'To' phone number: {to}, is not currently reachable using the 'From' phone "
        "number: {from_} via SMS.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "To number: {to}, is not a mobile number"),
}
_FAULT_TEXT = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}
# Channel-prefixed addresses (whatsapp:+1...) are passed through untouched.
_PHONE = re.compile(r"^(?:[a-z]+:)?\+?[0-9][0-9 ().\-]{5,19}$")


def twilio_error(status: int, code: int, message: str, **extra: Any) -> Response:
    """Build an error response in Twilio's legacy JSON shape."""
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
        **extra,
    }
    response = jsonify(payload)
    response.status_code = status
    return response


def create_emulator(
    account_sid: str | None = None,
    auth_token: str | None = None,
    callback_delay: float | None = None,
) -> Flask:
    """Build the emulator app; unset arguments come from EMULATOR_* env vars, then defaults."""
    sid = account_sid or os.environ.get("EMULATOR_ACCOUNT_SID") or DEFAULT_ACCOUNT_SID
    token = auth_token or os.environ.get("EMULATOR_AUTH_TOKEN") or DEFAULT_AUTH_TOKEN
    if callback_delay is None:
        callback_delay = float(os.environ.get("EMULATOR_CALLBACK_DELAY", "0"))
    store, faults = MessageStore(), FaultQueue()
    dispatcher = CallbackDispatcher(store, token, callback_delay)

    app = Flask(__name__)
    app.config.update(EMULATOR_ACCOUNT_SID=sid, EMULATOR_AUTH_TOKEN=token)
    app.extensions[EXTENSION] = {"store": store, "faults": faults, "dispatcher": dispatcher}

    def authorize(path_sid: str) -> Response | None:
        auth = request.authorization
        ok = (
            auth is not None
            and hmac.compare_digest(auth.username or "", sid)
            and hmac.compare_digest(auth.password or "", token)
        )
        if not ok:
            response = twilio_error(
                401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect."
            )
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return response
        if path_sid != sid:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        return None

    @app.post(f"{BASE}.json")
    def create_message(account_sid: str) -> Response | tuple[dict[str, Any], int]:
        denied = authorize(account_sid)
        if denied is not None:
            return denied
        fault = faults.take()
        if fault is not None and fault.mode == "before":
            if fault.delay > 0:
                time.sleep(fault.delay)
            if fault.status is not None:
                code, text = _FAULT_TEXT.get(fault.status, (fault.status, "Injected fault"))
                return twilio_error(fault.status, fault.code or code, text)
            fault = None
        form = request.form
        to, from_ = form.get("To", "").strip(), form.get("From", "").strip() or None
        service = form.get("MessagingServiceSid", "").strip() or None
        body, media = form.get("Body", ""), form.getlist("MediaUrl")
        callback = form.get("StatusCallback", "").strip() or None
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not body and not media:
            return twilio_error(400, 21602, "Message body is required.")
        if from_ is None and service is None:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if to in _MAGIC_TO:
            code, text = _MAGIC_TO[to]
            return twilio_error(400, code, text.format(to=to, from_=from_ or SERVICE_FROM))
        if not _PHONE.match(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if len(body) > 1600:
            return twilio_error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if callback and not callback.startswith(("http://", "https://")):
            return twilio_error(400, 21609, "The StatusCallback URL is not a valid URL.")
        msid = "SM" + uuid.uuid4().hex
        uri = f"/{API_VERSION}/Accounts/{sid}/Messages/{msid}"
        now = rfc2822()
        resource = {
            "account_sid": sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,  # Twilio fills this in once the message leaves the queue
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": service,
            "num_media": str(len(media)),
            "num_segments": str(count_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": msid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }
        store.add(resource, callback)
        if fault is None:
            dispatcher.submit(msid)
            return resource, 201
        return _strike_after_create(fault, dispatcher, msid, resource)

    @app.get(f"{BASE}.json")
    def list_messages(account_sid: str) -> Response | dict[str, Any]:
        denied = authorize(account_sid)
        if denied is not None:
            return denied
        to, from_ = request.args.get("To"), request.args.get("From")
        try:
            page = max(int(request.args.get("Page", 0)), 0)
            size = min(max(int(request.args.get("PageSize", 50)), 1), 1000)
        except ValueError:
            return twilio_error(400, 20001, "Page and PageSize must be integers.")
        matches = store.query(to=to, from_=from_)
        start = page * size
        items = matches[start : start + size]

        def page_uri(number: int) -> str:
            query = {k: v for k, v in (("To", to), ("From", from_)) if v is not None}
            query.update(PageSize=str(size), Page=str(number))
            return f"/{API_VERSION}/Accounts/{sid}/Messages.json?{urlencode(query)}"

        return {
            "messages": items,
            "page": page,
            "page_size": size,
            "start": start,
            "end": start + max(len(items) - 1, 0),
            "uri": page_uri(page),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if start + size < len(matches) else None,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
        }

    @app.get(f"{BASE}/<msid>.json")
    def fetch_message(account_sid: str, msid: str) -> Response | dict[str, Any]:
        denied = authorize(account_sid)
        if denied is not None:
            return denied
        resource = store.get(msid)
        if resource is None:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        return resource

    @app.delete(f"{BASE}/<msid>.json")
    def delete_message(account_sid: str, msid: str) -> Response | tuple[str, int]:
        denied = authorize(account_sid)
        if denied is not None:
            return denied
        if not store.delete(msid):
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        return "", 204

    @app.get("/_emulator/messages")
    def emulator_messages() -> Response:
        return jsonify(store.snapshots())

    @app.delete("/_emulator/messages")
    def emulator_reset() -> tuple[str, int]:
        store.clear()
        faults.clear()
        return "", 204

    @app.post("/_emulator/faults")
    def emulator_faults() -> Response | tuple[dict[str, Any], int]:
        spec = request.get_json(silent=True)
        try:
            fault = parse_fault(spec)
        except (TypeError, ValueError) as exc:
            return twilio_error(400, 20001, f"Invalid fault: {exc}")
        faults.add(fault)
        return {
            "status": fault.status,
            "code": fault.code,
            "delay": fault.delay,
            "mode": fault.mode,
            "count": fault.remaining,
        }, 201

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        # Unknown routes and methods answer in Twilio's JSON shape so the SDK can parse them.
        status = exc.code or 500
        return twilio_error(status, 20000 + status, exc.description or exc.name)

    return app


def _strike_after_create(
    fault: Fault, dispatcher: CallbackDispatcher, msid: str, resource: dict[str, Any]
) -> Response | tuple[dict[str, Any], int]:
    """Answer a create call that a late, drop or callback_first fault strikes."""
    if fault.mode == "callback_first":
        dispatcher.deliver_now(msid)
    else:
        dispatcher.submit(msid)
    if fault.delay > 0:
        time.sleep(fault.delay)
    if fault.mode == "drop":
        # Twilio has the message, but the answer never reaches the client.
        connection = request.environ.get("werkzeug.socket")
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        return Response("", status=500)
    return resource, 201


def parse_fault(spec: Any) -> Fault:
    """Return the fault a JSON spec describes; TypeError or ValueError say what is wrong."""
    if not isinstance(spec, dict):
        raise TypeError("expected a JSON object")
    status = spec.get("status")
    delay = float(spec.get("delay") or 0)
    count = int(spec.get("count", 1))
    code = spec.get("code")
    mode = spec.get("mode") or "before"
    if mode not in FAULT_MODES:
        raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
    if mode != "before" and status is not None:
        raise ValueError(f"a {mode} fault creates the message: it takes no status")
    if mode == "before" and status is None and delay <= 0:
        raise ValueError("give a status or a positive delay")
    if status is not None and not 400 <= int(status) <= 599:
        raise ValueError("status must be an HTTP error status")
    if count < 1:
        raise ValueError("count must be at least 1")
    return Fault(
        status=int(status) if status is not None else None,
        code=int(code) if code is not None else None,
        delay=delay,
        remaining=count,
        mode=mode,
    )


def serve(host: str, port: int, account_sid: str, auth_token: str) -> None:
    """Serve the emulator in the foreground until interrupted."""
    app = create_emulator(account_sid, auth_token)
    server = make_server(host, port, app, threaded=True)
    log.info("Twilio emulator listening on http://%s:%s (account %s)", host, port, account_sid)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions[EXTENSION]["dispatcher"].stop()
