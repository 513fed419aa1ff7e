"""A throwaway PostgreSQL server: initdb and pg_ctl from the machine, a temp folder.

The test suite starts one for the record, and so does the record benchmark (bench/record.py).
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import psycopg
from psycopg import sql

# Where Debian's postgresql-NN packages put the server binaries; initdb is not on PATH there.
DEBIAN_LIB = Path("/usr/lib/postgresql")
OS_USER = "postgres"
START_TIMEOUT = 30.0
PORT_ATTEMPTS = 3
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were found neither on PATH nor in "
    f"{DEBIAN_LIB}/*/bin. Install the Debian package `postgresql` "
    "(`apt-get install -y postgresql`); `make test` does that when they are missing."
)


class PostgresNotInstalled(RuntimeError):
    """Raised when no PostgreSQL server binaries can be found."""


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    """Return a sort key that orders /usr/lib/postgresql/NN/bin by NN as a number."""
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))


def find_bin_dir(path: str | None = None, lib_root: Path = DEBIAN_LIB) -> Path:
    """Return the folder holding initdb and pg_ctl: PATH's, else the newest under `lib_root`."""
    on_path = shutil.which("initdb", path=path)
    if on_path:
        # Resolve symlinks so pg_ctl comes from the same installation as initdb.
        folder = Path(on_path).resolve().parent
        if (folder / "pg_ctl").exists():
            return folder
    candidates = sorted(
        (initdb.parent for initdb in lib_root.glob("*/bin/initdb")), key=_version_key
    )
    for folder in reversed(candidates):
        if (folder / "pg_ctl").exists():
            return folder
    raise PostgresNotInstalled(INSTALL_HINT)


