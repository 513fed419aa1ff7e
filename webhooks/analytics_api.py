"""The analytics API: a journey's funnel, messages, conversions and splits for a range.

`GET /api/analytics/journeys/<id>?from=YYYY-MM-DD&to=YYYY-MM-DD` (days in the business's
time zone, both included; the last 30 days by default), and the conversations' figures
at `GET /api/analytics/conversations` for the same ranges. Routes sit on the API's
blueprint, so they take its bearer token and answer errors its way.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from flask import Response, jsonify, request

from bot.analytics import conversations, figures
from bot.analytics.ranges import BadRange, date_range
from webhooks.api import BadRequest, NotFound, _runtime, blueprint


@blueprint.get("/analytics/conversations")
def conversation_analytics() -> Response:
    """Return the conversations' figures for the range asked for: staff response times,
    hand-offs by reason, opt-out rates by journey and week, unclear replies by step."""
    runtime = _runtime()
    start, end = _range()
    return jsonify(conversations.conversation_figures(runtime.record, start, end))


def _range() -> tuple[date, date]:
    runtime = _runtime()
    today = runtime.clock().astimezone(ZoneInfo(runtime.settings.default_timezone)).date()
    try:
        return date_range(request.args.get("from"), request.args.get("to"), today)
    except BadRange as exc:
        raise BadRequest(str(exc)) from None


@blueprint.get("/analytics/journeys/<journey_id>")
def journey_analytics(journey_id: str) -> Response:
    """Return a journey's figures for the range asked for."""
    runtime = _runtime()
    journey = runtime.journeys.get(journey_id)
    if journey is None and journey_id not in figures.journeys_with_figures(runtime.record):
        raise NotFound(f"no journey {journey_id[:100]!r}")
    start, end = _range()
    return jsonify(figures.report(runtime.record, journey_id, journey, start, end))
