"""Outbound: Parley's outbox drained by a real worker vs a sequential twilio SDK loop.

The emulator runs under gunicorn in its own process, so it shares no GIL with either
sender. Neither side asks for status callbacks (no PUBLIC_URL), so the emulator does the
same work per message for both. Parley's messages are queued before timing, one Turn per
contact committed like the app does; the clock starts when the outbox is kicked and stops
when the outbox is empty, and the emulator's record is checked afterwards.

One run sends the same messages as marketing, with consent, quiet hours and a frequency
cap in force, to show what the sender's guardrail check costs against transactional ones.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from rq import Worker
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bench.harness import (
    BUSINESS_NUMBER,
    EMULATOR_SID,
    EMULATOR_THREADS,
    EMULATOR_TOKEN,
    BenchRedis,
    Service,
    deployment_env,
    foreign_cpu,
    foreign_share,
    procfile_argv,
    start_emulator,
    valid_phones,
)
from bench.report import Section, cpus, ratio, verdict
from bot.config import Settings
from bot.conversation.turn import Turn
from bot.domain.consent import Purpose
from bot.domain.messages import Kind, Status, parse_ref
from bot.domain.phones import timezone_for
from bot.domain.quiet_hours import QuietHours, next_allowed
from bot.domain.state_rules import state_rule
from bot.runtime import Runtime
from bot.storage import keys

BODY = (
    "Reminder: you have an appointment with Dr. Lee on Tue Dec 1 at 12:30 PM."
    " Reply YES to confirm, NO to cancel or R to reschedule."
)
TARGET = 0.8
GUARDED_TARGET = 0.9  # the guardrail check costs the sender at most 10% of its throughput
CAP = "3/24h"  # FREQUENCY_CAP of the marketing run: one message per contact stays under it
QUIET_MINUTES = 5  # length of the marketing run's QUIET_HOURS window
# A zone for every UTC offset a US number's clock can have, 10 ahead (Guam) to 11 behind
# (American Samoa), summer time or not.
US_ZONES = (
    "Pacific/Guam",
    "America/Puerto_Rico",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "America/Adak",
    "Pacific/Honolulu",
    "Pacific/Pago_Pago",
)
DEFAULT_CONCURRENCY = Settings().send_concurrency
SENT = frozenset({Status.ACCEPTED, Status.QUEUED, Status.SENDING, Status.SENT, Status.DELIVERED})
POLL = 0.005
DRAIN_TIMEOUT = 300.0


@dataclass(frozen=True)
class Plan:
    """How many messages each outbound run sends, and how many rounds of runs."""

    messages: int
    rounds: int
    warmup: int = 20


FULL = Plan(messages=3000, rounds=4)
QUICK = Plan(messages=600, rounds=1)


@dataclass(frozen=True)
class Run:
    """One kind of timed run: the SDK loop (env None) or a worker with `env` added."""

    label: str
    env: dict[str, str] | None = field(default_factory=dict)
    kind: Kind = Kind.TRANSACTIONAL


BASELINE = "sequential `client.messages.create` loop (baseline)"
PARLEY = f"Parley worker, SEND_CONCURRENCY={DEFAULT_CONCURRENCY} (default)"
GUARDED = (
    f"Parley worker, SEND_CONCURRENCY={DEFAULT_CONCURRENCY} (default), marketing:"
    f" consent, quiet hours, FREQUENCY_CAP={CAP}"
)
# The marketing run comes next to the default one in every round, whichever the order.
RUNS: list[Run] = [
    Run(BASELINE, None),
    Run(PARLEY),
    Run(GUARDED, {"FREQUENCY_CAP": CAP}, Kind.MARKETING),
    Run("Parley worker, SEND_CONCURRENCY=1", {"SEND_CONCURRENCY": "1"}),
    Run(
        f"Parley worker, SEND_CONCURRENCY={DEFAULT_CONCURRENCY}, LOG_LEVEL=WARNING",
        {"LOG_LEVEL": "WARNING"},
    ),
]


@dataclass
class Outcome:
    """One timed send of every message."""

    label: str
    sent: int
    elapsed: float
    cpu: dict[str, float]
    first: float | None = None  # seconds from the kick until the worker took a first batch

    @property
    def rate(self) -> float:
        """Return messages per second."""
        return self.sent / self.elapsed


class Emulator:
    """The emulator process and what it has recorded."""

    def __init__(self, service: Service, url: str) -> None:
        self.service = service
        self.url = url

    def received(self) -> list[dict[str, object]]:
        """Return every message the emulator accepted."""
        response = requests.get(f"{self.url}/_emulator/messages", timeout=60)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Forget every message."""
        requests.delete(f"{self.url}/_emulator/messages", timeout=30).raise_for_status()


