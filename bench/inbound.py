"""Inbound: signed SMS webhooks through Parley's full pipeline vs a bare Flask endpoint.

Both run under the Procfile's web command (gunicorn, same flags), one after the other in
interleaved rounds, driven by the same load generator. Parley's contacts are mid-journey
(appointment_confirmation, started through POST /api/events), so every measured reply
resumes a waiting run: "maybe" and "what time?" get the retry prompt and keep it waiting;
each contact's last reply, "yes" or "R", confirms or hands off to reschedule.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bench.harness import (
    API_TOKEN,
    BUSINESS_NUMBER,
    EMULATOR_SID,
    EMULATOR_TOKEN,
    BenchRedis,
    Service,
    base_env,
    child_pids,
    deployment_env,
    foreign_cpu,
    foreign_share,
    free_port,
    option,
    start_emulator,
    tree_cpu,
    valid_phones,
    web_argv,
)
from bench.load import Call, LoadResult, drive
from bench.report import Section, cpus, ratio, verdict
from bot.domain.contacts import Contact
from bot.storage import keys
from bot.storage.store import Store

SMS_PATH = "/webhooks/twilio/sms"
JOURNEY = "appointment_confirmation"
WAITING_REPLIES = ("maybe", "what time?")  # no branch matches: the retry prompt, still waiting
FINAL_REPLIES = ("yes", "R")  # affirm -> confirmed (goal), reschedule -> handoff
TARGET = 0.5


@dataclass(frozen=True)
class Plan:
    """How much load an inbound run sends."""

    contacts: int
    requests: int
    warmup: int
    rounds: int
    senders: int = 8
    processes: int = 2


FULL = Plan(contacts=4000, requests=8000, warmup=200, rounds=6)
QUICK = Plan(contacts=400, requests=800, warmup=80, rounds=2)
WARMUP_CONTACTS = 100


@dataclass
class Target:
    """A web server under test."""

    name: str
    service: Service
    url: str
    rounds: list[LoadResult]


def webhook(public_url: str, sid: str, phone: str, body: str) -> Call:
    """Return the signed form POST Twilio sends for an inbound SMS."""
    params = {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "NY",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "US",
        "To": BUSINESS_NUMBER,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": EMULATOR_SID,
        "From": phone,
        "ApiVersion": "2010-04-01",
    }
    signature = RequestValidator(EMULATOR_TOKEN).compute_signature(public_url + SMS_PATH, params)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
        "User-Agent": "TwilioProxy/1.1",
    }
    return Call(SMS_PATH, urlencode(params).encode(), headers)


def booking(phone: str, at: datetime) -> Call:
    """Return the business system's POST /api/events that starts the journey for `phone`."""
    body = {
        "phone": phone,
        "event": "appointment_booked",
        "data": {"appointment_at": at.isoformat(), "provider": "Dr. Lee"},
    }
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"}
    return Call("/api/events", json.dumps(body).encode(), headers)


def replies(plan: Plan, contacts: list[str]) -> list[tuple[str, str]]:
    """Return the measured (phone, body) replies: one contact after another, round by round.

    A contact's replies are `plan.contacts` requests apart, so no two senders wait on the
    same contact's lock; only its last reply ends its run.
    """
    out = []
    for index in range(plan.requests):
        slot = index % len(contacts)
        last = index + len(contacts) >= plan.requests
        choices = FINAL_REPLIES if last else WAITING_REPLIES
        out.append((contacts[slot], choices[slot % 2]))
    return out


def chunks(items: list[Call], count: int) -> list[list[Call]]:
    """Split `items` into `count` consecutive, nearly equal parts."""
    size, extra = divmod(len(items), count)
    parts, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        parts.append(items[start:end])
        start = end
    return parts


def serve(
    name: str, app_spec: str, port: int, env: dict[str, str], workdir: Path, stack: ExitStack
) -> Target:
    """Start the Procfile's web command for `app_spec` on `port`; stop it when `stack` closes."""
    service = Service(name, web_argv(app_spec, port, env), env, workdir)
    stack.callback(service.stop)
    url = f"http://127.0.0.1:{port}"
    service.wait_http(url + "/healthz")
    return Target(name, service, url, [])


