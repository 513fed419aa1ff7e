"""Journey analytics: a journey's figures for a year holding 1,000,000 runs, from the rollups.

A record (the migrations' schema; SQLite, and PostgreSQL when installed) holds one
journey's 1,000,000 runs spread over 365 days, written in bulk, each with the facts its
run, its two messages and its reply would have added to the rollups as the recorder
wrote them (bot/record/facts.py: the same functions). The time is the API's work for
`GET /api/analytics/journeys/<id>?from&to` over the whole year: `figures.report` and the
JSON, the median of repeated asks. The baseline, in the same run and the same record, is
what a page without rollups would do at the least: read the year's runs of the journey
and count each step reached, in one pass over their rows.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Engine, insert, select

from bench.record import postgres_records, sqlite_records
from bench.report import Section, ratio
from bot.analytics import figures
from bot.record import database, rollups
from bot.record.facts import Facts, event_facts, message_facts, run_facts
from bot.record.schema import journey_runs
from sandbox.postgres import PostgresNotInstalled

ZONE = ZoneInfo("America/New_York")
JOURNEY = "spring_sale"
STEPS = ["ask", "offer", "split", "reminder", "coupon_a", "coupon_b", "bought", "thanks"]
YEAR_START = datetime(2025, 12, 1, 14, 0, tzinfo=UTC)
DAYS = 365
CHUNK = 20_000  # rows written at a time
ASKS = 15  # requests timed per record
TARGET_SECONDS = 1.0


def _run_row(number: int, rng: random.Random) -> dict[str, Any]:
    """Return one run as the writer leaves it: most ask, some buy, some drop off."""
    started = YEAR_START + timedelta(seconds=rng.randrange(DAYS * 86400))
    depth = rng.choices(range(1, 8), weights=[30, 20, 10, 10, 10, 10, 10])[0]
    arm = rng.choice(("coupon_a", "coupon_b"))
    path = ["ask", "offer", "split", "reminder", arm, "bought", "thanks"][:depth]
    base = int(started.timestamp() * 1000)
    steps = [[step, f"{base + n * 60_000}-0:0"] for n, step in enumerate(path)]
    goal = depth >= 6
    ended = started + timedelta(minutes=depth * 10) if depth != 4 else None
    return {
        "id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "phone": f"+1415{number:07d}",
        "journey": JOURNEY,
        "status": "completed" if goal else ("waiting" if ended is None else "expired"),
        "step": path[-1],
        "steps": steps,
        "variant": arm if depth >= 5 else None,
        "splits": {"split": arm} if depth >= 5 else {},
        "goals": [["bought", (started + timedelta(minutes=50)).isoformat()]] if goal else [],
        "started_at": started,
        "ended_at": ended,
        "updated_at": ended or started,
    }


def _other_facts(run: dict[str, Any], rng: random.Random) -> Facts:
    """Return the facts of the run's two messages and its reply."""
    facts: Facts = Counter()
    started: datetime = run["started_at"]
    for n, step in enumerate(("ask", "offer")):
        sent = (started + timedelta(minutes=n)).isoformat()
        status = rng.choices(("delivered", "failed"), weights=[97, 3])[0]
        message = {
            "direction": "outbound",
            "journey": JOURNEY,
            "step": step,
            "status": status,
            "status_history": [["sent", sent], [status, sent]],
            "created_at": started,
            "sid": "SM",
            "clicked_at": started if rng.random() < 0.1 else None,
        }
        facts.update(message_facts(message, ZONE))
    reply = {
        "type": "message_received",
        "journey": JOURNEY,
        "run_id": run["id"],
        "at": started + timedelta(minutes=5),
        "data": {
            "step": "ask",
            "waited_s": rng.lognormvariate(6, 1.2),
            "rating": rng.randint(1, 5),
        },
    }
    facts.update(event_facts(reply, ZONE))
    return facts


def populate(url: str, runs: int, seed: int = 7) -> float:
    """Write `runs` runs and their rollups; return the seconds it took."""
    rng = random.Random(seed)
    engine = database.connect(url)
    started = time.perf_counter()
    try:
        facts: Facts = Counter()
        for first in range(0, runs, CHUNK):
            rows = [_run_row(n, rng) for n in range(first, min(first + CHUNK, runs))]
            for row in rows:
                facts.update(run_facts(row, ZONE))
                facts.update(_other_facts(row, rng))
            with engine.begin() as connection:
                connection.execute(insert(journey_runs), rows)
        with engine.begin() as connection:
            rollups.add(connection, facts)
    finally:
        engine.dispose()
    return time.perf_counter() - started


def _timed(ask: Callable[[], Any], times: int) -> list[float]:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        ask()
        seconds.append(time.perf_counter() - started)
    return seconds


