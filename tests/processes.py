"""The Procfile's own processes, started for a test against a Redis and the emulator."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from sandbox.devserver import procfile
from sandbox.emulator_server import EmulatorServer
from tests.conftest import BUSINESS_NUMBER, free_port, sign
from tests.texting import new_sid

ROOT = Path(__file__).resolve().parent.parent
API_TOKEN = "e2e-token"


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy and return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def environment(
    redis_url: str, emulator: EmulatorServer, port: int, var_dir: Path, **extra: str
) -> dict[str, str]:
    """Return the environment a deployment of Parley against these servers would have."""
    return dict(
        os.environ,
        PORT=str(port),
        WEB_CONCURRENCY="2",
        REDIS_URL=redis_url,
        TWILIO_ACCOUNT_SID=emulator.account_sid,
        TWILIO_AUTH_TOKEN=emulator.auth_token,
        TWILIO_FROM_NUMBER=BUSINESS_NUMBER,
        TWILIO_API_BASE=emulator.base_url,
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        API_TOKEN=API_TOKEN,
        SECRET_KEY="test-secret-key",
        BUSINESS_NAME="Bright Smile Dental",
        PARLEY_VAR_DIR=str(var_dir),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    )


def descendants(pid: int) -> list[int]:
    """Return the pids of every live process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Processes:
    """Procfile processes by name: start, kill and stop them; their output goes to logs."""

    def __init__(self, env: Mapping[str, str], log_dir: Path) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        self.running: dict[str, list[subprocess.Popen[bytes]]] = {}
        self.commands = procfile()

    def start(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        """Start one more process of type `name` (web, worker), `env` added to its own."""
        number = len(self.running.get(name, []))
        process = subprocess.Popen(
            ["sh", "-c", f"exec {self.commands[name]}"],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=open(self.log_dir / f"{name}.{number}.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.setdefault(name, []).append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL a process and everything it started, as a crash or the OOM killer would.

        RQ's work horses run in process groups of their own, so they are found by parentage.
        """
        doomed = [process.pid, *descendants(process.pid)]
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)

    def log(self, name: str, number: int = 0) -> str:
        """Return what a process has written so far."""
        return (self.log_dir / f"{name}.{number}.log").read_text(errors="replace")

    def stop(self) -> None:
        """Stop every process: SIGTERM, then SIGKILL for any that linger."""
        everything = [p for group in self.running.values() for p in group]
        for process in everything:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in everything:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


class Parley:
    """An HTTP client for a running web process, as Twilio and business systems use it."""

    def __init__(self, base: str, auth_token: str, phone: str = "+14155550123") -> None:
        self.base = base
        self.auth_token = auth_token
        self.phone = phone
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {API_TOKEN}"

    def text(
        self, body: str, sid: str | None = None, phone: str | None = None, timeout: float = 30
    ) -> requests.Response:
        """Deliver an inbound SMS as a signed Twilio webhook."""
        url = f"{self.base}/webhooks/twilio/sms"
        params = {
            "MessageSid": sid or new_sid(),
            "From": phone or self.phone,
            "To": BUSINESS_NUMBER,
            "Body": body,
        }
        signature = sign(url, params, self.auth_token)
        return self.http.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, timeout=timeout
        )

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the JSON API."""
        return self.http.request(method, f"{self.base}/api{path}", timeout=10, **kwargs)

    def contact(self, phone: str | None = None) -> dict[str, Any]:
        """Return a contact as the API shows it."""
        return self.api("GET", f"/contacts/{phone or self.phone}").json()

    def messages(self, phone: str | None = None) -> list[dict[str, Any]]:
        """Return a contact's messages as the API shows them."""
        return self.api("GET", f"/contacts/{phone or self.phone}/messages").json()

    def healthy(self) -> bool:
        """Say whether /healthz answers 200 right now."""
        try:
            return requests.get(f"{self.base}/healthz", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or busy starting
            return False


@contextmanager
def deployment(
    redis_url: str,
    emulator: EmulatorServer,
    tmp_path: Path,
    *,
    web: int = 1,
    workers: int = 1,
    recorders: int = 0,
    env: Mapping[str, str] | None = None,
    **extra: str,
) -> Iterator[tuple[Parley, Processes]]:
    """Run the Procfile's web, worker (and recorder) processes; yield a client and them.

    Their environment has `env` and `extra` added to what environment() gives.
    """
    port = free_port()
    added = {**(env or {}), **extra}
    processes = Processes(
        environment(redis_url, emulator, port, tmp_path / "var", **added), tmp_path
    )
    try:
        for _ in range(web):
            processes.start("web")
        for _ in range(workers):
            processes.start("worker")
        for _ in range(recorders):
            processes.start("recorder")
        parley = Parley(f"http://127.0.0.1:{port}", emulator.auth_token)
        if web:
            wait_until(parley.healthy, 30, "the web process to answer /healthz")
        yield parley, processes
    finally:
        processes.stop()
