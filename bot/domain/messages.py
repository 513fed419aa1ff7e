"""Message records: direction, kind and the status lifecycle that never moves backwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    """Which way a message went."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Kind(StrEnum):
    """Why an outbound message is sent; decides which guardrails apply."""

    COMPLIANCE = "compliance"  # STOP/START/HELP answers: always sent
    CONVERSATION = "conversation"  # the bot answering a reply outside any journey
    TRANSACTIONAL = "transactional"  # journey messages about something the person did
    MARKETING = "marketing"  # journey messages that need marketing consent


class Status(StrEnum):
    """A message's lifecycle: Parley's own states first, then Twilio's."""

    RECEIVED = "received"
    PENDING = "pending"  # in Parley's outbox
    DEFERRED = "deferred"  # held by quiet hours or a frequency cap until `send_at`
    SUBMITTING = "submitting"  # a worker is handing it to Twilio
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    READ = "read"
    SUPPRESSED = "suppressed"  # withheld by a guardrail; never reached Twilio
    CANCELED = "canceled"


# A status may only replace one of lower rank, so a late `sent` cannot undo `delivered`.
RANK: dict[str, int] = {
    Status.RECEIVED: 0,
    Status.PENDING: 0,
    Status.SUBMITTING: 1,
    Status.DEFERRED: 1,  # between two attempts: the latest of the two is where it is
    Status.ACCEPTED: 2,
    Status.SCHEDULED: 2,
    Status.QUEUED: 2,
    Status.SENDING: 3,
    Status.SENT: 4,
    Status.DELIVERED: 5,
    Status.UNDELIVERED: 5,
    Status.FAILED: 5,
    Status.READ: 6,
    Status.SUPPRESSED: 9,
    Status.CANCELED: 9,
}


def message_ref(phone: str, message_id: str) -> str:
    """Return how queues, timers and sid links name a message: by its contact and its id."""
    return f"{phone}/{message_id}"


def parse_ref(ref: str) -> tuple[str, str]:
    """Return (phone, message id) from a message_ref; ValueError if `ref` is not one."""
    phone, slash, message_id = ref.partition("/")
    if not (slash and phone and message_id):
        raise ValueError(f"not a message ref: {ref!r}")
    return phone, message_id


@dataclass
class Message:
    """One SMS, inbound or outbound, as Parley stores it."""

    id: str
    phone: str
    direction: Direction
    body: str
    status: Status
    at: str
    kind: Kind | None = None
    journey: str | None = None
    step: str | None = None
    sid: str | None = None
    error_code: int | None = None
    attempts: int = 0
    submitted_at: float | None = None  # when the latest attempt to hand it to Twilio began
    seq: int = 0  # its place in the contact's conversation (1, 2, ...; 0 if made before)
    author: str | None = None  # the staff member who wrote it; None for the bot's own
    # Guardrails on its timing: "respect" waits out quiet hours; a `when_capped` of "defer" or
    # "skip" says it counts against the frequency cap, and what it does when the cap is full.
    quiet_hours: str | None = None
    when_capped: str | None = None
    send_at: str | None = None  # when a deferred message goes out
    # The timeout timer (its member) of the wait this message asks for: deferring the
    # message moves it by as much, so the wait counts from the send.
    timeout: str | None = None
    reason: str | None = None  # why it was suppressed or deferred
    run: str | None = None  # the journey run that sent it, if one did
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """Return the message's ref: the phone (which finds its keys) and the id."""
        return message_ref(self.phone, self.id)

    def to_hash(self) -> dict[str, str]:
        """Return the Redis hash fields for this message (empty values left out)."""
        data = {
            "id": self.id,
            "phone": self.phone,
            "direction": str(self.direction),
            "body": self.body,
            "status": str(self.status),
            "at": self.at,
            "kind": str(self.kind) if self.kind else "",
            "journey": self.journey or "",
            "step": self.step or "",
            "sid": self.sid or "",
            "error_code": "" if self.error_code is None else str(self.error_code),
            "attempts": str(self.attempts),
            "submitted_at": "" if self.submitted_at is None else repr(self.submitted_at),
            "seq": str(self.seq) if self.seq else "",
            "author": self.author or "",
            "quiet_hours": self.quiet_hours or "",
            "when_capped": self.when_capped or "",
            "send_at": self.send_at or "",
            "reason": self.reason or "",
            "timeout": self.timeout or "",
            "run": self.run or "",
        }
        return {key: value for key, value in data.items() if value != ""}

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Message:
        """Rebuild a message from its Redis hash."""
        return cls(
            id=data["id"],
            phone=data["phone"],
            direction=Direction(data["direction"]),
            body=data.get("body", ""),
            status=Status(data["status"]),
            at=data["at"],
            kind=Kind(data["kind"]) if data.get("kind") else None,
            journey=data.get("journey") or None,
            step=data.get("step") or None,
            sid=data.get("sid") or None,
            error_code=int(data["error_code"]) if data.get("error_code") else None,
            attempts=int(data.get("attempts", 0)),
            submitted_at=float(data["submitted_at"]) if data.get("submitted_at") else None,
            seq=int(data.get("seq") or 0),
            author=data.get("author") or None,
            quiet_hours=data.get("quiet_hours") or None,
            when_capped=data.get("when_capped") or None,
            send_at=data.get("send_at") or None,
            reason=data.get("reason") or None,
            timeout=data.get("timeout") or None,
            run=data.get("run") or None,
        )

    def public(self) -> dict[str, Any]:
        """Return the message as the JSON API shows it."""
        out: dict[str, Any] = {
            "direction": str(self.direction),
            "body": self.body,
            "status": str(self.status),
            "at": self.at,
        }
        if self.direction is Direction.OUTBOUND:
            out["kind"] = str(self.kind) if self.kind else None
            out["journey"] = self.journey
            out["step"] = self.step
            if self.author:
                out["author"] = self.author
            if self.error_code is not None:
                out["error_code"] = self.error_code
            out.update(held_view(self.status, self.send_at, self.reason))
        return out


def held_view(status: str, send_at: str | None, reason: str | None) -> dict[str, str]:
    """Return what the API shows of a message a guardrail holds: when it goes, and why."""
    out = {}
    if send_at and status == Status.DEFERRED:
        out["send_at"] = send_at
    if reason and status in (Status.DEFERRED, Status.SUPPRESSED):
        out["reason"] = reason
    return out
