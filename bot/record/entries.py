"""What the record stream carries: a transition's commit, a message's new status, a click."""

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
    # the tracked short links in its new messages (bot.domain.links.Link.to_dict())
    links: Sequence[Mapping[str, Any]] = ()


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


@dataclass(frozen=True)
class Click:
    """A click on a tracked short link, as the redirect saw it; `click` names it for good."""

    id: str  # the stream entry's id
    at: str  # when it was clicked (ISO-8601)
    phone: str
    click: str  # the click's own id: a replay of its entry writes the same row
    code: str
    url: str
    message: str | None = None
    journey: str | None = None
    step: str | None = None
    user_agent: str | None = None


Entry = Commit | StatusChange | Click
