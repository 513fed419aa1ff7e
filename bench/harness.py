"""The processes a benchmark runs: its own Redis, gunicorn servers, the emulator, the worker."""

from __future__ import annotations

import os
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path

import redis
import requests

from bot.config import PROJECT_ROOT
from bot.domain import phones
from bot.storage import redis_server
from bot.storage.redis_server import RedisProcess
from sandbox.devserver import procfile
from sandbox.emulator_callbacks import UNDELIVERABLE_SUFFIX

VENV_BIN = Path(sys.executable).parent
BUSINESS_NUMBER = "+15005550006"
EMULATOR_SID = "AC" + "b3" * 16
EMULATOR_TOKEN = "bench-emulator-token"
API_TOKEN = "bench-api-token"
EMULATOR_THREADS = 16

# Parley's settings (bot.config.Settings.from_env) and the emulator's: a benchmark sets the
# ones it needs, so nothing from the caller's shell (a REDIS_URL, real Twilio keys) leaks in.
# WEB_CONCURRENCY and WEB_THREADS are kept: they are the Procfile's own knobs.
_CONFIG_VARS = frozenset(
    {
        "REDIS_URL",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_FROM_NUMBER",
        "TWILIO_MESSAGING_SERVICE_SID",
        "TWILIO_API_BASE",
        "PUBLIC_URL",
        "API_TOKEN",
        "SECRET_KEY",
        "FLOWS_DIR",
        "DEFAULT_TIMEZONE",
        "DEFAULT_REGION",
        "BUSINESS_NAME",
        "BUSINESS_CONTACT",
        "PARLEY_VAR_DIR",
        "SEND_CONCURRENCY",
        "SEND_TIMEOUT",
        "QUIET_HOURS",
        "FREQUENCY_CAP",
        "LOG_LEVEL",
        "PORT",
        "EMULATOR_ACCOUNT_SID",
        "EMULATOR_AUTH_TOKEN",
        "EMULATOR_CALLBACK_DELAY",
    }
)
_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")
_APP = re.compile(r"^[\w.]+:[\w.]+(\(.*\))?$")  # gunicorn's 'module:callable()' argument


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(**extra: str) -> dict[str, str]:
    """Return the caller's environment without Parley settings, the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in _CONFIG_VARS}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def deployment_env(
    redis_url: str, api_base: str, var_dir: Path, *, port: int | None = None, **extra: str
) -> dict[str, str]:
    """Return base_env() for Parley's processes against this Redis and Twilio emulator.

    With `port`, the web process's too: it listens there and is its own PUBLIC_URL.
    """
    env = {
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": EMULATOR_SID,
        "TWILIO_AUTH_TOKEN": EMULATOR_TOKEN,
        "SECRET_KEY": "bench-secret-key",
        "TWILIO_FROM_NUMBER": BUSINESS_NUMBER,
        "TWILIO_API_BASE": api_base,
        "PARLEY_VAR_DIR": str(var_dir),
    }
    if port is not None:
        env |= {"PUBLIC_URL": f"http://127.0.0.1:{port}", "API_TOKEN": API_TOKEN, "PORT": str(port)}
    return base_env(**env, **extra)


def procfile_argv(kind: str, env: Mapping[str, str]) -> list[str]:
    """Return the Procfile's `kind` command as argv, its ${VAR:-default}s expanded from `env`."""
    command = procfile()[kind]

    def expand(match: re.Match[str]) -> str:
        name = match[1] or match[3]
        return env.get(name) or (match[2] or "")

    argv = shlex.split(_VARIABLE.sub(expand, command))
    local = VENV_BIN / argv[0]
    if local.exists():
        argv[0] = str(local)
    return argv


def web_argv(app_spec: str, port: int, env: Mapping[str, str]) -> list[str]:
    """Return the Procfile's web command serving `app_spec`, bound to 127.0.0.1:`port` only."""
    argv = procfile_argv("web", env)
    out, app_replaced, index = [argv[0]], False, 1
    while index < len(argv):
        arg = argv[index]
        if arg in ("--bind", "-b"):
            out += [arg, f"127.0.0.1:{port}"]
            index += 2
            continue
        if arg.startswith("--bind="):
            arg = f"--bind=127.0.0.1:{port}"
        elif not app_replaced and _APP.match(arg):
            arg, app_replaced = app_spec, True
        out.append(arg)
        index += 1
    if not app_replaced:
        raise RuntimeError(f"no app in the Procfile's web line: {shlex.join(argv)}")
    return out


def option(argv: list[str], name: str) -> str | None:
    """Return the value of `--name value` in argv, if present."""
    for index, arg in enumerate(argv[:-1]):
        if arg == name:
            return argv[index + 1]
    return None


