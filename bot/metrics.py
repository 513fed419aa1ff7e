"""Parley's figures for Prometheus, read from Redis (and one count from the record) per scrape.

Web and worker processes run on many machines against one Redis, so counts kept in one
process's memory would show a sliver of the traffic. The figures live where the work is
done instead: the scripts that commit turns and move message statuses count in Redis, in
the same step as the change they count (bot/storage/lua), so each is counted once
whatever retries Twilio or the script runner make. A scrape reads them all in one
pipelined round trip plus one SQL count, and any web process answers for the whole
deployment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import CollectorRegistry
from prometheus_client.utils import floatToGoString
from sqlalchemy.exc import SQLAlchemyError

from bot.record.conversations import waiting_count
from bot.record.drain import LAG_REPLIES, Lag, ask_lag, read_lag
from bot.runtime import Runtime
from bot.storage import keys
from bot.storage.store import text

log = logging.getLogger(__name__)

PREFIX = "parley_"
# Counters turns keep in the stats hash under these names, shown even before they count.
EVENT_COUNTERS = {
    "opt_outs": "Contacts who opted out of every message (STOP, the carrier's 21610, ...).",
    "opt_ins": "Contacts who opted back in (START, UNSTOP, ...).",
    "marketing_opt_outs": "Contacts who left marketing messages alone.",
    "handoffs": "Conversations handed to staff (asked for, taken over or reopened).",
}
# Message counts shown even before they count, so that rates start from zero.
MESSAGE_STATUSES = [
    ("inbound", "received"),
    *(
        ("outbound", status)
        for status in (
            "pending",
            "deferred",
            "suppressed",
            "queued",
            "sent",
            "delivered",
            "undelivered",
            "failed",
        )
    ),
]


@dataclass
class Reading:
    """One scrape's figures, as Redis and the record gave them."""

    stats: dict[str, int]  # the stats hash (keys.STATS): what turns count
    outbound: dict[str, int]  # outbound messages by status, as the sending scripts count
    latency: dict[str, float]  # the send latency hash: per bucket bound, "sum", "count"
    clicks: dict[str, int]  # link clicks the recorder wrote: "true" counted, "false" not
    outbox_waiting: int
    outbox_in_flight: int
    timers_scheduled: int
    timers_due: int
    timers_in_flight: int
    oldest_due: float | None  # when the earliest timer is due (epoch seconds)
    jobs_queued: int
    lag: Lag
    now: float  # the worker's clock, by which timers fall due
    waiting_for_staff: int | None = None  # None: the record did not answer


def read(runtime: Runtime) -> Reading:
    """Read every figure: one pipelined round trip to Redis, then one count from the record."""
    now = runtime.clock().timestamp()
    pipe = runtime.redis.pipeline(transaction=False)
    pipe.hgetall(keys.STATS)
    pipe.hgetall(keys.OUTBOUND_COUNTS)
    pipe.hgetall(keys.SEND_LATENCY)
    pipe.hgetall(keys.LINK_CLICKS)
    pipe.llen(keys.OUTBOX)
    pipe.zcard(keys.OUTBOX_INFLIGHT)
    pipe.zcard(keys.TIMERS)
    pipe.zcount(keys.TIMERS, "-inf", repr(now))
    pipe.zrange(keys.TIMERS, 0, 0, withscores=True)
    pipe.zcard(keys.TIMERS_INFLIGHT)
    pipe.llen(runtime.queue.key)
    ask_lag(pipe, keys.RECORD)
    reply: list[Any] = pipe.execute()
    stats, outbound, latency, clicks, *sizes, earliest, in_flight, jobs = reply[:-LAG_REPLIES]
    reading = Reading(
        stats=_numbers(stats, int),
        outbound=_numbers(outbound, int),
        latency=_numbers(latency, float),
        clicks=_numbers(clicks, int),
        outbox_waiting=int(sizes[0]),
        outbox_in_flight=int(sizes[1]),
        timers_scheduled=int(sizes[2]),
        timers_due=int(sizes[3]),
        timers_in_flight=int(in_flight),
        oldest_due=float(earliest[0][1]) if earliest else None,
        jobs_queued=int(jobs),
        lag=read_lag(reply[-LAG_REPLIES:]),
        now=now,
    )
    try:
        reading.waiting_for_staff = waiting_count(runtime.record)
    except SQLAlchemyError as exc:
        # Redis' figures are still worth having; the gauge is left out until it answers.
        log.warning("metrics: the record did not answer: %s", exc)
    return reading


def _numbers(raw: dict[Any, Any], kind: type[int] | type[float]) -> dict[str, Any]:
    return {text(name): kind(text(value)) for name, value in raw.items()}


