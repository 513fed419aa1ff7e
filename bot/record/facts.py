"""What each record row adds to its journey's figures: the rollups' one definition.

A row's facts are a function of the row alone, so the writer can keep the rollups as
rows change (add the facts of the row as it is now, take away those of the row as it
was: a replay adds nothing) and `rollups.rebuild` can sum them from scratch, and both
agree. Each fact is counted on a day in the business's time zone:

- a run: `entered` on the day it started; `reached` each step, once, on the day it
  first got there, and `path` each move from one step to the next ("ask>happy"), once;
  `goal` each goal, once, on the day, and `goal_runs` on the first goal's day (a goal
  is a conversion of its journey); `completed` or, ended without a goal, `dropped_off`
  at its last step, on the day it ended; `split` and `split_goal` for each split arm it
  took, on the day it started;
- a journey message, on the day it left (else was made): `sent` once Twilio took it,
  `delivered`, `failed` (failed or undelivered), `clicked` once a counted click came,
  `suppressed`, by step;
- a reply a journey's wait took (`message_received` naming its run): `replies` and,
  when it moved nothing, `unclear`, by step; its response time in `response`; a rating's
  `rating_count`, `rating_sum` and `rating_good` (4 or 5);
- an opt-out (`opted_out`) credited to the journey of the last message the contact got;
- a conversion: `conversions` by step and `revenue` by currency, in ten-thousandths.

The conversations as a whole are kept under the journey "": every message `delivered`
and every `opt_outs`, each by journey ("" for none), `handoffs` by reason, and each
staff reply to a waiting contact as `staff_response` (its seconds) and
`staff_response_bin` (Chatwoot's 0-1h, 1-4h, 4-8h, 8-24h, 24h+).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from bot.record.times import utc

Fact = tuple[str, date, str, str]  # journey, day, metric, key
Facts = Counter[Fact]

AMOUNT_SCALE = 10_000  # revenue is kept in ten-thousandths of its currency unit
GOOD_RATING = 4  # csat counts ratings of 4 and 5
SENT = frozenset(("queued", "sending", "sent", "delivered", "undelivered", "read"))
DELIVERED = frozenset(("delivered", "read"))
FAILED = frozenset(("failed", "undelivered"))
CLOSED = frozenset(("completed", "expired", "interrupted"))

# The record's event types that carry figures.
FACT_EVENTS = frozenset(("message_received", "opted_out", "handoff_started", "staff_replied"))
# Where figures of the conversations as a whole are kept, beside each journey's.
ALL = ""
# Staff response times as Chatwoot bins them: (label, up to seconds).
STAFF_BINS = (("0-1h", 3600), ("1-4h", 4 * 3600), ("4-8h", 8 * 3600), ("8-24h", 86400))
LAST_BIN = "24h+"


def run_facts(row: Mapping[str, Any] | None, zone: tzinfo) -> Facts:
    """Return what a journey_runs row counts."""
    facts: Facts = Counter()
    if row is None:
        return facts
    journey = row["journey"]
    started = _day(row["started_at"], zone)
    facts[journey, started, "entered", ""] += 1
    first: dict[str, date] = {}
    edges: dict[str, date] = {}
    previous = None
    for step, where in row.get("steps") or ():
        day = _stream_day(where, zone) or started
        first.setdefault(step, day)
        if previous is not None and previous != step:
            edges.setdefault(f"{previous}>{step}", day)
        previous = step
    for step, day in first.items():
        facts[journey, day, "reached", step] += 1
    for edge, day in edges.items():
        facts[journey, day, "path", edge] += 1
    goals = [(goal, at) for goal, at in row.get("goals") or ()]
    for goal, at in dict(reversed(goals)).items():
        facts[journey, _day(at, zone), "goal", goal] += 1
    if goals:  # a run that reached a goal is one of its journey's conversions
        facts[journey, min(_day(at, zone) for _, at in goals), "goal_runs", ""] += 1
    for step, arm in (row.get("splits") or {}).items():
        facts[journey, started, "split", f"{step}/{arm}"] += 1
        if goals:
            facts[journey, started, "split_goal", f"{step}/{arm}"] += 1
    if row["status"] in CLOSED:
        ended = _day(row.get("ended_at"), zone) or started
        if row["status"] == "completed":
            facts[journey, ended, "completed", ""] += 1
        if not goals:
            facts[journey, ended, "dropped_off", row.get("step") or ""] += 1
    return facts


def message_facts(row: Mapping[str, Any] | None, zone: tzinfo) -> Facts:
    """Return what a messages row counts: only a journey's outbound messages count."""
    facts: Facts = Counter()
    if row is None or row.get("direction") != "outbound":
        return facts
    history = row.get("status_history") or ()
    statuses = {status for status, _ in history} | {row["status"]}
    left = min((_moment(at) for status, at in history if status in SENT), key=_order, default=None)
    day = _day(left or row["created_at"], zone)
    if statuses & DELIVERED:  # every message delivered: what an opt-out rate is out of
        facts[ALL, day, "delivered", row.get("journey") or ""] += 1
    if not row.get("journey"):
        return facts
    key = (row["journey"], day)
    step = row.get("step") or ""
    if statuses & SENT or row.get("sid"):
        facts[(*key, "sent", step)] += 1
    if statuses & DELIVERED:
        facts[(*key, "delivered", step)] += 1
    if row["status"] in FAILED:
        facts[(*key, "failed", step)] += 1
    if row["status"] == "suppressed":
        facts[(*key, "suppressed", step)] += 1
    if row.get("clicked_at"):
        facts[(*key, "clicked", step)] += 1
    return facts


