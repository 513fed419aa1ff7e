"""Twilio's webhooks: inbound SMS and delivery status callbacks."""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, abort, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from bot.conversation.runner import Inbound
from bot.domain import phones
from bot.domain.messages import RANK, message_ref, parse_ref
from bot.runtime import Runtime
from webhooks.signature import is_signed

log = logging.getLogger(__name__)

blueprint = Blueprint("twilio", __name__, url_prefix="/webhooks/twilio")

MAX_BODY = 1600  # the longest message Twilio delivers
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNSUBSCRIBED_ERRORS = {"21610"}
# Twilio's error codes have five digits. str.isdigit() passes superscripts and int()
# reads Arabic-Indic digits or refuses over 4,300 of them: match the form, then read it.
MAX_ERROR_DIGITS = 9
_ERROR_CODE = re.compile(rf"[0-9]{{1,{MAX_ERROR_DIGITS}}}")


def _runtime() -> Runtime:
    return current_app.extensions["parley"]


# Replies go out through the outbox, so every answer is the same empty TwiML document.
EMPTY_TWIML = str(MessagingResponse())


def _twiml() -> Response:
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")


def _bad(reason: str, status: int = 400) -> Response:
    log.info("rejected webhook: %s", reason)
    return Response(reason + "\n", status=status, mimetype="text/plain")


@blueprint.before_request
def check_signature() -> None:
    """Refuse anything Twilio did not sign."""
    if not is_signed(request, _runtime().settings):
        abort(403, "invalid or missing X-Twilio-Signature")


@blueprint.post("/sms")
def sms() -> Response:
    """Take an inbound SMS: de-duplicate it, record it, and let the bot answer."""
    runtime = _runtime()
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid")
    sender = form.get("From")
    if not sender:
        return _bad("missing From")
    if not sid:
        return _bad("missing MessageSid")
    try:
        phone = phones.normalize(sender, runtime.settings.default_region, strict=False)
    except phones.InvalidPhone as exc:
        return _bad(str(exc))
    body = _CONTROL.sub("", form.get("Body", ""))[:MAX_BODY]
    inbound = Inbound(sid=sid, phone=phone, body=body, opt_out_type=form.get("OptOutType") or None)
    runtime.conversations.receive(inbound)
    return _twiml()


@blueprint.post("/status")
def status() -> Response:
    """Apply a delivery status callback; statuses never move backwards."""
    runtime = _runtime()
    sid = request.form.get("MessageSid") or request.form.get("SmsSid")
    state = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").lower()
    if not sid or not state:
        return _bad("missing MessageSid or MessageStatus")
    error = request.form.get("ErrorCode") or None
    if error is not None and not _ERROR_CODE.fullmatch(error):
        return _bad(f"ErrorCode must be a number of at most {MAX_ERROR_DIGITS} ASCII digits")
    error_code = int(error) if error else None
    result = runtime.store.advance_status(sid, state, error_code)
    ref = _named_message(runtime, request.args.get("message"), request.form.get("To"))
    # The sender never heard Twilio's answer, but the callback's URL names the message.
    if (
        result is None
        and ref
        and state in RANK
        and runtime.store.accept(ref, sid, state, error_code) is not None
    ):
        result = runtime.store.advance_status(sid, state, error_code)
    if result and error in _UNSUBSCRIBED_ERRORS:
        said = f"status callback: {state} with error {error} for {sid}"
        runtime.conversations.mark_unsubscribed(result[1], f"twilio:{error}", said)
    return Response("", status=204)


def _named_message(runtime: Runtime, named: str | None, to: str | None) -> str | None:
    """Return the ref of the message a callback's URL names, if it names one.

    URLs given to Twilio before messages were named by ref hold the bare id: the
    recipient, which Twilio posts as `To`, completes it.
    """
    if not named:
        return None
    try:
        parse_ref(named)
        return named
    except ValueError:
        pass
    try:
        phone = phones.normalize(to or "", runtime.settings.default_region, strict=False)
    except phones.InvalidPhone:
        return None
    return message_ref(phone, named)