def sdk_client(emulator: Emulator) -> Client:
    """Return a plain twilio SDK client aimed at the emulator, with Parley's send timeout."""
    http = TwilioHttpClient(timeout=Settings().send_timeout)
    client = Client(EMULATOR_SID, EMULATOR_TOKEN, http_client=http)
    client.api.base_url = emulator.url
    return client


def sequential(
    emulator: Emulator, phones: list[str], warm: list[str], redis: BenchRedis
) -> Outcome:
    """Send one message per phone with `client.messages.create` in a plain loop."""
    client = sdk_client(emulator)
    for phone in warm:
        client.messages.create(to=phone, from_=BUSINESS_NUMBER, body=BODY)
    emulator.reset()
    before, own = _cpu(emulator, redis, None), time.process_time()
    started = time.perf_counter()
    for phone in phones:
        client.messages.create(to=phone, from_=BUSINESS_NUMBER, body=BODY)
    elapsed = time.perf_counter() - started
    after = _cpu(emulator, redis, None)
    cpu = {name: after[name] - before[name] for name in after}
    cpu["sender"] = time.process_time() - own
    return Outcome(BASELINE, 0, elapsed, cpu)


def queue(runtime: Runtime, phones: list[str], kind: Kind = Kind.TRANSACTIONAL) -> list[str]:
    """Commit one pending message of `kind` per phone as a transition does; return their refs.

    A marketing message goes to a contact who has just given marketing consent, from a Turn
    that answers nothing, so it waits out quiet hours and is deferred when capped. The refs
    are held back from the outbox list, so nothing can send them before the kick.
    """
    ids = []
    journey = "promotion" if kind is Kind.MARKETING else "appointment_confirmation"
    for phone in phones:
        stored = runtime.store.load_contact(phone)
        contact = stored or runtime.conversations.new_contact(phone)
        now = runtime.clock()
        if kind is Kind.MARKETING:
            contact.grant(Purpose.MARKETING, True, "bench", now)
        turn = Turn(contact, now, stored=stored is not None)
        message = turn.send(BODY, kind, journey=journey)
        if message.status != Status.PENDING:
            raise RuntimeError(f"{message.ref} was not queued: {message.reason}")
        if kind is Kind.MARKETING and (message.quiet_hours, message.when_capped) != (
            "respect",
            "defer",
        ):
            raise RuntimeError(f"{message.ref} would skip quiet hours or the cap")
        turn.changes.outbox.clear()
        runtime.store.commit(turn.changes)
        ids.append(message.ref)
    return ids


def unruled_phones(count: int, seed: int) -> list[str]:
    """Return `count` of valid_phones' numbers whose area code no state rule covers."""
    numbers = [p for p in valid_phones(2 * count, seed=seed) if state_rule(p) is None]
    if len(numbers) < count:
        raise RuntimeError(f"only {len(numbers)} of {2 * count} numbers have no state rule")
    return numbers[:count]


def far_quiet_hours(now: datetime, zones: set[str]) -> str:
    """Return a QUIET_HOURS window that no US clock, nor any of `zones`, reaches for an hour.

    It lasts a few minutes and starts 12 hours after the UTC time of day: US clocks run 4
    to 11 hours behind UTC, or 10 ahead (Guam), so the nearest is an hour past its end and
    the first to reach it does so in about two hours.
    """
    start = (now.astimezone(UTC) + timedelta(hours=12)).replace(second=0, microsecond=0)
    window = QuietHours(start.time(), (start + timedelta(minutes=QUIET_MINUTES)).time())
    for name in sorted(zones | set(US_ZONES)):
        for minutes in range(0, 61, 5):
            moment = now + timedelta(minutes=minutes)
            if next_allowed(moment, ZoneInfo(name), (window,)) is not None:
                raise RuntimeError(f"QUIET_HOURS={window} holds in {name} at {moment}")
    return str(window)


