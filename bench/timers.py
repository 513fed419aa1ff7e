"""Timers: N journey timeouts all due at the same second, fired by the Procfile's workers.

All due at once is the worst case of "100,000 timers due in the same minute": the
workers' throughput decides how late the last one fires.

The baseline, measured in the same run against the same Redis, is a bare consumer that
claims the same number of timers with the same Lua script and does nothing with them:
what Redis alone allows. Parley's figure includes everything a real timeout does (lock,
load, engine, reminder message, commit). Outbound sending is paused (RQ suspended) so
the figures are the scheduler's own.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rq.suspension import suspend

from bench.harness import BenchRedis, Service, base_env, procfile_argv
from bench.load import percentile
from bot.config import Settings
from bot.delivery.timers import Timers
from bot.runtime import Runtime
from bot.storage import keys
from bot.storage.store import timer_member

SPREAD = 1.0  # seconds over which the timers fall due
LEAD = 15.0  # seconds between the end of set-up and the first due time


def populate(runtime: Runtime, count: int, first_due: float) -> dict[str, float]:
    """Put `count` contacts mid-journey, each with a timeout due in the minute; return dues."""
    template_phone = "+14155550100"
    runtime.conversations.trigger(
        template_phone,
        "appointment_booked",
        {"appointment_at": "2030-06-03T16:00:00Z", "provider": "Dr. Lee"},
    )
    template = runtime.store.load_contact(template_phone)
    if template is None or not template.runs:
        raise RuntimeError("appointment_booked started no journey to copy")
    run = template.runs[0]
    rng = random.Random(7)
    dues: dict[str, float] = {}
    redis = runtime.redis
    pipe = redis.pipeline(transaction=False)
    for number in range(count):
        phone = f"+1212{2000000 + number:07d}"
        data = template.to_dict()
        data["phone"] = phone
        data["runs"][0]["id"] = f"r{number}"
        due = first_due + rng.random() * SPREAD
        dues[phone] = due
        pipe.set(keys.contact(phone), json.dumps(data))
        payload = {"type": "timeout", "phone": phone, "run": f"r{number}", "seq": run.wait_seq}
        pipe.zadd(keys.TIMERS, {timer_member(payload): due})
        if number % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    # The template's own timer and outbox entry are not part of the measurement.
    redis.zremrangebyscore(keys.TIMERS, first_due + SPREAD + 3600, "+inf")
    redis.delete(keys.OUTBOX)
    return dues


def lateness(runtime: Runtime, dues: dict[str, float]) -> tuple[list[float], int]:
    """Return seconds from due time to reminder per contact, and how many got more than one."""
    phones = list(dues)
    pipe = runtime.redis.pipeline(transaction=False)
    for phone in phones:
        pipe.llen(keys.messages(phone))
    twice = sum(1 for count in pipe.execute() if count > 1)
    for phone in phones:
        pipe.lindex(keys.messages(phone), -1)
    last_ids = pipe.execute()
    for phone, message_id in zip(phones, last_ids, strict=True):
        pipe.hget(keys.message(phone, message_id or "none"), "at")
    stamps = pipe.execute()
    late = [
        datetime.fromisoformat(at).timestamp() - dues[phone]
        for phone, at in zip(phones, stamps, strict=True)
        if at
    ]
    return late, twice


def bare_claims(runtime: Runtime, count: int) -> float:
    """Return timers/s of a do-nothing consumer claiming `count` due timers in batches."""
    timers = Timers(runtime.store)
    timers.key, timers.inflight_key = "bench:timers", "bench:timers:inflight"
    pipe = runtime.redis.pipeline(transaction=False)
    for number in range(count):
        pipe.zadd(timers.key, {f'{{"n": {number}}}': 0})
    pipe.execute()
    now = datetime.now(UTC)
    started = time.perf_counter()
    claimed = 0
    while due := timers.claim_due(now, 200):
        timers.done(*(member for member, _ in due))
        claimed += len(due)
    return claimed / (time.perf_counter() - started)


def run(quick: bool = False, workers: int = 2) -> dict[str, Any]:
    """Fire N timers due in one minute with `workers` worker processes; return the figures."""
    count = 10_000 if quick else 100_000
    workdir = Path(tempfile.mkdtemp(prefix="parley-timers-"))
    redis = BenchRedis(workdir / "redis").start()
    services: list[Service] = []
    try:
        settings = Settings(
            twilio_account_sid="AC" + "0" * 32,
            twilio_auth_token="bench",
            twilio_from_number="+15005550006",
        )
        runtime = Runtime(settings, redis.url)
        baseline = bare_claims(runtime, count)
        redis.flush()
        suspend(runtime.queue.connection)  # RQ takes no send jobs: only timers are measured
        first_due = time.time() + LEAD
        setup = time.perf_counter()
        dues = populate(runtime, count, first_due)
        setup = time.perf_counter() - setup
        if time.time() > first_due:
            raise RuntimeError(f"set-up took {setup:.0f}s, past the first due time")
        env = base_env(
            REDIS_URL=redis.url,
            TWILIO_ACCOUNT_SID=settings.account_sid,
            TWILIO_AUTH_TOKEN=settings.auth_token,
            SECRET_KEY="bench-secret-key",
            TWILIO_FROM_NUMBER="+15005550006",
            LOG_LEVEL="WARNING",
        )
        for number in range(workers):
            services.append(Service(f"worker-{number}", procfile_argv("worker", env), env, workdir))
        deadline = first_due + SPREAD + 600
        timers_key, inflight_key = keys.TIMERS, keys.TIMERS_INFLIGHT
        last_due = first_due + SPREAD
        # Each fired timeout schedules the next one a day later: wait only for this minute's.
        while runtime.redis.zcount(timers_key, "-inf", last_due) or runtime.redis.zcard(
            inflight_key
        ):
            if time.time() > deadline:
                raise RuntimeError("timers still pending ten minutes after the last was due")
            if not all(service.alive() for service in services):
                raise RuntimeError("a worker exited:\n" + services[0].tail())
            time.sleep(0.1)
        finished = time.time()
        late, twice = lateness(runtime, dues)
        fired = len(late)
        busy_from = max(first_due, min(dues.values()))
        rate = fired / max(finished - busy_from, 1e-9)
        return {
            "timers": count,
            "fired": fired,
            "fired_twice": twice,
            "workers": workers,
            "setup_s": round(setup, 1),
            "span_s": round(finished - busy_from, 1),
            "timers_per_s": round(rate),
            "baseline_claims_per_s": round(baseline),
            "lateness_p50_s": round(statistics.median(late), 3),
            "lateness_p99_s": round(percentile(late, 99), 3),
            "lateness_max_s": round(max(late), 3),
        }
    finally:
        for service in services:
            service.stop()
        redis.stop()


def format_table(result: dict[str, Any]) -> str:
    """Render the figures as a Markdown table."""
    rows = [
        ("timers, all due within the same second", f"{result['timers']:,}"),
        ("fired", f"{result['fired']:,}"),
        ("fired more than once", f"{result['fired_twice']:,}"),
        ("worker processes", str(result["workers"])),
        ("time from first due to last fired", f"{result['span_s']} s"),
        ("timers/s (Parley)", f"{result['timers_per_s']:,}"),
        ("timers/s, bare Lua claim loop (baseline)", f"{result['baseline_claims_per_s']:,}"),
        ("ratio", f"{result['timers_per_s'] / result['baseline_claims_per_s']:.2f}"),
        ("lateness p50", f"{result['lateness_p50_s']} s"),
        ("lateness p99", f"{result['lateness_p99_s']} s"),
        ("lateness max", f"{result['lateness_max_s']} s"),
    ]
    lines = ["| measure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    figures = run(quick="--quick" in sys.argv)
    print(format_table(figures))
