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
from bot.storage import redis_server

SANDBOX_PORT = 8025


def procfile(path: Path = PROJECT_ROOT / "Procfile") -> dict[str, str]:
    """Return the process types of a Procfile and their commands."""
    entries = {}
    for line in path.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            entries[name.strip()] = command.strip()
    return entries


def run(port: int = 5000) -> int:
    """Start everything, print how to talk to it once it answers, and stop it all on Ctrl-C."""
    settings = Settings.from_env()
    # Without Twilio credentials nothing outside this machine needs to reach the web process,
    # and /api is open without API_TOKEN: keep it on loopback.
    host = "127.0.0.1" if settings.sandbox else "0.0.0.0"
    if not port_free(host, port):
        print(
            f"parley: port {port} is already in use; choose another, e.g. PORT={port + 1} make run",
            file=sys.stderr,
            flush=True,
        )
        return 1
    env = dict(os.environ, PORT=str(port), PYTHONUNBUFFERED="1")
    env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    redis_process = None
    if not settings.redis_url:
        var = settings.var_dir
        socket_path = var / "redis.sock"
        redis_process = redis_server.start_server(var, socket=socket_path, appendonly=True)
        env["REDIS_URL"] = f"unix://{socket_path}"
        _wait_for_redis(env["REDIS_URL"], redis_process)
        print(f"parley: embedded Redis, data in {var}", flush=True)
    if settings.sandbox:
        env.setdefault("TWILIO_API_BASE", f"http://127.0.0.1:{SANDBOX_PORT}")
        emulator = [sys.executable, "-m", "bot", "emulator", "--port", str(SANDBOX_PORT)]
        children.append(("sandbox", _spawn(emulator, env)))
        print("parley: no Twilio credentials, so texts go to the local sandbox", flush=True)
        if not settings.business_contact:
            print(
                "parley: BUSINESS_CONTACT is unset; set it before going live, as HELP replies"
                " quote it",
                flush=True,
            )
    for name, command in procfile().items():
        if name == "web":
            command = bound_to(command, host)
        if name in ("web", "worker"):
            children.append((name, _spawn(["sh", "-c", f"exec {command}"], env)))
    print(f"parley: starting web and worker on port {port}", flush=True)
    banner = (
        f"parley: listening on http://127.0.0.1:{port}\n"
        f"parley: talk to it with  .venv/bin/python -m bot chat +14155550123\n"
        "parley: Ctrl-C stops everything"
    )
    code = _supervise(children, f"http://127.0.0.1:{port}/healthz", banner)
    if redis_process is not None:
        redis_process.terminate()  # SIGTERM: Redis flushes its append-only file and exits
        redis_process.wait(timeout=10)
    return code


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


def _wait_for_redis(url: str, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis_server.connect(url).ping()
            return
        except Exception:
            if process is not None and process.poll() is not None:
                raise RuntimeError("embedded Redis exited at start; see var/redis.log") from None
            time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not answer at {url}")
