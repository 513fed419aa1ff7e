"""A journey's figures for a date range, summed from the daily rollups.

One query reads the rollups of the range (a day's rows per journey, whatever the
number of runs); the rest is arithmetic. The shape is DESIGN.md's contract, with more:
each step also has its messages, replies and unclear replies, `paths` counts the runs
that moved along each edge, `conversions` is broken down by kind, and `split_tests`
says whether each split has a winner.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from bot.analytics.splits import split_test
from bot.record.facts import ALL, AMOUNT_SCALE
from bot.record.schema import journey_counts
from flows.model import Journey

Sums = dict[str, dict[str, int]]  # metric -> key -> value


def sums(engine: Engine, journey: str, start: date, end: date) -> Sums:
    """Return the journey's rollups summed over the days from `start` to `end`, inclusive."""
    query = (
        select(journey_counts.c.metric, journey_counts.c.key, func.sum(journey_counts.c.value))
        .where(journey_counts.c.journey == journey)
        .where(journey_counts.c.day.between(start, end))
        .group_by(journey_counts.c.metric, journey_counts.c.key)
    )
    out: Sums = defaultdict(dict)
    with engine.connect() as connection:
        for metric, key, value in connection.execute(query):
            out[metric][key] = int(value or 0)
    return out


def series(
    engine: Engine, journey: str, start: date, end: date, metrics: Sequence[str]
) -> list[dict[str, Any]]:
    """Return each day of the range with the day's total of each metric (all keys summed)."""
    query = (
        select(journey_counts.c.day, journey_counts.c.metric, func.sum(journey_counts.c.value))
        .where(journey_counts.c.journey == journey)
        .where(journey_counts.c.day.between(start, end))
        .where(journey_counts.c.metric.in_(list(metrics)))
        .group_by(journey_counts.c.day, journey_counts.c.metric)
    )
    days: dict[date, dict[str, int]] = {}
    with engine.connect() as connection:
        for day, metric, value in connection.execute(query):
            days.setdefault(day, {})[metric] = int(value or 0)
    out = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        counted = days.get(day, {})
        out.append({"day": day.isoformat(), **{m: counted.get(m, 0) for m in metrics}})
    return out