class ParleyCollector:
    """A prometheus_client collector that reads Parley's figures whenever it is scraped."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        """Read the figures and return them as metric families."""
        return families(read(self.runtime))


def registry(runtime: Runtime) -> CollectorRegistry:
    """Return a registry of its own holding Parley's collector (not the process's default)."""
    found = CollectorRegistry(auto_describe=False)
    found.register(ParleyCollector(runtime))
    return found


def families(reading: Reading) -> Iterator[Metric]:
    """Return what `reading` says as Prometheus metric families."""
    yield from _counters(reading)
    yield _latency(reading.latency)
    yield from _gauges(reading)


def _counters(reading: Reading) -> Iterator[Metric]:
    messages = CounterMetricFamily(
        PREFIX + "messages",
        "Messages by direction and the status they reached; each counts once per status.",
        labels=["direction", "status"],
    )
    counted = dict.fromkeys(MESSAGE_STATUSES, 0)
    runs: dict[tuple[str, str], int] = {}
    goals: dict[tuple[str, str], int] = {}
    splits: dict[tuple[str, str, str], int] = {}
    for name, value in reading.stats.items():
        kind, _, rest = name.partition(":")
        if kind == "messages":
            direction, _, status = rest.partition(":")
            counted[direction, status] = counted.get((direction, status), 0) + value
        elif kind == "journey" and ":" in rest:
            journey, status = rest.rsplit(":", 1)
            runs[journey, status] = value
        elif kind == "goal" and ":" in rest:
            journey, goal = rest.rsplit(":", 1)
            goals[journey, goal] = value
        elif kind == "split" and rest.count(":") >= 2:
            journey, step, variant = rest.rsplit(":", 2)
            splits[journey, step, variant] = value
    for status, value in reading.outbound.items():
        counted["outbound", status] = counted.get(("outbound", status), 0) + value
    for (direction, status), value in sorted(counted.items()):
        messages.add_metric([direction, status], value)
    yield messages
    for name, help_text in EVENT_COUNTERS.items():
        yield CounterMetricFamily(PREFIX + name, help_text, value=reading.stats.get(name, 0))
    yield _labelled(
        "journey_runs",
        "Journey runs started, and ended by how they ended.",
        ["journey", "status"],
        runs,
    )
    yield _labelled("journey_goals", "Goals reached, by journey.", ["journey", "goal"], goals)
    yield _labelled(
        "journey_splits",
        "Runs sent down each branch of a split step.",
        ["journey", "step", "variant"],
        splits,
    )
    clicks = {(flag,): reading.clicks.get(flag, 0) for flag in ("true", "false")}
    yield _labelled(
        "link_clicks",
        "Clicks on tracked links, as the record wrote them: counted, or a preview bot's,"
        " a scanner's or within a second of delivery (not counted).",
        ["counted"],
        clicks,
    )


def _labelled(
    name: str, help_text: str, labels: list[str], values: dict[Any, int]
) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + name, help_text, labels=labels)
    for label_values, value in sorted(values.items()):
        family.add_metric(list(label_values), value)
    return family


def _latency(latency: dict[str, float]) -> HistogramMetricFamily:
    """Return the send latency histogram: each bucket counts the sends at or under its bound."""
    buckets, below = [], 0.0
    for bound in keys.SEND_LATENCY_BOUNDS:
        below += latency.get(bound, 0.0)
        buckets.append((floatToGoString(float(bound)), below))
    buckets.append(("+Inf", latency.get("count", 0.0)))
    return HistogramMetricFamily(
        PREFIX + "send_latency_seconds",
        "Seconds from a sender claiming a message to Twilio accepting it.",
        buckets=buckets,
        sum_value=latency.get("sum", 0.0),
    )


def _gauges(reading: Reading) -> Iterator[Metric]:
    outbox = GaugeMetricFamily(
        PREFIX + "outbox_messages",
        "Messages waiting in the outbox, and taken by a sender but not yet done.",
        labels=["state"],
    )
    outbox.add_metric(["waiting"], reading.outbox_waiting)
    outbox.add_metric(["in_flight"], reading.outbox_in_flight)
    yield outbox
    yield GaugeMetricFamily(
        PREFIX + "timers_scheduled", "Timers set and not yet fired.", value=reading.timers_scheduled
    )
    yield GaugeMetricFamily(
        PREFIX + "timers_due", "Timers due by now but not yet fired.", value=reading.timers_due
    )
    yield GaugeMetricFamily(
        PREFIX + "timers_in_flight",
        "Timers a worker has fired and not yet finished.",
        value=reading.timers_in_flight,
    )
    late = 0.0
    if reading.oldest_due is not None:
        late = max(0.0, reading.now - reading.oldest_due)
    yield GaugeMetricFamily(
        PREFIX + "timer_lateness_seconds",
        "How long the earliest timer has been due without firing (0 when none is due).",
        value=late,
    )
    yield GaugeMetricFamily(
        PREFIX + "jobs_queued", "Worker jobs waiting in the queue.", value=reading.jobs_queued
    )
    yield GaugeMetricFamily(
        PREFIX + "record_lag_entries",
        "Record stream entries the recorder has yet to write into the record.",
        value=reading.lag.entries,
    )
    yield GaugeMetricFamily(
        PREFIX + "record_lag_seconds",
        "Age of the oldest entry the recorder has yet to write (0 when none wait).",
        value=reading.lag.seconds,
    )
    yield GaugeMetricFamily(
        PREFIX + "record_dead_entries",
        "Record stream entries the record refused, set aside for a person to look at.",
        value=reading.lag.dead,
    )
    if reading.waiting_for_staff is not None:
        yield GaugeMetricFamily(
            PREFIX + "handoffs_waiting",
            "Conversations waiting for staff, as the record has them.",
            value=reading.waiting_for_staff,
        )