def event_facts(row: Mapping[str, Any], zone: tzinfo) -> Facts:
    """Return what a conversation_events row counts: a reply a journey took, an opt-out,
    a hand-off, a staff reply to a waiting contact."""
    facts: Facts = Counter()
    if row["type"] not in FACT_EVENTS:
        return facts
    journey = row.get("journey")
    data = row.get("data") or {}
    day = _day(row["at"], zone)
    step = str(data.get("step") or "")
    if row["type"] == "handoff_started":
        facts[ALL, day, "handoffs", str(data.get("reason") or "")] += 1
        return facts
    if row["type"] == "staff_replied":
        waited = data.get("waited_s")
        if isinstance(waited, int | float) and waited >= 0:
            facts[ALL, day, "staff_response", str(response_bucket(waited))] += 1
            facts[ALL, day, "staff_response_bin", staff_bin(waited)] += 1
        return facts
    if row["type"] == "opted_out":
        facts[ALL, day, "opt_outs", journey or ""] += 1
        if journey:
            facts[journey, day, "opt_outs", step] += 1
        return facts
    if not journey:
        return facts
    if not row.get("run_id"):
        return facts
    facts[journey, day, "replies", step] += 1
    if data.get("unclear"):
        facts[journey, day, "unclear", step] += 1
    waited = data.get("waited_s")
    if isinstance(waited, int | float) and waited >= 0:
        facts[journey, day, "response", str(response_bucket(waited))] += 1
    rating = data.get("rating")
    if isinstance(rating, int) and not isinstance(rating, bool):
        facts[journey, day, "rating_count", step] += 1
        facts[journey, day, "rating_sum", step] += rating
        if rating >= GOOD_RATING:
            facts[journey, day, "rating_good", step] += 1
    return facts


def staff_bin(seconds: float) -> str:
    """Return the Chatwoot bin a staff response time falls in ("0-1h" ... "24h+")."""
    return next((label for label, limit in STAFF_BINS if seconds < limit), LAST_BIN)


def conversion_facts(row: Mapping[str, Any], zone: tzinfo) -> Facts:
    """Return what a conversions row counts; one credited to no journey counts nothing."""
    facts: Facts = Counter()
    journey = row.get("journey")
    if not journey:
        return facts
    day = _day(row["at"], zone)
    facts[journey, day, "conversions", row.get("step") or ""] += 1
    total, currency = row.get("total"), row.get("currency")
    if total is not None and currency:
        amount = int((Decimal(str(total)) * AMOUNT_SCALE).to_integral_value())
        facts[journey, day, "revenue", str(currency).upper()] += amount
    return facts


def response_bucket(seconds: float) -> int:
    """Return `seconds` to two significant digits, the response-time histogram's bucket.

    Whole seconds up to 99, then 100, 110, ... 990, 1000, 1100, ...: a percentile read from
    the buckets is within 5% of the exact one, and a day holds a few hundred at most.
    """
    whole = max(0, round(seconds))
    if whole < 100:
        return whole
    scale = 10 ** (int(math.log10(whole)) - 1)
    return int(whole // scale * scale)


def difference(now: Facts, before: Facts) -> Facts:
    """Return what to add to the rollups for a row that went from `before` to `now`."""
    delta: Facts = Counter(now)
    delta.subtract(before)
    return Counter({fact: value for fact, value in delta.items() if value})


def total(parts: Iterable[Facts]) -> Facts:
    """Return the sum of facts."""
    out: Facts = Counter()
    for part in parts:
        out.update(part)
    return out


def _day(value: Any, zone: tzinfo) -> date:
    moment = _moment(value)
    if moment is None:
        return date(1970, 1, 1)
    return moment.astimezone(zone).date()


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, str) and value:
        return utc(datetime.fromisoformat(value))
    return None


def _order(moment: datetime | None) -> datetime:
    return moment or datetime.max.replace(tzinfo=UTC)


def _stream_day(where: str, zone: tzinfo) -> date | None:
    """Return the day of a run step's "<ms>-<seq>:<n>" place (its commit's stream entry)."""
    try:
        milliseconds = int(where.split("-", 1)[0])
    except (ValueError, AttributeError):
        return None
    return datetime.fromtimestamp(milliseconds / 1000, zone).date()