def wait_for_worker(runtime: Runtime, worker: Service, timeout: float = 30.0) -> None:
    """Wait until the RQ worker has registered itself for Parley's queue."""
    deadline = time.monotonic() + timeout
    while not Worker.all(queue=runtime.queue):
        if not worker.alive():
            raise worker.failed(f"exited with {worker.process.returncode} during start-up")
        if time.monotonic() > deadline:
            raise worker.failed(f"did not register with RQ within {timeout}s")
        time.sleep(0.05)


def parley(
    emulator: Emulator,
    redis: BenchRedis,
    phones: list[str],
    workdir: Path,
    run: Run,
) -> tuple[Outcome, list[str]]:
    """Time a real `python -m bot worker` sending one queued message per phone."""
    redis.flush()
    label, env = run.label, dict(run.env or {})
    concurrency = int(env.get("SEND_CONCURRENCY", DEFAULT_CONCURRENCY))
    settings = Settings(
        twilio_account_sid=EMULATOR_SID,
        twilio_auth_token=EMULATOR_TOKEN,
        twilio_from_number=BUSINESS_NUMBER,
        twilio_api_base=emulator.url,
        var_dir=workdir / "var",
        send_concurrency=concurrency,
    )
    runtime = Runtime(settings, redis.url)
    ids = queue(runtime, phones, run.kind)
    if run.kind is Kind.MARKETING:
        # Quiet hours are checked against the real clock: a window no contact is in now.
        zones = {timezone_for(phone, settings.default_timezone) for phone in phones}
        env["QUIET_HOURS"] = far_quiet_hours(datetime.now(UTC), zones)
    worker_env = {**deployment_env(redis.url, emulator.url, workdir / "var"), **env}
    name = re.sub(r"[^\w.=-]", "_", "worker" + "".join(f"-{k}={v}" for k, v in env.items()))
    worker = Service(name, procfile_argv("worker", worker_env), worker_env, workdir)
    try:
        wait_for_worker(runtime, worker)
        outbox, inflight = runtime.outbox.list_key, runtime.outbox.inflight_key
        cpu = _cpu(emulator, redis, worker)
        started = time.perf_counter()
        runtime.outbox.push(*ids)
        first = None
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while True:
            pipe = runtime.redis.pipeline()
            pipe.llen(outbox)
            pipe.zcard(inflight)
            waiting, taken = pipe.execute()
            if first is None and waiting < len(ids):
                first = time.perf_counter() - started
            if waiting == 0 and taken == 0:
                break
            if not worker.alive():
                raise worker.failed("exited while sending")
            if time.monotonic() > deadline:
                raise worker.failed(f"outbox not empty after {DRAIN_TIMEOUT}s")
            time.sleep(POLL)
        elapsed = time.perf_counter() - started
        spent = _cpu(emulator, redis, worker)
    finally:
        worker.stop()
    cpu = {name: spent[name] - cpu[name] for name in spent}
    problems = []
    pipe = runtime.redis.pipeline(transaction=False)
    for ref in ids:
        pipe.hget(keys.message(*parse_ref(ref)), "status")
    unsent = Counter(str(status) for status in pipe.execute() if status not in SENT)
    if unsent:
        found = ", ".join(f"{n} {status}" for status, n in unsent.most_common())
        problems.append(
            f"{label}: {unsent.total()} messages not accepted by the emulator ({found})"
        )
    if run.kind is Kind.MARKETING:
        # Each message took its place under the cap: the claim counted every one.
        pipe = runtime.redis.pipeline(transaction=False)
        for phone in phones:
            pipe.zcard(keys.sent_marketing(phone))
        unplaced = sum(1 for places in pipe.execute() if places != 1)
        if unplaced:
            problems.append(f"{label}: {unplaced} contacts without one place under the cap")
    return Outcome(label, 0, elapsed, cpu, first), problems


def _cpu(emulator: Emulator, redis: BenchRedis, worker: Service | None) -> dict[str, float]:
    counters = {"emulator": emulator.service.cpu(), "redis": redis.cpu(), **foreign_cpu()}
    if worker is not None:
        counters["sender"] = worker.cpu()
    return counters


