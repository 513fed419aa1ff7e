"""A TCP proxy in front of Redis that drops every connection on cue, for fault tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class RedisProxy:
    """Forwards loopback connections to a Redis server until told to fail.

    `cut_on(pattern, outage)` arms a one-shot trap: the first command a client sends that
    contains `pattern` is not forwarded; instead every connection is dropped, and new
    ones are refused (accepted and closed at once) for `outage` seconds, as when Redis
    goes away at that very moment and comes back a little later.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._pattern: bytes | None = None
        self._reply_pattern: bytes | None = None
        self._muted: set[socket.socket] = set()
        self._outage = 0.0
        self._refuse_until = 0.0
        self.cuts = 0
        self._closed = False
        threading.Thread(target=self._accept, name="redis-proxy", daemon=True).start()

    def cut_on(self, pattern: bytes, outage: float) -> None:
        """Drop everything when a client next sends `pattern`, and refuse for `outage` s."""
        with self._lock:
            self._pattern, self._outage = pattern, outage

    def lose_reply_to(self, pattern: bytes) -> None:
        """Forward the next command containing `pattern`, but drop the connection before
        its reply gets back, as when the network fails just after Redis ran it."""
        with self._lock:
            self._reply_pattern = pattern

    def down(self, outage: float) -> None:
        """Drop every connection now and refuse new ones for `outage` seconds."""
        with self._lock:
            self._cut(outage)

    def refusing(self) -> bool:
        """Say whether the proxy is refusing connections right now."""
        return time.monotonic() < self._refuse_until

    def close(self) -> None:
        """Stop accepting and drop every connection."""
        self._closed = True
        with self._lock:
            self._cut(0.0)
        self._listener.close()

    def _cut(self, outage: float) -> None:
        self.cuts += 1
        self._refuse_until = time.monotonic() + outage
        for sock in list(self._sockets):
            _close(sock)
        self._sockets.clear()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing():
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if from_client and self._pattern is not None and self._pattern in chunk:
                    with self._lock:
                        if self._pattern is not None and self._pattern in chunk:
                            self._pattern = None
                            self._cut(self._outage)
                            return
                if from_client and self._reply_pattern is not None and self._reply_pattern in chunk:
                    with self._lock:
                        self._reply_pattern = None
                        self._muted.add(sink)  # what Redis answers on it goes nowhere
                    sink.sendall(chunk)
                    time.sleep(0.2)  # Redis runs the command meanwhile
                    self.cuts += 1
                    return
                if not from_client and source in self._muted:
                    continue
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