def check_journeys(store: Store, phones: list[str]) -> int:
    """Return how many of `phones` are not waiting in the journey."""
    pipe = store.redis.pipeline(transaction=False)
    for phone in phones:
        pipe.get(keys.contact(phone))
    missing = 0
    for raw in pipe.execute():
        run = Contact.from_dict(json.loads(raw)).waiting_run() if raw else None
        if run is None or run.journey != JOURNEY:
            missing += 1
    return missing


def run(quick: bool, workdir: Path) -> Section:
    """Run the inbound benchmark and return its results."""
    plan = QUICK if quick else FULL
    section = Section("inbound", "Inbound: signed SMS webhooks, full pipeline vs bare Flask")
    with ExitStack() as stack:
        redis = BenchRedis(workdir / "redis-inbound").start()
        stack.callback(redis.stop)
        emulator, emulator_url = start_emulator(workdir)
        stack.callback(emulator.stop)

        parley_port = free_port()
        parley_env = deployment_env(
            redis.url,
            emulator_url,
            workdir / "var-inbound",
            port=parley_port,
        )
        parley = serve("parley", "parley.app:create_app()", parley_port, parley_env, workdir, stack)
        bare_port = free_port()
        bare_env = base_env(PORT=str(bare_port))
        bare = serve("bare", "bench.bare_app:create_app()", bare_port, bare_env, workdir, stack)

        phones = valid_phones(plan.contacts + WARMUP_CONTACTS)
        contacts, warm_contacts = phones[: plan.contacts], phones[plan.contacts :]
        store = Store(redis.client())
        section.failures += start_journeys(parley, store, phones, plan)

        measured = replies(plan, contacts)
        warm = [(warm_contacts[i % len(warm_contacts)], "maybe") for i in range(plan.warmup)]
        calls = {
            target.name: prepare(target, number, measured, warm, plan.rounds)
            for number, target in enumerate((bare, parley))
        }
        for index in range(plan.rounds):
            for target in (bare, parley) if index % 2 == 0 else (parley, bare):
                rounds, warmups = calls[target.name]
                service = target.service
                result = drive(
                    target.url,
                    rounds[index],
                    warmup=warmups[index],
                    senders=plan.senders,
                    processes=plan.processes,
                    probe=partial(probe, service, redis),
                )
                target.rounds.append(result)

        report(section, plan, bare, parley)
        verify(section, store, plan, measured, bare, parley)
    return section


def start_journeys(parley: Target, store: Store, phones: list[str], plan: Plan) -> list[str]:
    """Book an appointment for every phone through the API; return problems found."""
    at = (datetime.now(UTC) + timedelta(days=3)).replace(hour=17, minute=30, second=0)
    setup = drive(
        parley.url,
        [booking(phone, at.replace(microsecond=0)) for phone in phones],
        senders=plan.senders,
        processes=plan.processes,
    )
    not_waiting = check_journeys(store, phones)
    if setup.failures or not_waiting:
        return [
            f"setup: {setup.failures} failed POST /api/events,"
            f" {not_waiting} contacts not waiting in {JOURNEY}"
        ]
    return []


def prepare(
    target: Target,
    number: int,
    measured: list[tuple[str, str]],
    warm: list[tuple[str, str]],
    rounds: int,
) -> tuple[list[list[Call]], list[list[Call]]]:
    """Return the signed webhooks for `target`: measured calls and warm-ups, per round."""
    sids = (f"SM{number:02x}{n:030x}" for n in range(1, 10**9))
    measured_calls = [webhook(target.url, next(sids), phone, body) for phone, body in measured]
    warmups = [
        [webhook(target.url, next(sids), phone, body) for phone, body in warm]
        for _ in range(rounds)
    ]
    return chunks(measured_calls, rounds), warmups


