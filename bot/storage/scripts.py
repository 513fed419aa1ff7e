"""Lua script calls on a connection each thread keeps: the webhook's two round trips, lean."""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from redis.commands.core import Script
from redis.connection import AbstractConnection

# Errors after which the connection is dropped and the call made again on a new one, like
# the pooled client's default retry policy (which also waits a little between tries).
_RETRIED = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class ScriptRunner:
    """Run registered scripts on one connection per thread, made from the client's settings.

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

    def __call__(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        """Return the script's reply; a server without it in its cache is sent the source."""
        for attempt in range(1, self._attempts + 1):
            connection = self._connection()
            try:
                return self._run(connection, script, keys, args)
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
    def _run(
        connection: AbstractConnection, script: Script, keys: list[str], args: list[Any]
    ) -> Any:
        try:
            connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
            return connection.read_response()
        except redis.exceptions.NoScriptError:
            connection.send_command("EVAL", script.script, len(keys), *keys, *args)
            return connection.read_response()
