"""The analytics API: a journey's funnel, messages, conversions and splits for a range.

`GET /api/analytics/journeys/<id>?from=YYYY-MM-DD&to=YYYY-MM-DD` (days in the business's
time zone, both included; the last 30 days by default). Routes sit on the API's
blueprint, so they take its bearer token and answer errors its way.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Response, jsonify, request

from bot.analytics import figures
from bot.analytics.ranges import BadRange, date_range
from webhooks.api import BadRequest, NotFound, _runtime, blueprint


@blueprint.get("/analytics/journeys/<journey_id>")
def journey_analytics(journey_id: str) -> Response:
    """Return a journey's figures for the range asked for."""
    runtime = _runtime()
    journey = runtime.journeys.get(journey_id)
    if journey is None and journey_id not in figures.journeys_with_figures(runtime.record):
        raise NotFound(f"no journey {journey_id[:100]!r}")
    today = runtime.clock().astimezone(ZoneInfo(runtime.settings.default_timezone)).date()
    try:
        start, end = date_range(request.args.get("from"), request.args.get("to"), today)
    except BadRange as exc:
        raise BadRequest(str(exc)) from None
    return jsonify(figures.report(runtime.record, journey_id, journey, start, end))
