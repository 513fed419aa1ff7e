"""The analytics pages: a dashboard of every journey, and one journey's figures in full.

Figures come from bot.analytics, the same functions `GET /api/analytics/journeys/<id>`
answers with, for the same range (`from` and `to`, days in the business's time zone,
the last 30 days by default). Every table is a link away from its CSV
(`?format=csv&table=<key>`); the charts are inline SVG drawn by charts.py, and the
journey's diagram (flows/graph.py, with its counts) is an SVG of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot.analytics import conversations, figures
from bot.analytics.ranges import BadRange, date_range
from bot.runtime import Runtime
from flows import graph
from flows.model import Journey
from inbox import blueprint, charts
from inbox.auth import signed_in
from inbox.conversation_tables import conversation_tables
from inbox.tables import Table, cell, journey_tables, journeys_table, verdict

PRESETS = (7, 30, 90)  # the preset ranges offered: the last N days, today included
SERIES = ("sent", "delivered", "clicked", "conversions", "goal_runs")


def _runtime() -> Runtime:
    return current_app.extensions["parley"]


def _today() -> date:
    runtime = _runtime()
    return runtime.clock().astimezone(ZoneInfo(runtime.settings.default_timezone)).date()


def _presets(today: date, start: date | None, end: date | None) -> list[dict[str, Any]]:
    out = []
    for days in PRESETS:
        first = today - timedelta(days=days - 1)
        out.append(
            {
                "label": f"Last {days} days",
                "args": {"from": first.isoformat(), "to": today.isoformat()},
                "current": (start, end) == (first, today),
            }
        )
    return out


def _picker(start: date | None, end: date | None) -> dict[str, Any]:
    """What the range picker shows: the range asked for (as typed, if it was bad)."""
    return {
        "raw_from": request.args.get("from", start.isoformat() if start else ""),
        "raw_to": request.args.get("to", end.isoformat() if end else ""),
        "presets": _presets(_today(), start, end),
        "cell": cell,
        "here": _here,
    }


def _here(args: Mapping[str, str]) -> str:
    """Return this page's address with `args` as its query (a preset, a CSV)."""
    values: dict[str, Any] = {**(request.view_args or {}), **args}
    return url_for(request.endpoint or "inbox.analytics_dashboard", **values)


def _range() -> tuple[date, date]:
    return date_range(request.args.get("from"), request.args.get("to"), _today())


def _bad_range(template: str, problem: BadRange, **context: Any) -> ResponseReturnValue:
    message = f"That date range cannot be shown: {problem}."
    if request.args.get("format") == "csv":
        return Response(message + "\n", 400, mimetype="text/plain")
    page = render_template(template, error=message, **_picker(None, None), **context)
    return page, 400


def _days(journey_id: str, start: date, end: date) -> list[dict[str, Any]]:
    """Each day's sends, deliveries, clicks and conversions (business events and goals)."""
    rows = figures.series(_runtime().record, journey_id, start, end, SERIES)
    for row in rows:
        row["conversions"] += row.pop("goal_runs")
    return rows


def _csv(tables: list[Table], name: str, start: date, end: date) -> ResponseReturnValue:
    key = request.args.get("table", "")
    found = next((table for table in tables if table.key == key), None)
    if found is None:
        known = ", ".join(table.key for table in tables)
        message = f"No table {key[:40]!r} here; the tables are: {known}.\n"
        return Response(message, 404, mimetype="text/plain")
    filename = f"{_slug(name)}-{found.key}-{start.isoformat()}-to-{end.isoformat()}.csv"
    return Response(
        found.csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:80] or "journey"


def _journey_ids() -> list[str]:
    """Every journey: those loaded, then any only the rollups still have figures for."""
    runtime = _runtime()
    loaded = list(runtime.journeys)
    return loaded + sorted(set(figures.journeys_with_figures(runtime.record)) - set(loaded))


@blueprint.get("/analytics/")
@signed_in
def analytics_dashboard() -> ResponseReturnValue:
    """Show every journey's figures for the range, with its sends per day as a sparkline."""
    try:
        start, end = _range()
    except BadRange as exc:
        return _bad_range("inbox/analytics.html", exc, rows=[], table=None)
    runtime = _runtime()
    rows, sparks = [], {}
    for journey_id in _journey_ids():
        journey = runtime.journeys.get(journey_id)
        report = figures.report(runtime.record, journey_id, journey, start, end)
        rows.append((journey_id, journey.name if journey else journey_id, report))
        days = figures.series(runtime.record, journey_id, start, end, ["sent"])
        sparks[journey_id] = charts.sparkline(days, "sent", f"Messages sent by {journey_id}")
    rows.sort(key=lambda row: -row[2]["entered"])  # the busiest first; else as loaded
    table = journeys_table(rows)
    if request.args.get("format") == "csv":
        return _csv([table], "journeys", start, end)
    return render_template(
        "inbox/analytics.html",
        table=table,
        sparks=sparks,
        start=start,
        end=end,
        **_picker(start, end),
    )


