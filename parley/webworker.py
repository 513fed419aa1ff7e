"""The web process's gunicorn worker: gthread, with requests read whole before a thread runs them.

gunicorn's gthread worker hands a connection to a thread as soon as it is accepted, and
the thread reads the request with blocking reads that have no deadline: a client that
connects and sends nothing holds a thread for five seconds, one that sends part of a
request holds it until it hangs up, so a few such clients per thread leave none for
anyone else. This worker reads each request in its event loop instead, without
blocking, and gives the connection to a thread only once the request head and its body
(up to MAX_BODY bytes, by Content-Length or chunked) have arrived. A request must arrive
whole within REQUEST_TIMEOUT seconds, counted from the accept or from the first byte
after a kept-alive response; else the connection is closed, with a 408 if the request
had begun. What a thread still reads itself (a body too large to hold, a malformed one)
gives up at that same deadline.

gthread also closes a connection by waiting up to two seconds for the client to close
its end, on its event loop, so clients that never close stall everyone; here that wait
is one more socket in the event loop.

Use it with `gunicorn --worker-class parley.webworker.RequestBufferingWorker`. TLS and
HTTP/2 prior-knowledge connections get gthread's own handling.
"""

from __future__ import annotations

import re
import selectors
import socket
import time
from concurrent.futures import Future
from contextlib import suppress
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from gunicorn.config import Config
from gunicorn.glogging import Logger
from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser
from gunicorn.http.unreader import SocketUnreader
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

from bot.config import Settings, SettingsError
from bot.record import database

REQUEST_TIMEOUT = 10.0  # seconds for a whole request to arrive
MAX_HEAD = 64 * 1024  # a longer head goes to gunicorn's parser, which refuses it
MAX_BODY = 64 * 1024  # the app's MAX_CONTENT_LENGTH: a larger body is refused unread
LINGER = 2.0  # seconds a closed connection waits for the client's close, as in gthread
_READ_SIZE = MAX_HEAD + MAX_BODY
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
# Header lines of a head that ends in "\n"; the lookahead leaves the next line's "\n" to it.
_CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d+)[ \t]*(?=\r?\n)", re.I)
_TRANSFER_ENCODING = re.compile(rb"\ntransfer-encoding:([^\n]*)(?=\n)", re.I)
_EXPECT_CONTINUE = re.compile(rb"\nexpect:[ \t]*100-continue[ \t]*(?=\r?\n)", re.I)
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r?\n")


class ArrivingRequest:
    """A request arriving on a connection: its bytes so far, and whether they are all here."""

    def __init__(self, deadline: float, data: bytes = b"") -> None:
        self.deadline = deadline
        self.data = bytearray(data)
        self.wants_continue = False  # the client waits for "100 Continue" to send its body
        self.continued = False  # ... and has been sent it
        self._phase = "head"  # then "chunks" and "trailers", or straight to "end"
        self._end = 0  # where the request ends, in the "end" phase
        self._scan = 0  # where to look next: for a blank line, or the next chunk

    def complete(self) -> bool:
        """Say whether the whole request, or all of it worth waiting for, is here."""
        if len(self.data) >= _READ_SIZE:
            return True  # longer than a request may be: gunicorn's parser answers it
        if self._phase == "head":
            found = self._blank_line()
            if found is None:
                return len(self.data) >= MAX_HEAD
            self._read_head(bytes(self.data[: found.start()]) + b"\n", found.end())
        while self._phase == "chunks" and self._next_chunk():
            pass
        if self._phase == "trailers" and (found := self._blank_line()):
            self._phase, self._end = "end", found.end()
        return self._phase == "end" and len(self.data) >= self._end

    def _blank_line(self) -> re.Match[bytes] | None:
        found = _BLANK_LINE.search(self.data, self._scan)
        if found is None:  # it may straddle this read and the next one
            self._scan = max(self._scan, len(self.data) - 3)
        return found

    def _read_head(self, head: bytes, body_start: int) -> None:
        # Anything but one Content-Length within MAX_BODY, or plain chunked, goes to
        # gunicorn's parser as it is: it refuses what is ambiguous, the app what is large.
        self._phase, self._end, self._scan = "end", body_start, body_start
        lengths = _CONTENT_LENGTH.findall(head)
        codings = _TRANSFER_ENCODING.findall(head)
        if codings:
            if len(codings) == 1 and not lengths and codings[0].strip().lower() == b"chunked":
                self._phase = "chunks"
        elif len(lengths) == 1 and int(lengths[0]) <= MAX_BODY:
            self._end = body_start + int(lengths[0])
        waits = self._phase == "chunks" or self._end > body_start
        http11 = head.split(b"\n", 1)[0].rstrip().endswith(b" HTTP/1.1")
        self.wants_continue = waits and http11 and bool(_EXPECT_CONTINUE.search(head))

    def _next_chunk(self) -> bool:
        """Move past the next chunk if it is here; say whether to look for another."""
        size = _CHUNK_SIZE.match(self.data, self._scan)
        if size is None:
            if self.data.find(b"\n", self._scan) >= 0:  # a malformed size: the parser's to refuse
                self._phase, self._end = "end", 0
            return False
        if int(size[1], 16) == 0:
            self._phase, self._scan = "trailers", max(size.start(), size.end() - 2)
            return False
        self._scan = size.end() + int(size[1], 16) + 2  # the data and its CRLF
        return self._scan <= len(self.data)


