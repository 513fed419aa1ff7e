"""Outbound: Parley's outbox drained by a real worker vs a sequential twilio SDK loop.

The emulator runs under gunicorn in its own process, so it shares no GIL with either
sender. Neither side asks for status callbacks (no PUBLIC_URL), so the emulator does the
same work per message for both. Parley's messages are queued before timing, one Turn per
contact committed like the app does; the clock starts when the outbox is kicked and stops
when the outbox is empty, and the emulator's record is checked afterwards.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

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
from bot.domain.messages import Kind, Status, parse_ref
from bot.runtime import Runtime
from bot.storage import keys

BODY = (
    "Reminder: you have an appointment with Dr. Lee on Tue Dec 1 at 12:30 PM."
    " Reply YES to confirm, NO to cancel or R to reschedule."
)
TARGET = 0.8
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


FULL = Plan(messages=3000, rounds=2)
QUICK = Plan(messages=600, rounds=1)
BASELINE = "sequential `client.messages.create` loop (baseline)"
PARLEY = f"Parley worker, SEND_CONCURRENCY={DEFAULT_CONCURRENCY} (default)"
RUNS: list[tuple[str, dict[str, str] | None]] = [
    (BASELINE, None),
    (PARLEY, {}),
    ("Parley worker, SEND_CONCURRENCY=1", {"SEND_CONCURRENCY": "1"}),
    (
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


def queue(runtime: Runtime, phones: list[str]) -> list[str]:
    """Commit one pending message per phone as a transition does; return their refs.

    The refs are held back from the outbox list, so nothing can send them before the kick.
    """
    ids = []
    for phone in phones:
        contact = runtime.store.load_contact(phone) or runtime.conversations.new_contact(phone)
        turn = Turn(contact, runtime.clock())
        message = turn.send(BODY, Kind.TRANSACTIONAL, journey="appointment_confirmation")
        turn.changes.outbox.clear()
        runtime.store.commit(turn.changes)
        ids.append(message.ref)
    return ids


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
    label: str,
    **env: str,
) -> tuple[Outcome, list[str]]:
    """Time a real `python -m bot worker` sending one queued message per phone."""
    redis.flush()
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
    ids = queue(runtime, phones)
    worker_env = {**deployment_env(redis.url, emulator.url, workdir / "var"), **env}
    name = "worker" + "".join(f"-{k}={v}" for k, v in env.items())
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
    unsent = sum(1 for status in pipe.execute() if status not in SENT)
    if unsent:
        problems.append(f"{label}: {unsent} messages not accepted by the emulator")
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

        numbers = valid_phones(plan.messages + plan.warmup, seed=7)
        phones, warm = numbers[: plan.messages], numbers[plan.messages :]
        results: dict[str, list[Outcome]] = {label: [] for label, _ in RUNS}
        for index in range(plan.rounds):
            # Alternate the order, so that drift over the run favours no one.
            for label, env in RUNS if index % 2 == 0 else RUNS[::-1]:
                problems: list[str] = []
                if env is None:
                    outcome = sequential(emulator, phones, warm, redis)
                else:
                    outcome, problems = parley(emulator, redis, phones, workdir, label, **env)
                section.failures += problems + count(emulator, phones, outcome)
                results[label].append(outcome)
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
    baseline = outcomes[0]
    per_round = [
        ratio(p.rate, b.rate) for b, p in zip(results[BASELINE], results[PARLEY], strict=True)
    ]
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
    main_ratio = ratio(outcomes[1].rate, baseline.rate)
    sender_ms = ratio(outcomes[1].cpu.get("sender", 0.0) * 1000, outcomes[1].sent)
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
        "- Baseline: one twilio SDK `Client` with `client.api.base_url` set to the emulator,"
        f" `client.messages.create(to=..., from_=..., body=...)` in a loop, after {plan.warmup}"
        " untimed warm-up sends on the same client.",
        "- Parley: messages committed as pending (a `Turn` per contact through"
        " `runtime.store.commit`) before timing; the Procfile's worker (`python -m bot worker`)"
        " already running and registered with RQ; timed from `runtime.outbox.push` (append"
        " to the outbox and kick a drain job) until the outbox and its in-flight set are empty."
        " Every message is then checked in Redis (accepted, with a sid) and in the emulator.",
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