def count(emulator: Emulator, phones: list[str], outcome: Outcome) -> list[str]:
    """Set how many messages the emulator received; return problems, then reset it."""
    received = emulator.received()
    outcome.sent = len(received)
    emulator.reset()
    wanted = set(phones)
    got = [m["to"] for m in received]
    if len(got) != len(phones) or set(got) != wanted:
        return [f"{outcome.label}: emulator got {len(got)} messages for {len(set(got))} numbers"]
    return []


def run(quick: bool, workdir: Path) -> Section:
    """Run the outbound benchmark and return its results."""
    plan = QUICK if quick else FULL
    section = Section("outbound", "Outbound: outbox to the emulator vs a sequential SDK loop")
    with ExitStack() as stack:
        redis = BenchRedis(workdir / "redis-outbound").start()
        stack.callback(redis.stop)
        service, url = start_emulator(workdir)
        stack.callback(service.stop)
        emulator = Emulator(service, url)

        # No Florida or Oklahoma numbers: their state rules would hold the marketing back.
        numbers = unruled_phones(plan.messages + plan.warmup, seed=7)
        phones, warm = numbers[: plan.messages], numbers[plan.messages :]
        results: dict[str, list[Outcome]] = {run.label: [] for run in RUNS}
        for index in range(plan.rounds):
            # Alternate the order, so that drift over the run favours no one.
            for run in RUNS if index % 2 == 0 else RUNS[::-1]:
                problems: list[str] = []
                if run.env is None:
                    outcome = sequential(emulator, phones, warm, redis)
                else:
                    outcome, problems = parley(emulator, redis, phones, workdir, run)
                section.failures += problems + count(emulator, phones, outcome)
                results[run.label].append(outcome)
        report(section, plan, results)
    return section


def rounds_text(rounds: int) -> str:
    """Say how the runs were repeated."""
    if rounds == 1:
        return "Each run once."
    return f"{rounds} rounds of every run, in alternating order; the table pools them."


def pooled(outcomes: list[Outcome]) -> Outcome:
    """Return the rounds of one kind of run as one outcome."""
    firsts = [o.first for o in outcomes if o.first is not None]
    return Outcome(
        outcomes[0].label,
        sum(o.sent for o in outcomes),
        sum(o.elapsed for o in outcomes),
        {k: sum(o.cpu[k] for o in outcomes) for k in outcomes[0].cpu},
        sum(firsts) / len(firsts) if firsts else None,
    )


