"""The conversations as a whole: staff response times, hand-offs, opt-outs, unclear replies.

From the same daily rollups as the journeys' figures (the conversation-wide ones are
kept under the journey ""; bot/record/facts.py). Opt-out rates are out of the messages
delivered, by journey and by ISO week; unclear replies are listed by journey step, the
most confusing first: a hint that a step's wording loses people.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from bot.analytics.figures import percentile, sums
from bot.record.facts import ALL, LAST_BIN, STAFF_BINS
from bot.record.schema import journey_counts

MIN_REPLIES = 1  # a step is listed once it has taken this many replies


def conversation_figures(engine: Engine, start: date, end: date) -> dict[str, Any]:
    """Return the conversations' figures from `start` to `end` (inclusive days)."""
    data = sums(engine, ALL, start, end)
    responses = data.get("staff_response", {})
    bins = data.get("staff_response_bin", {})
    opt_outs = data.get("opt_outs", {})
    delivered = data.get("delivered", {})
    handoffs = data.get("handoffs", {})
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "staff_response_s": {
            "count": sum(responses.values()),
            "p50": percentile(responses, 0.5),
            "p90": percentile(responses, 0.9),
            "bins": {label: bins.get(label, 0) for label, _ in (*STAFF_BINS, (LAST_BIN, 0))},
        },
        "handoffs": {
            "count": sum(handoffs.values()),
            "by_reason": dict(sorted(handoffs.items(), key=lambda pair: (-pair[1], pair[0]))),
        },
        "opt_outs": {
            "count": sum(opt_outs.values()),
            "delivered": sum(delivered.values()),
            "rate": _rate(sum(opt_outs.values()), sum(delivered.values())),
            "by_journey": [
                {
                    "journey": journey or None,
                    "opt_outs": opt_outs.get(journey, 0),
                    "delivered": delivered.get(journey, 0),
                    "rate": _rate(opt_outs.get(journey, 0), delivered.get(journey, 0)),
                }
                for journey in sorted(set(opt_outs) | set(delivered))
            ],
            "by_week": _weeks(engine, start, end),
        },
        "unclear_replies": _unclear(engine, start, end),
    }


def _weeks(engine: Engine, start: date, end: date) -> list[dict[str, Any]]:
    """Return opt-outs and deliveries for each ISO week the range touches."""
    query = (
        select(journey_counts.c.day, journey_counts.c.metric, func.sum(journey_counts.c.value))
        .where(journey_counts.c.journey == ALL)
        .where(journey_counts.c.day.between(start, end))
        .where(journey_counts.c.metric.in_(("opt_outs", "delivered")))
        .group_by(journey_counts.c.day, journey_counts.c.metric)
    )
    weeks: dict[date, dict[str, int]] = defaultdict(lambda: {"opt_outs": 0, "delivered": 0})
    with engine.connect() as connection:
        for day, metric, value in connection.execute(query):
            weeks[day - timedelta(days=day.weekday())][metric] += int(value or 0)
    monday = start - timedelta(days=start.weekday())
    out = []
    while monday <= end:
        counted = weeks.get(monday, {"opt_outs": 0, "delivered": 0})
        year, week, _ = monday.isocalendar()
        out.append(
            {
                "week": f"{year}-W{week:02d}",
                "from": monday.isoformat(),
                "opt_outs": counted["opt_outs"],
                "delivered": counted["delivered"],
                "rate": _rate(counted["opt_outs"], counted["delivered"]),
            }
        )
        monday += timedelta(days=7)
    return out


def _unclear(engine: Engine, start: date, end: date) -> list[dict[str, Any]]:
    """Return each journey step's replies and unclear replies, the highest rate first."""
    query = (
        select(
            journey_counts.c.journey,
            journey_counts.c.key,
            journey_counts.c.metric,
            func.sum(journey_counts.c.value),
        )
        .where(journey_counts.c.journey != ALL)
        .where(journey_counts.c.day.between(start, end))
        .where(journey_counts.c.metric.in_(("replies", "unclear")))
        .group_by(journey_counts.c.journey, journey_counts.c.key, journey_counts.c.metric)
    )
    steps: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"replies": 0, "unclear": 0})
    with engine.connect() as connection:
        for journey, step, metric, value in connection.execute(query):
            steps[journey, step][metric] += int(value or 0)
    rows = [
        {
            "journey": journey,
            "step": step,
            "replies": counted["replies"],
            "unclear": counted["unclear"],
            "rate": _rate(counted["unclear"], counted["replies"]),
        }
        for (journey, step), counted in steps.items()
        if counted["replies"] >= MIN_REPLIES
    ]
    return sorted(rows, key=lambda row: (-(row["rate"] or 0), row["journey"], row["step"]))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
