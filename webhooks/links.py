"""GET /l/<code>: a tracked short link leads on to its URL at once, and the click is kept.

The answer waits on nothing but one Redis script call, which finds the link and appends
the click to the record stream (the recorder writes it into `link_clicks`, deciding
there whether it counts) and, when some journey starts or waits on clicks, sets the
timer through which the worker lets it move them. A link Redis has let go is read from
the record; with Redis down, the record still leads people on (the click is then lost).
An unknown code is a short plain-text 404; nothing here answers 500.
"""

from __future__ import annotations

import logging
import uuid

import redis
from flask import Blueprint, Response, current_app, redirect, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response as BaseResponse

from bot.domain.link_bots import is_bot
from bot.domain.links import Link, is_code
from bot.record.links import find_link
from bot.runtime import Runtime
from bot.storage import clicks

log = logging.getLogger(__name__)

blueprint = Blueprint("links", __name__)

USER_AGENT_LIMIT = 1000  # characters of the User-Agent kept with a click
UNKNOWN = "This link is unknown or has expired.\n"
UNAVAILABLE = "This link cannot be followed right now; please try again in a minute.\n"


class RecordUnavailable(Exception):
    """The record did not answer."""


def _runtime() -> Runtime:
    return current_app.extensions["parley"]


@blueprint.get("/l/<path:code>")  # all under /l/ gets this answer, a bad code too
def follow(code: str) -> BaseResponse:
    """Answer 302 to the link's URL and record the click; 404 for an unknown code."""
    if not is_code(code):
        return _text(UNKNOWN, 404)
    runtime = _runtime()
    # A HEAD request is a program checking the link: led on, but no click.
    counting = request.method == "GET"
    user_agent = (request.headers.get("User-Agent") or "")[:USER_AGENT_LIMIT]
    click_id = uuid.uuid4().hex
    due = None
    if counting and runtime.runner.uses_clicks and not is_bot(user_agent):
        due = runtime.clock().timestamp()  # the worker handles it at its next tick
    try:
        if counting:
            link = clicks.click(runtime.store.scripts, code, click_id, user_agent, due)
        else:
            link = clicks.find(runtime.redis, code)
        if link is None:  # let go by Redis, or never made
            link = _from_record(runtime, code)
            if link is not None and counting:
                clicks.keep(runtime.redis, link, click_id, user_agent, due)
    except redis.exceptions.RedisError as exc:
        log.error("link %s: Redis unavailable, the click is not recorded: %s", code, exc)
        try:
            link = _from_record(runtime, code)
        except RecordUnavailable:
            return _text(UNAVAILABLE, 503)
    except RecordUnavailable:
        return _text(UNAVAILABLE, 503)
    if link is None:
        return _text(UNKNOWN, 404)
    response = redirect(link.url, 302)
    response.headers["Cache-Control"] = "private, no-store"  # every click comes to us
    response.headers["Referrer-Policy"] = "no-referrer"  # the code stays between us and them
    return response


def _from_record(runtime: Runtime, code: str) -> Link | None:
    try:
        return find_link(runtime.record, code)
    except SQLAlchemyError as exc:
        log.error("link %s: the record did not answer: %s", code, exc)
        raise RecordUnavailable from exc


def _text(body: str, status: int) -> Response:
    return Response(body, status, mimetype="text/plain")
