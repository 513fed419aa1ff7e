"""The Procfile's own commands, run by tests against the suite's Redis and emulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

from bot.devserver import procfile
from bot.emulator import EmulatorServer
from tests.conftest import BUSINESS_NUMBER

ROOT = Path(__file__).resolve().parent.parent


def procfile_env(
    port: int, redis_url: str, emulator: EmulatorServer, var_dir: Path, **extra: str
) -> dict[str, str]:
    """Return the environment for the Procfile's commands: this suite's Redis and emulator."""
    env = dict(
        os.environ,
        PORT=str(port),
        WEB_CONCURRENCY="2",
        REDIS_URL=redis_url,
        TWILIO_ACCOUNT_SID=emulator.account_sid,
        TWILIO_AUTH_TOKEN=emulator.auth_token,
        TWILIO_FROM_NUMBER=BUSINESS_NUMBER,
        TWILIO_API_BASE=emulator.base_url,
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        PARLEY_VAR_DIR=str(var_dir),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    env.update(extra)
    return env


@contextmanager
def running(names: Sequence[str], env: dict[str, str], log_dir: Path) -> Iterator[None]:
    """Run the Procfile's `names` commands, each in its own process group, and stop them after."""
    commands = procfile()
    processes = []
    try:
        for name in names:
            with open(log_dir / f"{name}.log", "wb") as log:
                processes.append(
                    subprocess.Popen(
                        ["sh", "-c", commands[name]],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def wait_healthy(base: str, timeout: float = 30.0) -> None:
    """Wait until the web process at `base` answers /healthz with 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or busy starting
            pass
        time.sleep(0.1)
    raise AssertionError(f"the web process at {base} did not answer /healthz in {timeout}s")
