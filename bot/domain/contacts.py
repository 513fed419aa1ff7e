"""The contact: who someone is, what they agreed to, and where they are in each journey."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.domain.consent import IMPLIED, Method, Purpose
from flows.engine import Run

__all__ = ["Contact", "ConversationStatus", "Purpose"]


class ConversationStatus(StrEnum):
    """Who answers the contact: the bot, or staff (open, snoozed), or staff are done."""

    BOT = "bot"  # the bot answers
    OPEN = "open"  # staff own it (assigned, or waiting for someone); the bot is quiet
    SNOOZED = "snoozed"  # staff parked it until a time; the contact's reply reopens it
    RESOLVED = "resolved"  # staff are done; journeys go on, the contact's reply reopens it


@dataclass
class Contact:
    """One person, keyed by E.164 phone number, with their dialogue state."""

    phone: str
    timezone: str
    created_at: str
    # Whether `timezone` was set for the contact (through the API), rather than guessed when
    # the contact was made: from the number, or DEFAULT_TIMEZONE when it spans several zones
    # or none. Pacing trusts a zone set alone, whatever it is; a guess is only the number's.
    # None: stored before the two were told apart (bot/delivery/pacing.py reads it as then).
    timezone_set: bool | None = False
    fields: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    stage: str | None = None
    subscribed: bool = True
    consent: dict[str, dict[str, Any]] = field(default_factory=dict)
    handoff: bool = False
    handoff_reason: str | None = None
    # The conversation with staff (bot/conversation/staffing.py). `handoff` says the bot
    # is quiet: true while it is open or snoozed.
    conversation: str = ConversationStatus.BOT
    assignee: str | None = None  # the staff member who owns it
    waiting_since: str | None = None  # the contact's text that staff have yet to answer
    snoozed_until: str | None = None
    staff_at: str | None = None  # the last staff action, for HANDBACK_AFTER
    read_seq: int = 0  # the last message staff have seen
    # An opt-out read from plain words, for staff to confirm or undo: its text, when, and
    # what the contact had agreed to before it ({purpose: granted}, and "subscribed").
    opt_out_review: dict[str, Any] | None = None
    undeliverable: int | None = None
    last_active_at: str | None = None  # the last message either way: quiet contacts lack it
    message_seq: int = 0  # messages either way so far: the next one is numbered one more
    event_seq: int = 0  # events logged so far: numbers the next, as message_seq does
    # journey (journey:key for keyed runs) -> scheduled start
    date_starts: dict[str, str] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)

    def has_consent(self, purpose: Purpose) -> bool:
        """Say whether the contact may receive messages sent for `purpose`.

        Transactional consent is implied until revoked; marketing needs an explicit grant.
        """
        decision = self.consent.get(purpose, {}).get("granted")
        return self.subscribed and (decision if decision is not None else purpose in IMPLIED)

    def grant(
        self,
        purpose: Purpose,
        granted: bool,
        source: str,
        at: datetime,
        *,
        method: Method = Method.API,
        evidence: str | None = None,
        disclosure: str | None = None,
    ) -> dict[str, Any]:
        """Record a consent decision and return the ledger entry describing it."""
        entry = {
            "purpose": str(purpose),
            "granted": granted,
            "source": source,
            "at": at.isoformat(),
            "method": str(method),
            "evidence": evidence,
            "disclosure": disclosure,
        }
        held = self.consent.get(purpose, {})
        # When the decision last changed: a message queued before then was queued under
        # another decision, and is not sent (a STOP then START does not revive it).
        changed = held.get("changed_at") if held.get("granted") == granted else None
        self.consent[purpose] = {
            "granted": granted,
            "source": source,
            "method": str(method),
            "at": entry["at"],
            "changed_at": changed or entry["at"],
        }
        return entry

    def open_runs(self) -> list[Run]:
        """Return the runs that are active or waiting, oldest first."""
        return [run for run in self.runs if run.is_open]

    def waiting_run(self) -> Run | None:
        """Return the run a reply goes to: the most recently started waiting run."""
        waiting = [run for run in self.runs if run.status == "waiting"]
        return waiting[-1] if waiting else None

    def run(self, run_id: str) -> Run | None:
        """Return the run with this id, if any."""
        return next((run for run in self.runs if run.id == run_id), None)

    def replace_run(self, new: Run) -> None:
        """Store `new` in place of the run with the same id, or add it."""
        for index, run in enumerate(self.runs):
            if run.id == new.id:
                self.runs[index] = new
                return
        self.runs.append(new)

    def template_view(self) -> dict[str, Any]:
        """Return what the journey engine sees of this contact."""
        return {
            "phone": self.phone,
            "fields": dict(self.fields),
            "tags": list(self.tags),
            "language": self.language,
            "timezone": self.timezone,
            "stage": self.stage,
            "created_at": self.created_at,
            "last_active_at": self.last_active_at,
        }

    def public(self) -> dict[str, Any]:
        """Return the contact as the JSON API shows it."""
        return {
            "phone": self.phone,
            "subscribed": self.subscribed,
            "fields": self.fields,
            "tags": self.tags,
            "language": self.language,
            "timezone": self.timezone,
            "stage": self.stage,
            "consent": self.consent,
            "journeys": [
                {"journey": run.journey, "step": run.step, "status": str(run.status)}
                for run in self.runs
            ],
            "handoff": self.handoff,
            "handoff_reason": self.handoff_reason,
            "opt_out_review": self.opt_out_review,
            "conversation": self.conversation_view(),
            "undeliverable": self.undeliverable,
            "last_active_at": self.last_active_at,
        }

    def conversation_view(self) -> dict[str, Any]:
        """Return where the conversation with staff stands."""
        return {
            "status": str(self.conversation),
            "assignee": self.assignee,
            "waiting_since": self.waiting_since,
            "snoozed_until": self.snoozed_until,
            "staff_at": self.staff_at,
            "read_seq": self.read_seq,
        }

    def record_view(self) -> dict[str, Any]:
        """Return what the record (SQL) keeps of the contact: no dialogue state.

        A copy: later changes to the contact do not reach it, so two views compare.
        """
        return {
            "contact": {
                "phone": self.phone,
                "timezone": self.timezone,
                "created_at": self.created_at,
                "fields": dict(self.fields),
                "tags": list(self.tags),
                "language": self.language,
                "stage": self.stage,
                "subscribed": self.subscribed,
                "handoff": self.handoff,
                "handoff_reason": self.handoff_reason,
                "undeliverable": self.undeliverable,
                "last_active_at": self.last_active_at,
                "message_seq": self.message_seq,
                "conversation": str(self.conversation),
                "assignee": self.assignee,
                "waiting_since": self.waiting_since,
                "snoozed_until": self.snoozed_until,
                "staff_at": self.staff_at,
                "read_seq": self.read_seq,
            },
            "runs": {
                run.id: {
                    "id": run.id,
                    "journey": run.journey,
                    "key": run.key,
                    "event_id": run.event_id,
                    "status": str(run.status),
                    "step": run.step,
                    "started_at": run.started_at.isoformat(),
                    "ended_at": run.ended_at.isoformat() if run.ended_at else None,
                }
                for run in self.runs
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict for storage."""
        data = self.__dict__.copy()
        data["runs"] = [run.to_dict() for run in self.runs]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Contact:
        """Rebuild a contact from `to_dict` output."""
        data = dict(data)
        data["runs"] = [Run.from_dict(run) for run in data.get("runs", [])]
        data.setdefault("timezone_set", None)  # stored before it was kept: not known
        if data.get("handoff") and "conversation" not in data:
            # Handed off before conversations had a status: open, waiting since its last text.
            data["conversation"] = ConversationStatus.OPEN
            data["waiting_since"] = data.get("last_active_at")
        return cls(**data)
