"""A closed-loop HTTP load generator: client processes, each with threads on keep-alive sessions."""

from __future__ import annotations

import math
import multiprocessing
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

REQUEST_TIMEOUT = 30.0
RUN_TIMEOUT = 600.0


@dataclass(frozen=True)
class Call:
    """One prepared HTTP request (a POST unless `method` says): path, encoded body, headers.

    Redirects are not followed: a 302 is the answer measured.
    """

    path: str
    body: bytes
    headers: dict[str, str]
    method: str = "POST"


@dataclass
class LoadResult:
    """What a measured run of calls did."""

    count: int
    elapsed: float
    latencies: list[float]
    statuses: Counter[int]
    client_cpu: float
    server_cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Return completed requests per second."""
        return self.count / self.elapsed

    @property
    def failures(self) -> int:
        """Return requests that failed or got a status outside 2xx (0 means no answer)."""
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def p(self, pct: float) -> float:
        """Return a latency percentile in milliseconds."""
        return percentile(self.latencies, pct) * 1000


def percentile(values: list[float], pct: float) -> float:
    """Return the `pct` percentile of `values` (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def _gather(channel: Any, workers: list[Any], deadline: float) -> list[Any]:
    """Return one message from each worker process, failing fast if one of them dies."""
    messages: list[Any] = []
    while len(messages) < len(workers):
        try:
            messages.append(channel.get(timeout=0.5))
        except queue.Empty:
            dead = [w.name for w in workers if w.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"load generator process failed: {', '.join(dead)}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"load generator did not finish in {RUN_TIMEOUT}s") from None
    return messages


def _send_all(
    base_url: str,
    calls: list[Call],
    sessions: list[requests.Session],
    timeout: float,
    stop_at: float = math.inf,
) -> list[tuple[float, int]]:
    """Send the calls from one thread per session until done or `stop_at`; return results."""
    pending = deque(calls)
    results: list[tuple[float, int]] = []

    def sender(session: requests.Session) -> None:
        while time.monotonic() < stop_at:
            try:
                call = pending.popleft()
            except IndexError:
                return
            started = time.perf_counter()
            try:
                response = session.request(
                    call.method,
                    base_url + call.path,
                    data=call.body or None,
                    headers=call.headers,
                    timeout=timeout,
                    allow_redirects=False,
                )
                status = response.status_code
            except requests.RequestException:
                status = 0
            results.append((time.perf_counter() - started, status))

    threads = [threading.Thread(target=sender, args=(s,), daemon=True) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _client(
    base_url: str,
    warmup: list[Call],
    calls: list[Call],
    threads: int,
    timeout: float,
    budget: float,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """Run in a client process: warm up, report ready, wait for go, send, report results."""
    sessions = [requests.Session() for _ in range(threads)]
    try:
        _send_all(base_url, warmup, sessions, timeout)
        ready.put(True)
        if not go.wait(RUN_TIMEOUT):
            return
        cpu = time.process_time()
        results = _send_all(base_url, calls, sessions, timeout, time.monotonic() + budget)
        out.put((results, time.monotonic(), time.process_time() - cpu))
    finally:
        for session in sessions:
            session.close()


def drive(
    base_url: str,
    calls: list[Call],
    warmup: list[Call] | None = None,
    senders: int = 8,
    processes: int = 2,
    probe: Callable[[], dict[str, float]] | None = None,
    timeout: float = REQUEST_TIMEOUT,
    budget: float = math.inf,
) -> LoadResult:
    """Send `warmup`, then time `calls`, with `senders` concurrent keep-alive connections.

    The senders are split over `processes` client processes so that one GIL does not cap
    the load; each process keeps its connections from the warm-up into the measured part.
    `probe` returns counters (CPU seconds) whose change over the measured part is recorded.
    A request with no answer within `timeout` seconds counts as failed (status 0); no
    request starts after `budget` seconds of the measured part, so some may not be sent.
    """
    processes = max(1, min(processes, senders))
    context = multiprocessing.get_context("spawn")
    ready, out, go = context.Queue(), context.Queue(), context.Event()
    workers = []
    for index in range(processes):
        threads = senders // processes + (1 if index < senders % processes else 0)
        share = calls[index::processes]
        warm = (warmup or [])[index::processes]
        process = context.Process(
            target=_client,
            args=(base_url, warm, share, threads, timeout, budget, ready, go, out),
            name=f"bench-client-{index}",
            daemon=True,
        )
        process.start()
        workers.append(process)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        _gather(ready, workers, deadline)
        before = probe() if probe else {}
        started = time.monotonic()
        go.set()
        reports = _gather(out, workers, deadline)
        after = probe() if probe else {}
        for process in workers:
            process.join(timeout=10)
    finally:
        for process in workers:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
    latencies = [latency for results, _, _ in reports for latency, _ in results]
    statuses = Counter(status for results, _, _ in reports for _, status in results)
    finished = max(end for _, end, _ in reports)
    return LoadResult(
        count=len(latencies),
        elapsed=finished - started,
        latencies=latencies,
        statuses=statuses,
        client_cpu=sum(cpu for _, _, cpu in reports),
        server_cpu={name: after[name] - before[name] for name in after if name in before},
    )