class DeadlineReader(SocketUnreader):
    """A request source that stops waiting for the socket at a deadline."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.deadline = time.monotonic() + REQUEST_TIMEOUT

    def chunk(self, size_hint: int | None = None) -> bytes:
        """Return the next bytes from the socket; raise NoMoreData past the deadline."""
        remaining = self.deadline - time.monotonic()
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            if remaining <= 0 or not selector.select(remaining):
                raise NoMoreData(b"")  # gthread then closes the connection quietly
        # gunicorn 27 takes the hint; types-gunicorn still describes 26's chunk(self).
        return super().chunk(size_hint)  # type: ignore[call-arg]


class ContinuedRequest(Request):
    """A request whose "100 Continue" the event loop has sent already."""

    _policy_expect_continue = False


class RequestBufferingWorker(ThreadWorker):
    """gthread whose threads see only requests that have arrived, and never wait on a close."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Both keep insertion order, which is deadline order: each entry gets the same wait.
        self.arriving: dict[TConn, ArrivingRequest] = {}
        self.lingering: dict[socket.socket, float] = {}

    @classmethod
    def check_config(cls, cfg: Config, log: Logger) -> None:
        """Check the settings once, in gunicorn's master, before any worker starts; warn once.

        A bad one stops gunicorn with one line naming the variable. Found in each worker
        instead, every worker failed at once and the master, reaping them, could halt twice
        and print a traceback of its own.
        """
        super().check_config(cfg, log)
        try:
            settings = Settings.from_env()
        except SettingsError as exc:
            raise RuntimeError(f"parley: {exc}") from None  # gunicorn prints it and exits 1
        # Here rather than in the app factory, which each worker runs: warned once, not N times.
        for warning in settings.startup_warnings():
            log.warning("parley: %s", warning)
        # Once, in the master, before any worker serves: the schema is current when they do.
        database.upgrade_at_start(settings.record_url, ZoneInfo(settings.default_timezone))

    def buffers(self, conn: TConn) -> bool:
        """Say whether this worker reads the connection's requests itself (plain HTTP/1)."""
        return (
            not self.cfg.is_ssl
            and self.cfg.protocol == "http"
            and not negotiation.prior_knowledge_allowed(self.cfg, conn.client)
        )

    def enqueue_req(self, conn: TConn) -> None:
        """Read the connection's next request in the event loop, then give it to a thread."""
        if not self.buffers(conn):
            super().enqueue_req(conn)
            return
        # What the previous request's reads took in ahead is the start of this one.
        parser = conn.parser
        ahead = parser.unreader.take_buffered() if isinstance(parser, RequestParser) else b""
        request = ArrivingRequest(time.monotonic() + REQUEST_TIMEOUT, ahead)
        if conn.sock.getblocking():  # only after a thread read ahead: each call is a syscall
            conn.sock.setblocking(False)
        # A kept-alive connection is here because its socket became readable: read it now,
        # and the usual request goes to a thread without a turn through the poller.
        if conn.initialized and not self._read(conn, request):
            self.nr_conns -= 1
            conn.close()
        elif not self._advance(conn, request):
            self.arriving[conn] = request
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._receive, conn))

    def _receive(self, conn: TConn, _sock: socket.socket) -> None:
        request = self.arriving[conn]
        if not self._read(conn, request):
            self._drop(conn)
        elif self._advance(conn, request):
            del self.arriving[conn]
            self.poller.unregister(conn.sock)

    def _read(self, conn: TConn, request: ArrivingRequest) -> bool:
        """Add what the socket holds to the request; say False if the client hung up."""
        try:
            data = conn.sock.recv(_READ_SIZE - len(request.data))
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        request.data += data
        return bool(data)

    def _advance(self, conn: TConn, request: ArrivingRequest) -> bool:
        """Give a complete request to a thread and say so; else ask for a body if awaited."""
        if request.complete():
            self._submit(conn, request)
            return True
        if request.wants_continue and not request.continued:
            request.continued = True
            with suppress(OSError):  # a client that is gone is dropped on its next read
                conn.sock.send(_CONTINUE)
        return False

    def _submit(self, conn: TConn, request: ArrivingRequest) -> None:
        future = self.tpool.submit(self._serve, conn, request)
        future.add_done_callback(partial(self._served, conn))

    def _served(self, conn: TConn, future: Future[bool]) -> None:
        self.method_queue.defer(self.finish_request, conn, future)

    def _serve(self, conn: TConn, request: ArrivingRequest) -> bool:
        """Serve the request (in a thread); say whether to keep the connection open."""
        conn.data_ready = True  # the bytes are here: gthread need not wait for a first one
        conn.init()
        parser = conn.parser
        # buffers() admitted plain HTTP/1 only, so init() made an HTTP/1 parser.
        assert isinstance(parser, RequestParser)
        if not isinstance(parser.unreader, DeadlineReader):
            parser.unreader = DeadlineReader(conn.sock)
        parser.unreader.deadline = request.deadline
        parser.unreader.unread(bytes(request.data))
        # Set on this connection's parser alone; the stubs allow it on the class only.
        parser.mesg_class = ContinuedRequest if request.continued else Request  # type: ignore[misc]
        return self.handle(conn)

    def _drop(self, conn: TConn) -> None:
        del self.arriving[conn]
        self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def finish_request(self, conn: TConn, fs: Future[bool]) -> None:
        """Keep or close the connection as gthread does, without blocking the loop on a close."""
        done = not fs.cancelled() and fs.exception() is None and fs.result() is False
        if not done or not self.buffers(conn):
            super().finish_request(conn, fs)
            return
        self.nr_conns -= 1
        sock = conn.sock
        try:
            sock.shutdown(socket.SHUT_WR)  # the client sees the end of the response
        except OSError:
            sock.close()
            return
        # Closing with unread bytes would send a reset that can cut the response short:
        # read until the client closes too, or LINGER passes.
        sock.setblocking(False)
        self.lingering[sock] = time.monotonic() + LINGER
        self.poller.register(sock, selectors.EVENT_READ, self._drain)

    def _drain(self, sock: socket.socket) -> None:
        try:
            if sock.recv(65536):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._close_lingering(sock)

    def _close_lingering(self, sock: socket.socket) -> None:
        del self.lingering[sock]
        self.poller.unregister(sock)
        sock.close()

    def murder_pending(self) -> None:
        """Close connections past their deadline: gthread's, arriving and lingering ones."""
        super().murder_pending()
        now = time.monotonic()
        for conn, request in list(self.arriving.items()):
            # A stopping worker does not wait for a request that has not even begun.
            if request.deadline <= now or (not self.alive and not request.data):
                if request.data:
                    with suppress(OSError):  # best effort: the connection closes anyway
                        conn.sock.send(_TIMED_OUT)
                self._drop(conn)
            elif self.alive:
                break
        for sock, deadline in list(self.lingering.items()):
            if deadline > now:
                break
            self._close_lingering(sock)