def _traversable_by(folder: Path, uid: int, gid: int) -> bool:
    """Say whether the user `uid`/`gid` may enter `folder` and every folder above it."""
    for part in [folder, *folder.parents]:
        mode = part.stat()
        if mode.st_uid == uid:
            allowed = mode.st_mode & stat.S_IXUSR
        elif mode.st_gid == gid:
            allowed = mode.st_mode & stat.S_IXGRP
        else:
            allowed = mode.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free 127.0.0.1 port, trusting every local user."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        # initdb refuses to run as root, so as root the tools run as the `postgres` OS user.
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam(OS_USER)
            except KeyError:
                raise PostgresNotInstalled(
                    f"running as root, the server needs the OS user `{OS_USER}` "
                    "(the Debian package `postgresql` creates it)"
                ) from None
        self.root: Path | None = None
        self.port = 0
        self.started = False

    @property
    def root_path(self) -> Path:
        """Return the temp folder, which exists between start() and stop()."""
        assert self.root is not None, "start() first"
        return self.root

    @property
    def data_dir(self) -> Path:
        """Return the cluster's data folder."""
        return self.root_path / "data"

    @property
    def log_path(self) -> Path:
        """Return the server log pg_ctl writes."""
        return self.root_path / "server.log"

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of `database` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> Self:
        """Create a cluster in a fresh temp folder, start it and wait until it takes queries."""
        self.root = self._make_root()
        try:
            self._initdb()
            self._configure()
            deadline = time.monotonic() + START_TIMEOUT
            self._launch(deadline)
            self._wait_for_connections(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut) and remove its folder."""
        atexit.unregister(self.stop)
        if self.root is None:
            return
        if self.started:
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", str(int(START_TIMEOUT)))
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def halt(self) -> None:
        """Stop the server as an outage would (fast shutdown: open connections are cut),
        keeping its data and its port for resume()."""
        result = self._pg_ctl("stop", "-m", "fast", "-w", "-t", str(int(START_TIMEOUT)))
        if result.returncode != 0:
            raise RuntimeError(self._failure("pg_ctl stop failed", result.stdout))
        self.started = False

    def resume(self) -> None:
        """Start a halted server again on its port; wait until it takes queries."""
        deadline = time.monotonic() + START_TIMEOUT
        result = self._pg_ctl(
            "start",
            "-w",
            "-t", str(int(START_TIMEOUT)),
            "-l", str(self.log_path),
            "-o", f"-p {self.port}",
        )  # fmt: skip
        self.started = True  # even a failed start may leave a server running: stop() stops it
        if result.returncode != 0:
            raise RuntimeError(self._failure("pg_ctl start failed", result.stdout))
        self._wait_for_connections(deadline)

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """Open an autocommit connection as the superuser `postgres`."""
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=database,
            autocommit=True,
            connect_timeout=2,
        )

    def create_database(self, name: str) -> str:
        """Create the empty database `name` and return its URL."""
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop `name`, ending any connections a test left open to it."""
        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _make_root(self) -> Path:
        """Make the temp folder, one the `postgres` user can reach and own when we are root."""
        bases = [Path(tempfile.gettempdir()), Path("/tmp")]
        if self.user is not None:
            uid, gid = self.user.pw_uid, self.user.pw_gid
            # pytest's own tmp folders are 0700 root: postgres could not reach a cluster there.
            reachable = [base for base in bases if _traversable_by(base, uid, gid)]
            if not reachable:
                raise RuntimeError(
                    f"user {OS_USER} cannot reach {' or '.join(map(str, bases))}; "
                    "set TMPDIR to a folder it can enter"
                )
            bases = reachable
        root = Path(tempfile.mkdtemp(prefix="parley-pg-", dir=bases[0]))
        if self.user is not None:
            os.chown(root, self.user.pw_uid, self.user.pw_gid)
        return root

    def _run(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool, as the `postgres` user when we are root."""
        command = list(args)
        if self.user is not None:
            if shutil.which("runuser"):
                command = ["runuser", "-u", OS_USER, "--", *command]
            else:
                command = ["su", OS_USER, "-s", "/bin/sh", "-c", shlex.join(command)]
        # cwd inside our folder: initdb fails when it cannot read its working directory.
        return subprocess.run(
            command,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )

    def _initdb(self) -> None:
        """Create the cluster: superuser `postgres`, UTF-8, C locale, no fsync of its files."""
        result = self._run(
            [
                str(self.bin_dir / "initdb"),
                "--pgdata", str(self.data_dir),
                "--username", "postgres",
                "--encoding", "UTF8",
                # The C locale needs no generated system locale, so initdb works on any box.
                "--no-locale",
                "--no-sync",
                "--auth-local", "trust",
                "--auth-host", "trust",
            ]
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({self.bin_dir}):\n{result.stdout}")

    def _configure(self) -> None:
        """Write the server's settings: loopback only, our socket folder, no durability."""
        # No port here: each start is given one, so a retry can take another.
        sockets = self.root_path / "sockets"
        sockets.mkdir()
        if self.user is not None:
            os.chown(sockets, self.user.pw_uid, self.user.pw_gid)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{sockets}'",
            # A test or benchmark database is thrown away: durability would only cost time.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# Set by sandbox/postgres.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        # Only the socket folder and loopback, both without passwords.
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )

    def _pg_ctl(self, action: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `pg_ctl ACTION` on our data folder."""
        return self._run([str(self.bin_dir / "pg_ctl"), action, "-D", str(self.data_dir), *args])

    def _launch(self, deadline: float) -> None:
        """Start the server with pg_ctl, on another free port if one is taken before it binds."""
        for _ in range(PORT_ATTEMPTS):
            self.port = _free_port()
            log_before = self._log_size()
            remaining = max(1, int(deadline - time.monotonic()))
            result = self._pg_ctl(
                "start",
                "-w",
                "-t", str(remaining),
                "-l", str(self.log_path),
                "-o", f"-p {self.port}",
            )  # fmt: skip
            # Even a failed start may leave a server running (pg_ctl gave up waiting): stop it.
            if not self.started:
                self.started = True
                atexit.register(self.stop)
            if result.returncode == 0:
                return
            # The probe's port can be taken by another process before the server binds it.
            if "Address already in use" not in self._log_text()[log_before:]:
                break
        raise RuntimeError(self._failure("pg_ctl start failed", result.stdout))

    def _log_size(self) -> int:
        """Return how many characters the server log holds so far."""
        return len(self._log_text())

    def _log_text(self) -> str:
        """Return the server log, or an empty string before there is one."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _wait_for_connections(self, deadline: float) -> None:
        """Connect over TCP until it works, or raise with the server log once `deadline` passes."""
        while True:
            try:
                with self.connect() as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        self._failure(
                            f"PostgreSQL did not accept connections within {START_TIMEOUT:.0f} s",
                            str(error),
                        )
                    ) from error
                time.sleep(0.05)

    def _failure(self, what: str, output: str) -> str:
        """Return `what` with the tool's output and the server log, for an error message."""
        log = self._log_text() or "(no server log)"
        return (
            f"{what} (port {self.port}, data {self.data_dir}):\n{output.strip()}\n"
            f"--- server log ---\n{log}"
        )


def _free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