def report(section: Section, plan: Plan, results: dict[str, list[Outcome]]) -> None:
    """Add the outbound table and notes to the section."""
    outcomes = [pooled(rounds) for rounds in results.values()]
    by_label = {outcome.label: outcome for outcome in outcomes}
    baseline, default, guarded = by_label[BASELINE], by_label[PARLEY], by_label[GUARDED]
    per_round = [
        ratio(p.rate, b.rate) for b, p in zip(results[BASELINE], results[PARLEY], strict=True)
    ]
    guarded_rounds = [
        ratio(g.rate, p.rate) for p, g in zip(results[PARLEY], results[GUARDED], strict=True)
    ]
    guarded_ratio = ratio(guarded.rate, default.rate)
    rows = []
    for outcome in outcomes:
        per = {k: v / max(outcome.sent, 1) * 1000 for k, v in outcome.cpu.items()}
        rows.append(
            [
                outcome.label,
                str(outcome.sent),
                f"{outcome.elapsed:.2f}",
                f"{outcome.rate:,.0f}",
                f"{ratio(outcome.rate, baseline.rate):.2f}",
                "-" if outcome.first is None else f"{outcome.first * 1000:.0f}",
                f"{per['sender']:.2f}" if "sender" in per else "-",
                f"{per['emulator']:.2f}",
                f"{per['redis']:.2f}",
            ]
        )
    main_ratio = ratio(default.rate, baseline.rate)

    def per_message(outcome: Outcome, counter: str) -> float:
        return ratio(outcome.cpu.get(counter, 0.0) * 1000, outcome.sent)

    sender_ms = per_message(default, "sender")
    machine = sum(o.cpu["machine"] for o in outcomes)
    ours = sum(o.cpu["ours"] for o in outcomes)
    foreign = foreign_share(
        {"machine": machine, "ours": ours}, sum(o.elapsed for o in outcomes), cpus()
    )
    section.add(
        f"_Run: {'quick' if plan is QUICK else 'full'}._ Each run sends {plan.messages} messages"
        f" to {plan.messages} distinct subscribed contacts, to the emulator under gunicorn"
        f" (1 worker x {EMULATOR_THREADS} threads, gthread, its own process); no status"
        f" callbacks on either side. {rounds_text(plan.rounds)}",
        "",
    )
    section.table(
        [
            "sender",
            "messages",
            "seconds",
            "msgs/s",
            "vs baseline",
            "kick to first batch ms",
            "sender CPU ms/msg",
            "emulator CPU ms/msg",
            "Redis CPU ms/msg",
        ],
        rows,
    )
    section.add(
        f"**Parley (default concurrency) / sequential loop: {main_ratio:.2f}**"
        f" (target >= {TARGET:g}: {verdict(main_ratio, TARGET)});"
        f" per round: {', '.join(f'{r:.2f}' for r in per_round)}.",
        "",
        f"**Marketing through every guardrail / transactional, both at the default"
        f" concurrency: {guarded_ratio:.2f}** (target >= {GUARDED_TARGET:g}:"
        f" {verdict(guarded_ratio, GUARDED_TARGET)}); per round:"
        f" {', '.join(f'{r:.2f}' for r in guarded_rounds)}. Sender CPU"
        f" {per_message(guarded, 'sender'):.2f} vs {sender_ms:.2f} ms/msg, Redis CPU"
        f" {per_message(guarded, 'redis'):.2f} vs {per_message(default, 'redis'):.2f} ms/msg.",
        "",
        "- Baseline: one twilio SDK `Client` with `client.api.base_url` set to the emulator,"
        f" `client.messages.create(to=..., from_=..., body=...)` in a loop, after {plan.warmup}"
        " untimed warm-up sends on the same client.",
        "- Parley: messages committed as pending (a `Turn` per contact through"
        " `runtime.store.commit`) before timing; the Procfile's worker (`python -m bot worker`)"
        " already running and registered with RQ; timed from `runtime.outbox.push` (append"
        " to the outbox and kick a drain job) until the outbox and its in-flight set are empty."
        " Every message is then checked in Redis (accepted, with a sid) and in the emulator.",
        "- Marketing row: the same body to the same contacts, committed as `Kind.MARKETING`"
        " by a `Turn` that answers nothing (so quiet_hours=respect, when_capped=defer), each"
        " contact having first been granted marketing consent; the same worker at the default"
        f" SEND_CONCURRENCY, with FREQUENCY_CAP={CAP} and QUIET_HOURS set to a"
        f" {QUIET_MINUTES}-minute window starting 12 hours after the UTC time the worker"
        " starts, checked to hold in no US time zone (UTC+10 to UTC-11) for the next hour."
        " Area codes without a state rule (Florida's and Oklahoma's would add their own quiet"
        " hours). One message per contact, so none is capped and each pays the whole check:"
        " its place under the cap taken in the claim script, then consent and quiet hours in"
        " the contact's zone. Afterwards every message is checked accepted (none"
        " deferred or withheld) and every contact holds exactly one place under the cap.",
        "- The SEND_CONCURRENCY rows run the worker as the Procfile does, so at the CLI's"
        " default LOG_LEVEL=INFO; the LOG_LEVEL=WARNING row changes only that, to show what"
        " logging costs.",
        f"- One drain job runs in one RQ work horse, whose send threads share one GIL: at"
        f" {sender_ms:.2f} ms of sender CPU per message (default row) it cannot pass about"
        f" {ratio(1000, sender_ms):,.0f} msgs/s, whatever SEND_CONCURRENCY is.",
        "- CPU columns: CPU seconds during the timed part divided by messages (sender: the"
        " worker process, its work horses and threads; for the baseline, the benchmark's own"
        " process).",
        f"- Processes not started by the benchmark used {foreign:.0%} of the machine's CPU"
        " during the timed parts (well above 0% means the figures are noisy).",
        "",
    )
