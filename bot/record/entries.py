"""What the record stream carries: a transition's commit, or a message's new status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Commit:
    """What one committed transition changed for one contact."""

    id: str  # the stream entry's id: the commit's events are numbered within it
    at: str  # when it was committed (ISO-8601)
    phone: str
    contact: Mapping[str, Any] | None = None  # Contact.record_view()["contact"], if changed
    runs: Sequence[Mapping[str, Any]] = ()  # the runs that changed, as record_view gives them
    messages: Sequence[Mapping[str, str]] = ()  # each new message's hash fields
    events: Sequence[Mapping[str, Any]] = ()  # the log events, each with `at` and `type`


@dataclass(frozen=True)
class StatusChange:
    """A message's new status; `sid` when Twilio accepted it, `error_code` when it failed."""

    id: str  # the stream entry's id
    at: str
    phone: str
    message: str  # the message's id
    status: str
    sid: str | None = None
    error_code: int | None = None
    reason: str | None = None  # why a guardrail suppressed or deferred it
    send_at: str | None = None  # when a deferred message goes out


Entry = Commit | StatusChange
