"""`python -m bot run` (what `make run` runs): its banner, a taken port, and where it listens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.devserver import bound_to, procfile
from tests.conftest import free_port
from tests.processes import wait_until

ROOT = Path(__file__).resolve().parents[2]
TWILIO_VARIABLES = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE")


def sandbox_env(redis_url: str, port: int, var_dir: Path) -> dict[str, str]:
    """Return the environment of `make run` without Twilio credentials, on the suite's Redis."""
    env = {key: value for key, value in os.environ.items() if key not in TWILIO_VARIABLES}
    env.update(
        PORT=str(port),
        SANDBOX_PORT=str(free_port()),
        REDIS_URL=redis_url,
        PARLEY_VAR_DIR=str(var_dir),
        WEB_CONCURRENCY="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def non_loopback_address() -> str | None:
    """Return an IPv4 address of this machine other than loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # UDP: picks the outgoing address, sends nothing
        except OSError:  # no route: only loopback
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def healthy(base: str) -> bool:
    """Say whether /healthz at `base` answers 200 right now."""
    try:
        return requests.get(f"{base}/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def running(redis_url: str, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Run `python -m bot run` in sandbox mode until it says it is listening."""
    port = free_port()
    output = tmp_path / "run.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--sandbox-port", str(free_port())],
        cwd=ROOT,
        env=sandbox_env(redis_url, port, tmp_path / "var"),
        stdout=open(output, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(
            lambda: "parley: listening on" in output.read_text() or process.poll() is not None,
            60,
            "the listening banner",
        )
        assert process.poll() is None, output.read_text()
        yield port, output
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_run_on_a_taken_port_says_so_in_one_line_and_exits(redis_url: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot", "run"],
            cwd=ROOT,
            env=sandbox_env(redis_url, port, tmp_path / "var"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert "parley: listening on" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(port) in lines[0] and "PORT=" in lines[0]


def test_run_with_the_sandbox_port_taken_says_which_and_exits(
    redis_url: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        sandbox_port = taken.getsockname()[1]
        env = sandbox_env(redis_url, free_port(), tmp_path / "var")
        env["SANDBOX_PORT"] = str(sandbox_port)
        result = subprocess.run(
            [sys.executable, "-m", "bot", "run"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(sandbox_port) in lines[0] and "SANDBOX_PORT=" in lines[0]


def test_run_prints_the_banner_once_healthz_answers(running: tuple[int, Path]) -> None:
    port, output = running
    assert f"listening on http://127.0.0.1:{port}" in output.read_text()
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200


def test_run_in_sandbox_mode_listens_on_loopback_only(running: tuple[int, Path]) -> None:
    port, _ = running
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), 60, "the web process on loopback")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{address}:{port}/healthz", timeout=5)


def test_the_sandbox_binds_the_procfile_web_command_to_loopback() -> None:
    web = bound_to(procfile()["web"], "127.0.0.1")
    assert "--bind 127.0.0.1:" in web and "0.0.0.0" not in web
