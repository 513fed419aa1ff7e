"""In-memory state of the Twilio Messaging API emulator: messages, faults, segments."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from flows.sms import segments

API_VERSION = "2010-04-01"


def count_segments(body: str) -> int:
    """Return how many SMS segments a body needs, as Twilio bills them (an empty one is 1)."""
    return max(1, segments(body).count)


def rfc2822(moment: datetime | None = None) -> str:
    """Format a moment the way Twilio's 2010 API does, e.g. 'Thu, 24 Aug 2023 05:01:45 +0000'."""
    return format_datetime((moment or datetime.now(UTC)).replace(microsecond=0))


# When an injected fault strikes a create call:
#   before          wait `delay`, then answer `status` (if any) without creating the message;
#   late            create the message, then wait `delay` before answering;
#   drop            create the message, then close the connection without an answer;
#   callback_first  create the message, post its status callbacks, then answer.
FAULT_MODES = ("before", "late", "drop", "callback_first")


@dataclass
class Fault:
    """A pending injected failure for the next `remaining` create calls."""

    status: int | None
    code: int | None
    delay: float
    remaining: int
    mode: str = "before"


class FaultQueue:
    """Hold injected faults and hand them out one create call at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()

    def add(self, fault: Fault) -> None:
        """Queue a fault behind any already pending."""
        with self._lock:
            self._faults.append(fault)

    def take(self) -> Fault | None:
        """Consume one use of the oldest pending fault, if any."""
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.popleft()
            return fault

    def pending(self) -> int:
        """Return how many create calls the pending faults will still strike."""
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()


def _clone(resource: dict[str, Any]) -> dict[str, Any]:
    # Resources are flat apart from subresource_uris; this beats deepcopy on the hot path.
    return {**resource, "subresource_uris": dict(resource["subresource_uris"])}


@dataclass
class _Entry:
    resource: dict[str, Any]
    status_callback: str | None
    callbacks: list[dict[str, Any]] = field(default_factory=list)


class MessageStore:
    """Thread-safe record of every message the emulator accepted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}  # dicts keep insertion order: oldest first

    def add(self, resource: dict[str, Any], status_callback: str | None) -> None:
        """Store a freshly created message resource."""
        with self._lock:
            self._entries[resource["sid"]] = _Entry(_clone(resource), status_callback)

    def get(self, sid: str) -> dict[str, Any] | None:
        """Return a copy of one message resource, or None."""
        with self._lock:
            entry = self._entries.get(sid)
            return _clone(entry.resource) if entry else None

    def delete(self, sid: str) -> bool:
        """Remove one message; return whether it existed."""
        with self._lock:
            return self._entries.pop(sid, None) is not None

    def query(self, to: str | None = None, from_: str | None = None) -> list[dict[str, Any]]:
        """Return matching message resources, newest first as Twilio lists them."""
        with self._lock:
            matches = [
                _clone(e.resource)
                for e in reversed(self._entries.values())
                if (to is None or e.resource["to"] == to)
                and (from_ is None or e.resource["from"] == from_)
            ]
        return matches

    def snapshots(self) -> list[dict[str, Any]]:
        """Return every message, oldest first, with its callback URL and callback log."""
        with self._lock:
            return [
                {
                    **_clone(e.resource),
                    "status_callback": e.status_callback,
                    "callbacks": [dict(c) for c in e.callbacks],
                }
                for e in self._entries.values()
            ]

    def advance(
        self,
        sid: str,
        status: str,
        error_code: int | None = None,
        error_message: str | None = None,
        fallback_from: str | None = None,
    ) -> tuple[dict[str, Any], str | None] | None:
        """Move a message to a new status; return (resource, status_callback) or None if gone."""
        now = rfc2822()
        with self._lock:
            entry = self._entries.get(sid)
            if entry is None:
                return None
            res = entry.resource
            res["status"] = status
            res["date_updated"] = now
            if res["date_sent"] is None:
                res["date_sent"] = now
            if res["from"] is None:
                # A Messaging Service picks a sender from its pool at send time.
                res["from"] = fallback_from
            if error_code is not None:
                res["error_code"] = error_code
                res["error_message"] = error_message
            return _clone(res), entry.status_callback

    def log_callback(self, sid: str, record: dict[str, Any]) -> None:
        """Remember the outcome of one status callback attempt."""
        with self._lock:
            entry = self._entries.get(sid)
            if entry is not None:
                entry.callbacks.append(record)

    def clear(self) -> None:
        """Forget every message."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