@blueprint.get("/analytics/conversations")
@signed_in
def conversations_analytics() -> ResponseReturnValue:
    """Show the conversations' figures: staff response times, hand-offs, opt-outs, unclear."""
    try:
        start, end = _range()
    except BadRange as exc:
        return _bad_range("inbox/analytics_conversations.html", exc, tables=None)
    found = conversations.conversation_figures(_runtime().record, start, end)
    tables = conversation_tables(found)
    if request.args.get("format") == "csv":
        return _csv(tables, "conversations", start, end)
    return render_template(
        "inbox/analytics_conversations.html",
        tables={table.key: table for table in tables},
        start=start,
        end=end,
        **_picker(start, end),
    )


def _known(journey_id: str) -> bool:
    """Say whether a journey is loaded, or at least has figures in the rollups."""
    runtime = _runtime()
    return journey_id in runtime.journeys or journey_id in figures.journeys_with_figures(
        runtime.record
    )


def _missing(journey_id: str) -> ResponseReturnValue:
    return render_template("inbox/analytics_missing.html", journey_id=journey_id), 404


@blueprint.get("/analytics/journeys/<journey_id>")
@signed_in
def journey_analytics(journey_id: str) -> ResponseReturnValue:
    """Show one journey's figures: diagram, funnel, days, splits and every table."""
    if not _known(journey_id):
        return _missing(journey_id)
    journey = _runtime().journeys.get(journey_id)
    name = journey.name if journey else journey_id
    try:
        start, end = _range()
    except BadRange as exc:
        return _bad_range("inbox/analytics_journey.html", exc, journey_id=journey_id, name=name)
    report = figures.report(_runtime().record, journey_id, journey, start, end)
    days = _days(journey_id, start, end)
    tables = journey_tables(report, days)
    if request.args.get("format") == "csv":
        return _csv(tables, journey_id, start, end)
    return render_template(
        "inbox/analytics_journey.html",
        journey_id=journey_id,
        name=name,
        has_diagram=journey is not None,
        report=report,
        tables={table.key: table for table in tables},
        funnel=charts.funnel(report["entered"], report["steps"]),
        series=charts.time_series(days),
        verdicts={
            step: verdict(test, report["splits"].get(step, {}))
            for step, test in report["split_tests"].items()
        },
        start=start,
        end=end,
        **_picker(start, end),
    )


@blueprint.get("/analytics/journeys/<journey_id>/diagram.svg")
@signed_in
def journey_diagram(journey_id: str) -> ResponseReturnValue:
    """Draw the journey with each step's runs reached and dropped off, each edge's runs."""
    journey = _runtime().journeys.get(journey_id)
    if journey is None:
        return Response(f"No journey {journey_id[:100]!r} is loaded.\n", 404, mimetype="text/plain")
    try:
        start, end = _range()
    except BadRange as exc:
        return Response(f"That date range cannot be shown: {exc}.\n", 400, mimetype="text/plain")
    report = figures.report(_runtime().record, journey_id, journey, start, end)
    nodes, links = diagram_notes(journey, report)
    return Response(graph.svg(journey, nodes, links), mimetype="image/svg+xml")


def diagram_notes(
    journey: Journey, report: Mapping[str, Any]
) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Return the notes the diagram carries: runs on every box, runs on every arrow."""
    steps = {s["step"]: s for s in report["steps"]}
    nodes = {graph.BEGIN: f"{report['entered']:,} entered"}
    links = {(graph.BEGIN, journey.first.id): f"{report['entered']:,} runs"}
    for step, s in steps.items():
        share = f" ({s['dropped_off'] / s['reached']:.0%})" if s["reached"] else ""
        nodes[step] = f"{s['reached']:,} reached · {s['dropped_off']:,} dropped off{share}"
        # The runs that ended at the step without a goal leave by its end marker.
        if s["dropped_off"]:
            for end in (f"end:{step}", f"expired:{step}"):
                links[(step, end)] = f"{s['dropped_off']:,} dropped off"
    for p in report["paths"]:
        reached = steps.get(p["from"], {}).get("reached", 0)
        share = f" ({p['runs'] / reached:.0%})" if reached else ""
        links[(p["from"], p["to"])] = f"{p['runs']:,} runs{share}"
    return nodes, links