def probe(service: Service, redis: BenchRedis) -> dict[str, float]:
    """Return CPU seconds so far: the web server, each of its workers, and Redis."""
    counters = {"web": service.cpu(), "redis": redis.cpu(), **foreign_cpu()}
    for pid in child_pids(service.pid):
        counters[f"worker:{pid}"] = tree_cpu(pid)
    return counters


def pooled(results: list[LoadResult]) -> LoadResult:
    """Return the rounds of one target as one result."""
    statuses: Counter[int] = Counter()
    for result in results:
        statuses.update(result.statuses)
    return LoadResult(
        count=sum(r.count for r in results),
        elapsed=sum(r.elapsed for r in results),
        latencies=[x for r in results for x in r.latencies],
        statuses=statuses,
        client_cpu=sum(r.client_cpu for r in results),
        server_cpu={
            name: sum(r.server_cpu.get(name, 0.0) for r in results)
            for name in ("web", "redis", "machine", "ours")
        },
    )


def report(section: Section, plan: Plan, bare: Target, parley: Target) -> None:
    """Add the inbound table and notes to the section."""
    argv = parley.service.argv
    totals = {t.name: pooled(t.rounds) for t in (bare, parley)}
    rows = []
    labels = ((bare, "bare Flask endpoint (baseline)"), (parley, "Parley full pipeline"))
    for target, label in labels:
        result = totals[target.name]
        rows.append(
            [
                label,
                str(result.count),
                f"{result.rate:,.0f}",
                f"{result.p(50):.1f}",
                f"{result.p(99):.1f}",
                f"{result.server_cpu['web'] / result.count * 1000:.2f}",
                f"{result.server_cpu['redis'] / result.count * 1000:.2f}",
                f"{result.client_cpu / result.count * 1000:.2f}",
                str(result.failures),
            ]
        )
    overall = ratio(totals["parley"].rate, totals["bare"].rate)
    both = {
        key: totals["bare"].server_cpu[key] + totals["parley"].server_cpu[key]
        for key in ("machine", "ours")
    }
    foreign = foreign_share(both, totals["bare"].elapsed + totals["parley"].elapsed, cpus())
    bare_web = totals["bare"].server_cpu["web"] / totals["bare"].count * 1000
    parley_web = totals["parley"].server_cpu["web"] / totals["parley"].count * 1000
    parley_redis = totals["parley"].server_cpu["redis"] / totals["parley"].count * 1000
    web_factor = ratio(parley_web, bare_web)
    rates = ", ".join(
        f"{b.rate:,.0f} / {p.rate:,.0f}" for b, p in zip(bare.rounds, parley.rounds, strict=True)
    )
    per_round = [ratio(p.rate, b.rate) for b, p in zip(bare.rounds, parley.rounds, strict=True)]
    workers, threads = option(argv, "--workers"), option(argv, "--threads")
    worker_class = (option(argv, "--worker-class") or "sync").rpartition(".")[2]
    section.add(
        f"_Run: {'quick' if plan is QUICK else 'full'}._ Both servers run `{web_line(argv)}`"
        f" ({workers} workers x {threads} threads, {worker_class}), the Procfile's web line"
        " bound to 127.0.0.1; only the app differs.",
        "",
    )
    section.table(
        [
            "target",
            "requests",
            "req/s",
            "p50 ms",
            "p99 ms",
            "web CPU ms/req",
            "Redis CPU ms/req",
            "client CPU ms/req",
            "failed",
        ],
        rows,
    )
    section.add(
        f"**Parley / bare: {overall:.2f}** (target >= {TARGET:g}: {verdict(overall, TARGET)});"
        f" per round: {', '.join(f'{r:.2f}' for r in per_round)}"
        f" (bare / Parley req/s: {rates}).",
        "",
        f"- Parley's web processes use {web_factor:.1f}x the bare endpoint's CPU per request"
        f" ({parley_web:.2f} vs {bare_web:.2f} ms), plus {parley_redis:.2f} ms of Redis CPU;"
        " with the client on the same 2 CPUs, the ratio follows that CPU more than latency.",
        f"- Load: {plan.senders} concurrent senders ({plan.processes} client processes x"
        f" {plan.senders // plan.processes} threads, one keep-alive `requests.Session` each),"
        f" closed loop, {plan.requests} measured requests per target in {plan.rounds}"
        f" interleaved rounds, each after a warm-up of {plan.warmup} requests on the same"
        " connections. The client shares the machine's CPUs with the servers; its CPU is"
        " shown per request.",
        f"- Requests: Twilio's inbound SMS form (19 fields), X-Twilio-Signature over"
        f" PUBLIC_URL + path, unique MessageSids, {plan.contacts} distinct contacts"
        f" mid-journey in `{JOURNEY}` (started beforehand with POST /api/events"
        " `appointment_booked`). Replies: "
        + ", ".join(f'"{r}"' for r in WAITING_REPLIES + FINAL_REPLIES)
        + " in equal shares; every one resumes a waiting run and queues one reply.",
        "- The worker does not run during this benchmark: the replies Parley queues stay"
        " in the Redis outbox (only the first kick enqueues a drain job).",
        "- CPU columns are CPU seconds used during the measured part (gunicorn master and"
        " workers; the benchmark's redis-server; the client processes) divided by requests.",
        "- Keep-alive connections stay with the gunicorn worker that accepted them, so the"
        " two workers are not always equally loaded; the busiest one did"
        f" {busiest_share(bare.rounds):.0%} (bare) and {busiest_share(parley.rounds):.0%}"
        " (Parley) of the web CPU, averaged over rounds (50% is an even split).",
        f"- Processes not started by the benchmark used {foreign:.0%} of the machine's CPU"
        " during the measured parts (well above 0% means the figures are noisy).",
        "",
    )