def journey_figures(
    engine: Engine,
    journey: str,
    start: date,
    end: date,
    steps: Sequence[str] = (),
    splits: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Return the journey's figures from `start` to `end` (inclusive days).

    `steps` lists the journey's steps in order (each is shown, reached or not); `splits`
    names each split step's arms. Steps and arms only the rollups know follow.
    """
    data = sums(engine, journey, start, end)
    sent, delivered = _total(data, "sent"), _total(data, "delivered")
    clicked = _total(data, "clicked")
    ratings = _total(data, "rating_count")
    event_conversions = _total(data, "conversions")
    goal_conversions = _total(data, "goal_runs")
    return {
        "journey": journey,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "entered": _total(data, "entered"),
        "completed": _total(data, "completed"),
        "steps": _steps(data, steps),
        "paths": [
            {"from": edge.partition(">")[0], "to": edge.partition(">")[2], "runs": runs}
            for edge, runs in sorted(data.get("path", {}).items())
        ],
        "goals": dict(sorted(data.get("goal", {}).items())),
        "messages": {
            "sent": sent,
            "delivered": delivered,
            "failed": _total(data, "failed"),
            "clicked": clicked,
            "suppressed": _total(data, "suppressed"),
            "delivery_rate": _rate(delivered, sent),
            "click_rate": _rate(clicked, delivered),
        },
        "conversions": event_conversions + goal_conversions,
        "conversions_by": {"events": event_conversions, "goals": goal_conversions},
        "revenue": {
            currency: round(value / AMOUNT_SCALE, 4)
            for currency, value in sorted(data.get("revenue", {}).items())
        },
        "opt_outs": _total(data, "opt_outs"),
        "response_time_s": {
            "p50": percentile(data.get("response", {}), 0.5),
            "p90": percentile(data.get("response", {}), 0.9),
            "count": _total(data, "response"),
        },
        "ratings": {
            "count": ratings,
            "mean": _rate(_total(data, "rating_sum"), ratings, 2),
            "csat": _rate(_total(data, "rating_good"), ratings),
        },
        "replies": {
            "count": _total(data, "replies"),
            "unclear": _total(data, "unclear"),
            "unclear_rate": _rate(_total(data, "unclear"), _total(data, "replies")),
        },
        **_splits(data, splits or {}),
    }


def report(
    engine: Engine, journey_id: str, journey: Journey | None, start: date, end: date
) -> dict[str, Any]:
    """Return journey_figures for a journey as its file has it (steps in order, split arms)."""
    if journey is None:
        return journey_figures(engine, journey_id, start, end)
    steps = [step.id for step in journey.steps]
    splits = {step.id: list(step.split) for step in journey.steps if step.split}
    return journey_figures(engine, journey_id, start, end, steps, splits)


def percentile(histogram: Mapping[str, int], share: float) -> float | None:
    """Return the value below which `share` of the histogram's counts fall (nearest rank)."""
    pairs = sorted((float(value), count) for value, count in histogram.items() if count > 0)
    total = sum(count for _, count in pairs)
    if not total:
        return None
    rank = max(1, math.ceil(share * total))
    seen = 0
    for value, count in pairs:
        seen += count
        if seen >= rank:
            return value
    return pairs[-1][0]


def _steps(data: Sums, order: Sequence[str]) -> list[dict[str, Any]]:
    known = [*order, *sorted(_keys(data, "reached", "dropped_off", "sent") - set(order))]
    out = []
    for step in known:
        reached = data.get("reached", {}).get(step, 0)
        replies = data.get("replies", {}).get(step, 0)
        unclear = data.get("unclear", {}).get(step, 0)
        out.append(
            {
                "step": step,
                "reached": reached,
                "dropped_off": data.get("dropped_off", {}).get(step, 0),
                "sent": data.get("sent", {}).get(step, 0),
                "delivered": data.get("delivered", {}).get(step, 0),
                "clicked": data.get("clicked", {}).get(step, 0),
                "replies": replies,
                "unclear": unclear,
                "unclear_rate": _rate(unclear, replies),
                "opt_outs": data.get("opt_outs", {}).get(step, 0),
            }
        )
    return out


def _splits(data: Sums, arms_of: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    entered: dict[str, dict[str, int]] = defaultdict(dict)
    for key, value in data.get("split", {}).items():
        step, _, arm = key.partition("/")
        entered[step][arm] = value
    for step, names in arms_of.items():
        for name in names:
            entered[step].setdefault(name, 0)
    reached = data.get("split_goal", {})
    splits: dict[str, Any] = {}
    tests: dict[str, Any] = {}
    for step in sorted(entered):
        arms = {
            arm: (n, reached.get(f"{step}/{arm}", 0)) for arm, n in sorted(entered[step].items())
        }
        splits[step] = {
            arm: {"entered": n, "goals": goals, "goal_rate": _rate(goals, n)}
            for arm, (n, goals) in arms.items()
        }
        tests[step] = split_test(arms)
    return {"splits": splits, "split_tests": tests}


def _keys(data: Sums, *metrics: str) -> set[str]:
    return {key for metric in metrics for key in data.get(metric, {})}


def _total(data: Sums, metric: str) -> int:
    return sum(data.get(metric, {}).values())


def _rate(part: int, whole: int, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def journeys_with_figures(engine: Engine) -> Iterable[str]:
    """Return the journeys the rollups hold figures for."""
    with engine.connect() as connection:
        query = select(journey_counts.c.journey).distinct().where(journey_counts.c.journey != ALL)
        return [row[0] for row in connection.execute(query)]
