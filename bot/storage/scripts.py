"""Lua script calls on a connection each thread keeps: the webhook's two round trips, lean."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import redis
from redis.connection import AbstractConnection

from bot.storage import lua
from bot.storage.lua import Script

# Errors after which the connection is dropped and the call made again on a new one, like
# the pooled client's default retry policy (which also waits a little between tries).
_RETRIED = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


# One script call: the script (or its name in bot/storage/lua), its KEYS and its ARGV.
Call = tuple[Script | str, Sequence[str], Sequence[Any]]
T = TypeVar("T")


class ScriptRunner:
    """Run Parley's scripts on one connection per thread, made from the client's settings.

    Every script call goes through here: by name for the scripts in bot/storage/lua.

    A pooled call checks a connection out and back in, polls it for stray replies, records
    metrics and goes through the retry policy: for a short script that bookkeeping costs
    more CPU than the call. Here each thread (in each process, after a fork) owns its
    connection; one that fails is closed and made again, up to `attempts` tries in all.
    """

    def __init__(self, client: redis.Redis, attempts: int = 3) -> None:
        pool = client.connection_pool
        self._connection_class = pool.connection_class
        self._connection_kwargs = dict(pool.connection_kwargs)
        self._attempts = attempts
        self._local = threading.local()

    def __call__(self, script: Script | str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Return the script's reply; a server without it in its cache is sent the source."""
        found = lua.script(script) if isinstance(script, str) else script
        return self._retrying(lambda connection: self._one(connection, found, keys, args))

    def many(self, calls: Sequence[Call]) -> list[Any]:
        """Make several calls in one round trip; return their replies in order.

        Every call is made even if one fails; the first error is raised after all replies
        are read. Use it for calls that are safe to make twice, as a lost reply means all
        of them are made again.
        """
        if not calls:
            return []
        return self._retrying(lambda connection: self._run(connection, calls))

    def load(self) -> None:
        """Put every script in the server's cache, so that first calls need not send it."""
        self._retrying(lambda connection: self._load(connection))

    def _retrying(self, work: Callable[[AbstractConnection], T]) -> T:
        for attempt in range(1, self._attempts + 1):
            connection = self._connection()
            try:
                return work(connection)
            except _RETRIED:
                connection.disconnect()
                if attempt == self._attempts:
                    raise
            except BaseException:
                # A reply may be left half-read: the next call starts on a clean connection.
                connection.disconnect()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> AbstractConnection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid() or local.connection is None:
            local.connection = self._connection_class(**self._connection_kwargs)
            local.pid = os.getpid()
        return local.connection

    @staticmethod
    def _one(
        connection: AbstractConnection, script: Script, keys: Sequence[str], args: Sequence[Any]
    ) -> Any:
        try:
            connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
            return connection.read_response()
        except redis.exceptions.NoScriptError:
            connection.send_command("EVAL", script.source, len(keys), *keys, *args)
            return connection.read_response()

    @staticmethod
    def _run(connection: AbstractConnection, calls: Sequence[Call]) -> list[Any]:
        scripts = [
            lua.script(script) if isinstance(script, str) else script for script, _, _ in calls
        ]
        commands = [
            ("EVALSHA", script.sha, len(keys), *keys, *args)
            for script, (_, keys, args) in zip(scripts, calls, strict=True)
        ]
        replies = _read(connection, commands)
        # Scripts missing from the server's cache did not run: send those again, in full.
        missing = [
            i
            for i, reply in enumerate(replies)
            if isinstance(reply, redis.exceptions.NoScriptError)
        ]
        if missing:
            again = [("EVAL", scripts[i].source, *commands[i][2:]) for i in missing]
            for i, reply in zip(missing, _read(connection, again), strict=True):
                replies[i] = reply
        for reply in replies:
            if isinstance(reply, redis.exceptions.ResponseError):
                raise reply
        return replies

    @staticmethod
    def _load(connection: AbstractConnection) -> None:
        for reply in _read(
            connection, [("SCRIPT", "LOAD", lua.source(name)) for name in lua.names()]
        ):
            if isinstance(reply, redis.exceptions.ResponseError):
                raise reply


def _read(connection: AbstractConnection, commands: list[tuple[Any, ...]]) -> list[Any]:
    """Send `commands` in one write and return each reply, an error reply as its exception."""
    connection.send_packed_command(connection.pack_commands(commands))
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(connection.read_response())
        except redis.exceptions.ResponseError as exc:  # read in full: the next reply follows
            replies.append(exc)
    return replies
