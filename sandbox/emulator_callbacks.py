"""Status progression and signed status callbacks for the Twilio emulator."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import requests
from twilio.request_validator import RequestValidator

from sandbox.emulator_store import API_VERSION, MessageStore

log = logging.getLogger(__name__)

SERVICE_FROM = "+15005550006"  # sender assumed when only a MessagingServiceSid is given
CALLBACK_TIMEOUT = 10.0
# Recipients ending in this suffix never receive the message, like a switched-off handset.
UNDELIVERABLE_SUFFIX = "0013"
_UNDELIVERED = (30003, "Unreachable destination handset")


class CallbackDispatcher:
    """Advance message statuses and post signed status callbacks from one worker thread."""

    def __init__(self, store: MessageStore, auth_token: str, delay: float) -> None:
        self._store = store
        self._validator = RequestValidator(auth_token)
        self._delay = delay
        self._queue: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, sid: str) -> None:
        """Schedule the sent/final status transitions of a new message."""
        if self._thread is None:
            # Started lazily so a forking server (gunicorn) starts it in the worker.
            with self._start_lock:
                if self._thread is None and not self._stopping.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="emulator-callbacks", daemon=True
                    )
                    self._thread.start()
        self._queue.put((time.monotonic() + self._delay, sid))

    def deliver_now(self, sid: str) -> None:
        """Run a message's status transitions and callbacks in this thread, before answering."""
        with requests.Session() as session:
            self._deliver(session, sid)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker thread, abandoning undelivered callbacks."""
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        session = requests.Session()
        try:
            while True:
                item = self._queue.get()
                if item is None or self._stopping.is_set():
                    return
                due, sid = item
                # Every item has the same delay, so FIFO order is also due-time order.
                wait = due - time.monotonic()
                if wait > 0 and self._stopping.wait(wait):
                    return
                try:
                    self._deliver(session, sid)
                except Exception:  # the worker must outlive any single bad message
                    log.exception("emulator: status processing failed for %s", sid)
        finally:
            session.close()

    def _deliver(self, session: requests.Session, sid: str) -> None:
        resource = self._store.get(sid)
        if resource is None:  # cleared by a reset meanwhile
            return
        final: tuple[str, int | None, str | None] = ("delivered", None, None)
        if resource["to"].endswith(UNDELIVERABLE_SUFFIX):
            final = ("undelivered", *_UNDELIVERED)
        for status, code, message in (("sent", None, None), final):
            advanced = self._store.advance(sid, status, code, message, fallback_from=SERVICE_FROM)
            if advanced is None:
                return
            res, url = advanced
            if url:
                self._post(session, sid, url, res)

    def _post(self, session: requests.Session, sid: str, url: str, res: dict[str, Any]) -> None:
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": res["status"],
            "SmsStatus": res["status"],
            "AccountSid": res["account_sid"],
            "From": res["from"],
            "To": res["to"],
            "ApiVersion": API_VERSION,
        }
        if res["messaging_service_sid"]:
            params["MessagingServiceSid"] = res["messaging_service_sid"]
        if res["error_code"] is not None:
            params["ErrorCode"] = str(res["error_code"])
        headers = {
            "X-Twilio-Signature": self._validator.compute_signature(url, params),
            "User-Agent": "TwilioProxy/1.1",
        }
        record: dict[str, Any] = {"status": res["status"], "http_status": None, "error": None}
        try:
            reply = session.post(url, data=params, headers=headers, timeout=CALLBACK_TIMEOUT)
            record["http_status"] = reply.status_code
            if reply.status_code >= 400:
                log.warning("emulator: callback %s for %s got HTTP %s", url, sid, reply.status_code)
        except requests.RequestException as exc:
            record["error"] = str(exc)
            log.warning("emulator: callback %s for %s failed: %s", url, sid, exc)
        self._store.log_callback(sid, record)
