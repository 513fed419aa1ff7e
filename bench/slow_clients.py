"""Slow clients: /healthz and signed webhooks while idle and half-sent connections are held.

One server, the Procfile's web command, measured in four rounds after a warm-up: with no
slow clients, twice while a crowd of them holds connections open (each one reopened as
soon as the server closes it, as a client that means it would), and again with none. A
round probes /healthz the way a load balancer does, one new connection at a time, then
sends signed inbound webhooks with the inbound benchmark's load generator.

`python -m bench.slow_clients [--quick] [-- FLAG ...]` runs it alone, the FLAGs added to
the web line (a later gunicorn flag overrides an earlier one), to compare settings.
"""

from __future__ import annotations

import itertools
import selectors
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.harness import (
    BenchRedis,
    Service,
    deployment_env,
    free_port,
    start_emulator,
    valid_phones,
    web_argv,
)
from bench.inbound import SMS_PATH, web_line, webhook
from bench.load import Call, LoadResult, drive, percentile
from bench.report import Section, ratio

PROBE_TIMEOUT = 5.0  # what a load balancer might wait before it marks the process down
PROBE_INTERVAL = 0.25  # seconds from one probe's start to the next one's
# Seconds after which a phase starts no more probes, nor webhooks: a server that stops
# answering would otherwise keep the benchmark waiting for minutes.
BUDGET = 30.0
IDLE, HALF_SENT, DRIBBLING = 50, 50, 10
_HEAD = (
    f"POST {SMS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: x\r\n"
).encode()
# Half of the half-sent connections stop inside the head, half inside a promised body.
_HALF_SENT = (_HEAD, _HEAD + b"Content-Length: 1000\r\n\r\nBody=hel")
_DRIBBLE = _HEAD + b"X-Padding: "  # then one more "a" every second, for ever


@dataclass(frozen=True)
class Plan:
    """How much a run measures."""

    probes: int
    requests: int
    warmup: int
    senders: int = 8
    processes: int = 2


FULL = Plan(probes=24, requests=1250, warmup=300)  # per round; four rounds
QUICK = Plan(probes=8, requests=300, warmup=100)


@dataclass
class Phase:
    """What a phase measured over its rounds: /healthz latencies (s) and failures, the loads."""

    probes: list[float] = field(default_factory=list)
    probe_failures: int = 0
    loads: list[LoadResult] = field(default_factory=list)

    def measure(self, base_url: str, plan: Plan, calls: list[Call]) -> None:
        """Probe /healthz, then send `calls`, and keep what they measured."""
        latencies, failures = probe(base_url, plan.probes)
        self.probes += latencies
        self.probe_failures += failures
        self.loads.append(
            drive(
                base_url,
                calls,
                senders=plan.senders,
                processes=plan.processes,
                timeout=PROBE_TIMEOUT,
                budget=BUDGET,
            )
        )

    @property
    def sent(self) -> int:
        """Return the webhooks sent."""
        return sum(load.count for load in self.loads)

    @property
    def rate(self) -> float:
        """Return webhooks per second over the rounds."""
        return self.sent / sum(load.elapsed for load in self.loads)

    @property
    def failures(self) -> int:
        """Return webhooks that failed or got no 2xx."""
        return sum(load.failures for load in self.loads)

    def webhook_p(self, pct: float) -> float:
        """Return a webhook latency percentile in milliseconds."""
        return percentile([x for load in self.loads for x in load.latencies], pct) * 1000


class SlowClients:
    """Hold idle, half-sent and dribbling connections to a port, reopening any that close."""

    def __init__(self, port: int, idle: int = IDLE, half: int = HALF_SENT, drip: int = DRIBBLING):
        self.port = port
        self.closed: Counter[str] = Counter()  # connections the server closed, by kind
        half_sent = itertools.islice(itertools.cycle(_HALF_SENT), half)
        self._clients = (
            [("idle", b"")] * idle
            + [("half-sent", sent) for sent in half_sent]
            + [("dribbling", _DRIBBLE)] * drip
        )
        self._sockets: dict[socket.socket, tuple[str, bytes]] = {}
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hold, name="slow-clients", daemon=True)

    def __enter__(self) -> SlowClients:
        for client in self._clients:
            self._open(client)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in list(self._sockets):
            self._close(sock)
        self._selector.close()

    def _open(self, client: tuple[str, bytes]) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=PROBE_TIMEOUT)
        sock.sendall(client[1])
        sock.setblocking(False)
        self._sockets[sock] = client
        self._selector.register(sock, selectors.EVENT_READ)

    def _close(self, sock: socket.socket) -> tuple[str, bytes]:
        self._selector.unregister(sock)
        sock.close()
        return self._sockets.pop(sock)

    def _hold(self) -> None:
        next_drip = time.monotonic() + 1.0
        while not self._stop.is_set():
            for key, _ in self._selector.select(max(0.0, next_drip - time.monotonic())):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    if sock.recv(4096):  # a 408 or 400 first: the close comes next
                        continue
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                client = self._close(sock)
                self.closed[client[0]] += 1
                with suppress(OSError):  # not accepted in time: one fewer for the rest
                    self._open(client)
            if time.monotonic() >= next_drip:
                next_drip += 1.0
                for sock, (kind, _) in list(self._sockets.items()):
                    if kind == "dribbling":
                        with suppress(OSError):  # closed: the selector reports it
                            sock.send(b"a")