def measure(url: str, runs: int) -> dict[str, Any]:
    """Populate a record, then time the API's figures and the baseline's scan."""
    written = populate(url, runs)
    engine = database.connect(url)
    start, end = date(2025, 12, 1), date(2026, 12, 1)  # the year, in New York
    try:

        def api() -> bytes:
            return orjson.dumps(figures.report(engine, JOURNEY, None, start, end))

        def scan() -> Counter[str]:
            return _scan(engine, start, end)

        api()  # the first ask warms connections and caches, as a running server has them
        answer = orjson.loads(api())
        reached = {s["step"]: s["reached"] for s in answer["steps"]}
        counted = scan()
        assert answer["entered"] == runs, (answer["entered"], runs)
        assert reached == dict(counted), "the rollups and the scan disagree"
        with engine.connect() as connection:
            rollup_rows = connection.exec_driver_sql("SELECT count(*) FROM journey_counts").scalar()
        api_times = _timed(api, ASKS)
        scan_times = _timed(scan, max(3, ASKS // 5))
    finally:
        engine.dispose()
    return {
        "runs": runs,
        "populate_seconds": written,
        "rollup_rows": rollup_rows,
        "api_p50": statistics.median(api_times),
        "api_max": max(api_times),
        "scan_p50": statistics.median(scan_times),
    }


def _scan(engine: Engine, start: date, end: date) -> Counter[str]:
    """Count each step reached by the journey's runs started in the range, row by row."""
    first = datetime.combine(start, datetime.min.time(), ZONE)
    last = datetime.combine(end + timedelta(days=1), datetime.min.time(), ZONE)
    query = (
        select(journey_runs.c.steps)
        .where(journey_runs.c.journey == JOURNEY)
        .where(journey_runs.c.started_at >= first.astimezone(UTC))
        .where(journey_runs.c.started_at < last.astimezone(UTC))
    )
    reached: Counter[str] = Counter()
    with engine.connect() as connection:
        for (steps,) in connection.execution_options(yield_per=CHUNK).execute(query):
            reached.update({step for step, _ in steps})
    return reached


def run(quick: bool = False) -> dict[str, Any]:
    """Measure on SQLite and PostgreSQL; return the figures."""
    runs = 50_000 if quick else 1_000_000
    result: dict[str, Any] = {"runs": runs}
    with tempfile.TemporaryDirectory(prefix="parley-bench-analytics-") as tmp:
        workdir = Path(tmp)
        (workdir / "sqlite").mkdir()
        with sqlite_records(workdir) as (fresh, _):
            result["sqlite"] = measure(fresh("analytics"), runs)
        try:
            with postgres_records() as (fresh, _):
                result["postgresql"] = measure(fresh("analytics"), runs)
        except PostgresNotInstalled as exc:
            result["postgresql"] = None
            result["postgresql_missing"] = str(exc)
    return result


def _rows(result: dict[str, Any]) -> Iterator[list[str]]:
    for name in ("sqlite", "postgresql"):
        figures_ = result.get(name)
        if not figures_:
            continue
        yield [
            "SQLite" if name == "sqlite" else "PostgreSQL",
            f"{figures_['rollup_rows']:,}",
            f"{figures_['api_p50'] * 1000:.1f} ms",
            f"{figures_['api_max'] * 1000:.1f} ms",
            f"{figures_['scan_p50'] * 1000:.0f} ms",
            f"{ratio(figures_['api_p50'], figures_['scan_p50']):.4f}",
            "met" if figures_["api_max"] < TARGET_SECONDS else "NOT met",
        ]


def section(quick: bool, workdir: Path) -> Section:
    """Run the benchmark; return its section of BENCHMARKS.md."""
    result = run(quick)
    out = Section("analytics", "Journey analytics: a year of 1,000,000 runs, from rollups")
    out.add(
        f"_Run: {'quick' if quick else 'full'}._ " + " ".join(__doc__.strip().split()),
        "",
        f"{result['runs']:,} runs; each figure is the median of {ASKS} asks (the baseline's"
        f" of {max(3, ASKS // 5)}); target: every ask under {TARGET_SECONDS:g} s.",
        "",
    )
    out.table(
        [
            "record",
            "rollup rows",
            "API p50",
            "API slowest",
            "baseline scan p50",
            "API / baseline",
            "under 1 s",
        ],
        list(_rows(result)),
    )
    if result.get("postgresql_missing"):
        out.add(f"PostgreSQL was not measured: {result['postgresql_missing']}", "")
    for name in ("sqlite", "postgresql"):
        figures_ = result.get(name)
        if figures_ and figures_["api_max"] >= TARGET_SECONDS:
            out.failures.append(f"{name}: an ask took {figures_['api_max']:.2f} s")
    return out