def web_line(argv: list[str]) -> str:
    """Return the web command as a shell line, with the app and port left as placeholders."""
    shown = ["gunicorn", "<app>", *argv[2:]]
    for index, arg in enumerate(shown[:-1]):
        if arg in ("--bind", "-b"):
            shown[index + 1] = "127.0.0.1:<port>"
    return " ".join(shown)


def busiest_share(results: list[LoadResult]) -> float:
    """Return the mean share of web CPU that the busiest gunicorn worker used per round."""
    shares = []
    for result in results:
        workers = [v for k, v in result.server_cpu.items() if k.startswith("worker:")]
        if workers and sum(workers) > 0:
            shares.append(max(workers) / sum(workers))
    return sum(shares) / len(shares) if shares else float("nan")


def verify(
    section: Section,
    store: Store,
    plan: Plan,
    measured: list[tuple[str, str]],
    bare: Target,
    parley: Target,
) -> None:
    """Check that every request succeeded and Parley did every measured turn."""
    result, bare_failed = pooled(parley.rounds), pooled(bare.rounds).failures
    if result.failures:
        section.failures.append(f"parley: {result.failures} requests failed: {result.statuses}")
    if bare_failed:
        section.failures.append(f"bare: {bare_failed} requests failed")
    stats = store.stats()
    confirmed = sum(1 for _, body in measured if body == "yes")
    rescheduled = sum(1 for _, body in measured if body == "R")
    got_confirmed = stats.get(f"goal:{JOURNEY}:confirmed", 0)
    got_handoffs = stats.get("handoffs", 0)
    queued = store.redis.llen(keys.OUTBOX)
    expected_queue = plan.contacts + WARMUP_CONTACTS + plan.warmup * plan.rounds + plan.requests
    problems = []
    if got_confirmed != confirmed:
        problems.append(f"{got_confirmed} confirmations, expected {confirmed}")
    if got_handoffs != rescheduled:
        problems.append(f"{got_handoffs} handoffs, expected {rescheduled}")
    if queued != expected_queue:
        problems.append(f"{queued} messages in the outbox, expected {expected_queue}")
    if problems:
        section.failures.append("parley: " + "; ".join(problems))
    section.add(
        f"Checked after the run: {got_confirmed} confirmations, {got_handoffs} handoffs and"
        f" {queued} queued replies in Redis (expected {confirmed}, {rescheduled},"
        f" {expected_queue}); failed requests: Parley {result.failures}, bare {bare_failed}.",
        "",
    )