def probe(base_url: str, count: int) -> tuple[list[float], int]:
    """GET /healthz `count` times, a new connection each; return latencies (s) and failures."""
    latencies: list[float] = []
    failures = 0
    stop_at = time.monotonic() + BUDGET
    for index in range(count):
        if time.monotonic() > stop_at:
            break
        if index:
            time.sleep(max(0.0, PROBE_INTERVAL - latencies[-1]))
        started = time.perf_counter()
        try:
            ok = requests.get(base_url + "/healthz", timeout=PROBE_TIMEOUT).status_code == 200
        except requests.RequestException:
            ok = False
        latencies.append(time.perf_counter() - started)
        failures += not ok
    return latencies, failures


def run(quick: bool, workdir: Path, web_args: tuple[str, ...] = ()) -> Section:
    """Run the slow-clients benchmark (extra gunicorn flags in `web_args`); return its results."""
    plan = QUICK if quick else FULL
    section = Section("slow_clients", "Slow clients: serving while connections are held open")
    phases = {"none": Phase(), "held": Phase()}
    with ExitStack() as stack:
        redis = BenchRedis(workdir / "redis-slow").start()
        stack.callback(redis.stop)
        emulator, emulator_url = start_emulator(workdir)
        stack.callback(emulator.stop)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = deployment_env(
            redis.url,
            emulator_url,
            workdir / "var-slow",
            port=port,
        )
        argv = web_argv("parley.app:create_app()", port, env) + list(web_args)
        web = Service("web-slow", argv, env, workdir)
        stack.callback(web.stop)
        web.wait_http(base_url + "/healthz")

        phones = iter(valid_phones(plan.warmup + 4 * plan.requests, seed=11))
        sids = (f"SM5c{n:030x}" for n in itertools.count(1))

        def calls(count: int) -> list[Call]:
            return [webhook(base_url, next(sids), next(phones), "hi") for _ in range(count)]

        drive(base_url, calls(plan.warmup), senders=plan.senders, processes=plan.processes)
        # none, held, held, none: drift over the run favours neither, and the slow clients
        # stay for both held rounds, longer than the server's deadline for a request.
        phases["none"].measure(base_url, plan, calls(plan.requests))
        with SlowClients(port) as held:
            time.sleep(1.0)  # let the server take them all in
            for _ in range(2):
                phases["held"].measure(base_url, plan, calls(plan.requests))
        phases["none"].measure(base_url, plan, calls(plan.requests))
        report(section, plan, phases, held.closed, argv)
    return section


def report(
    section: Section, plan: Plan, phases: dict[str, Phase], closed: Counter[str], argv: list[str]
) -> None:
    """Add the table and notes to the section, and a failure if the held phase lost requests."""
    none, crowd = phases["none"], phases["held"]
    labels = {
        "none": "no slow clients (baseline)",
        "held": f"{IDLE} idle + {HALF_SENT} half-sent + {DRIBBLING} dribbling held",
    }
    rows = []
    for name, phase in phases.items():
        rows.append(
            [
                labels[name],
                str(len(phase.probes)),
                f"{percentile(phase.probes, 50) * 1000:.1f}",
                f"{percentile(phase.probes, 99) * 1000:.1f}",
                str(phase.probe_failures),
                str(phase.sent),
                f"{phase.rate:,.0f}",
                f"{phase.webhook_p(99):.1f}",
                str(phase.failures),
            ]
        )
    section.add(
        f"_Run: {'quick' if plan is QUICK else 'full'}._ The server runs `{web_line(argv)}`,"
        " the Procfile's web line bound to 127.0.0.1.",
        "",
    )
    section.table(
        [
            "phase",
            "/healthz probes",
            "p50 ms",
            "p99 ms",
            f"no 200 within {PROBE_TIMEOUT:g} s",
            "webhooks",
            "req/s",
            "webhook p99 ms",
            "failed",
        ],
        rows,
    )
    by_kind = ", ".join(f"{closed[k]} {k}" for k in ("idle", "half-sent", "dribbling"))
    section.add(
        f"**Held / none: req/s {ratio(crowd.rate, none.rate):.2f}, /healthz p99"
        f" {percentile(crowd.probes, 99) * 1000:.1f} vs"
        f" {percentile(none.probes, 99) * 1000:.1f} ms.**",
        "",
        f"- Slow clients: {IDLE} connect and send nothing; {HALF_SENT} send part of a webhook"
        " (half stop inside the head, half after the head with 8 of 1000 promised body bytes);"
        f" {DRIBBLING} send a head one byte a second. Each is reopened as soon as the server"
        f" closes it; while held, the server closed {by_kind}.",
        "- Rounds: none, held, held, none (the slow clients stay for both held rounds);"
        " each phase's row pools its two rounds.",
        f"- /healthz: {plan.probes} probes a round, {PROBE_INTERVAL:g} s apart, each on a new"
        f" connection with a {PROBE_TIMEOUT:g} s timeout (a probe that times out counts that"
        f" long); then the webhooks. Neither starts more after {BUDGET:g} s.",
        f'- Webhooks: {plan.requests} signed inbound SMS webhooks a round ("hi" from a new'
        f" contact each), {plan.senders} keep-alive senders in {plan.processes} processes,"
        f" each request with a {PROBE_TIMEOUT:g} s timeout, after {plan.warmup} untimed"
        " warm-up requests at the start.",
        "",
    )
    if crowd.probe_failures or crowd.failures or none.failures:
        section.failures.append(
            f"with slow clients held: {crowd.probe_failures} /healthz probes and"
            f" {crowd.failures} webhooks failed; without: {none.failures} webhooks"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="parley-slow-") as tmp:
        args = sys.argv[1:]
        extra = tuple(args[args.index("--") + 1 :]) if "--" in args else ()
        print(run("--quick" in args, Path(tmp), extra).markdown())
