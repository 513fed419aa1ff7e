"""The emulator on a free loopback port in a background thread, for tests and benchmarks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from sandbox.emulator import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    EXTENSION,
    create_emulator,
    parse_fault,
)
from sandbox.emulator_callbacks import CallbackDispatcher
from sandbox.emulator_store import FaultQueue, MessageStore


class _QuietHandler(WSGIRequestHandler):
    """Request handler that skips per-request access logging."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class EmulatorServer:
    """Run the emulator on a free loopback port in a background thread."""

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        callback_delay: float = 0.0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.app = create_emulator(account_sid, auth_token, callback_delay)
        state = self.app.extensions[EXTENSION]
        self._store: MessageStore = state["store"]
        self._faults: FaultQueue = state["faults"]
        self._dispatcher: CallbackDispatcher = state["dispatcher"]
        self._server = make_server(
            "127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread: threading.Thread | None = None

    def start(self) -> EmulatorServer:
        """Start serving in a daemon thread."""
        if self._thread is None:
            # A short poll interval keeps stop() fast; tests start and stop many servers.
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="emulator-http", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Shut down the HTTP server and the callback dispatcher."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5.0)
            self._thread = None
        self._server.server_close()
        self._dispatcher.stop()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def messages(self) -> list[dict[str, Any]]:
        """Return every accepted message, oldest first, as GET /_emulator/messages does."""
        return self._store.snapshots()

    def inject_fault(
        self,
        status: int | None = None,
        count: int = 1,
        code: int | None = None,
        delay: float | None = None,
        mode: str = "before",
    ) -> None:
        """Make the next `count` create calls misbehave as `mode` says (see FAULT_MODES)."""
        spec = {"status": status, "count": count, "code": code, "delay": delay, "mode": mode}
        self._faults.add(parse_fault(spec))

    def faults_pending(self) -> int:
        """Return how many create calls the injected faults will still strike."""
        return self._faults.pending()

    def reset(self) -> None:
        """Forget all messages and pending faults."""
        self._store.clear()
        self._faults.clear()

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Poll until the predicate holds over the messages; return them or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages()
            if predicate(messages):
                return messages
            if time.monotonic() >= deadline:
                raise TimeoutError(f"emulator condition not met in {timeout}s: {messages!r}")
            time.sleep(0.02)