def _proc_table() -> dict[int, tuple[int, int]]:
    """Return {pid: (parent pid, CPU ticks including reaped children)} for every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    return table


def child_pids(pid: int) -> list[int]:
    """Return the pids of the living children of `pid`."""
    return sorted(child for child, (parent, _) in _proc_table().items() if parent == pid)


def descendants(pid: int) -> list[int]:
    """Return the pids of every living descendant of `pid`."""
    children: dict[int, list[int]] = {}
    for child, (parent, _) in _proc_table().items():
        children.setdefault(parent, []).append(child)
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def tree_cpu(pid: int) -> float:
    """Return CPU seconds used so far by `pid`, its living descendants and reaped children."""
    table = _proc_table()
    pids = {pid, *descendants(pid)}
    ticks = sum(table[p][1] for p in pids if p in table)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float:
    """Return CPU seconds every process on the machine has spent in user and system mode."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return sum(int(f) for f in fields[:3]) / os.sysconf("SC_CLK_TCK")


def foreign_cpu() -> dict[str, float]:
    """Return counters whose difference is the CPU that processes not started here used."""
    return {"machine": machine_cpu(), "ours": tree_cpu(os.getpid())}


def foreign_share(cpu: Mapping[str, float], elapsed: float, cpus: int) -> float:
    """Return the share of the machine's CPU other processes used over `elapsed` seconds."""
    if elapsed <= 0 or "machine" not in cpu:
        return float("nan")
    return max(0.0, cpu["machine"] - cpu["ours"]) / (elapsed * cpus)


class Service:
    """A child process in its own session; stop() ends it and everything it started."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_dir / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                argv,
                env=dict(env),
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """Return the process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Say whether the process still runs."""
        return self.process.poll() is None

    def cpu(self) -> float:
        """Return CPU seconds used so far by the process and its children."""
        return tree_cpu(self.pid)

    def tail(self, lines: int = 25) -> str:
        """Return the end of the process's stderr."""
        with suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def failed(self, what: str) -> RuntimeError:
        """Return an error saying `what` went wrong, with the process's last log lines."""
        return RuntimeError(f"{self.name}: {what}\n--- {self.log_path} ---\n{self.tail()}")

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        """Wait until `url` answers HTTP at all (any status)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise self.failed(f"exited with {self.process.returncode} during start-up")
            try:
                requests.get(url, timeout=1.0)
                return
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise self.failed(f"no answer at {url} after {timeout}s") from None
                time.sleep(0.05)

    def stop(self, grace: float = 10.0) -> None:
        """Send SIGTERM to the process group, then SIGKILL whatever of it is left."""
        family = descendants(self.pid) if self.alive() else []
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=grace)
        # Children that left the group (an RQ work horse calls setsid) are ended one by one.
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        for pid in family:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class BenchRedis(RedisProcess):
    """The benchmark's own redis-server, append-only file off, with its CPU accounted."""

    def client(self) -> redis.Redis:
        """Return a client that decodes responses."""
        return redis_server.connect(self.url)

    def flush(self) -> None:
        """Empty the database."""
        self.client().flushall()

    def cpu(self) -> float:
        """Return CPU seconds the server has used so far."""
        return tree_cpu(self.process.pid) if self.process else 0.0


def start_emulator(log_dir: Path) -> tuple[Service, str]:
    """Start the Twilio emulator under gunicorn in its own process; return it and its URL."""
    port = free_port()
    gunicorn = str(VENV_BIN / "gunicorn")
    argv = [
        gunicorn, "sandbox.emulator:create_emulator()",
        "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--threads", str(EMULATOR_THREADS), "--worker-class", "gthread",
        "--log-level", "warning",
    ]  # fmt: skip
    env = base_env(EMULATOR_ACCOUNT_SID=EMULATOR_SID, EMULATOR_AUTH_TOKEN=EMULATOR_TOKEN)
    service = Service("emulator", argv, env, log_dir)
    url = f"http://127.0.0.1:{port}"
    service.wait_http(f"{url}/_emulator/messages")
    return service, url


def valid_phones(count: int, seed: int = 2026) -> list[str]:
    """Return `count` distinct US mobile-style numbers bot.domain.phones takes as assigned."""
    rng = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < count:
        area = rng.choice((212, 415, 646))
        exchange = rng.randint(200, 999)
        raw = f"+1{area}{exchange}{rng.randint(0, 9999):04d}"
        if exchange == 555 or raw.endswith(UNDELIVERABLE_SUFFIX):
            continue
        try:
            found[phones.normalize(raw)] = None
        except phones.InvalidPhone:
            continue
    return list(found)
