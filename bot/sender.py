"""The sender: drains the outbox through Twilio, re-checking every guardrail first."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

from bot.guardrails import refusal
from bot.messages import Message, Status
from bot.runtime import Runtime, current

log = logging.getLogger(__name__)

BATCH = 200
MAX_ATTEMPTS = 6
# The carrier says the person opted out: Parley must treat them as unsubscribed.
UNSUBSCRIBED = 21610
# The number can never receive SMS: stop trying and remember it on the contact.
UNREACHABLE = frozenset({21211, 21614})


def drain(budget: float = 30.0) -> int:
    """Send queued messages until the outbox is empty or `budget` seconds pass (RQ job)."""
    return Sender(current()).drain(budget)


class Sender:
    """Hands pending messages to Twilio, concurrently, each at most once."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.outbox = runtime.outbox
        self.settings = runtime.settings

    def drain(self, budget: float = 30.0) -> int:
        """Send batches from the outbox; return how many messages were handled."""
        self.outbox.begin_drain()
        started, handled = time.monotonic(), 0
        workers = max(1, self.settings.send_concurrency)
        with ThreadPoolExecutor(workers, thread_name_prefix="parley-send") as pool:
            while True:
                ids = self.outbox.take(BATCH, time.time())
                if not ids:
                    break
                # One contact's messages go one after another, in the order queued, so
                # that "you're confirmed" never overtakes the question it answers.
                list(pool.map(self._send_in_order, self._by_contact(ids)))
                self.outbox.done(*ids)
                handled += len(ids)
                if time.monotonic() - started > budget:
                    if self.outbox.size():
                        self.outbox.kick()
                    break
        return handled

    def _by_contact(self, ids: list[str]) -> list[tuple[str, list[str]]]:
        groups: dict[str, list[str]] = {}
        for message_id, phone in zip(ids, self.store.phones_of(ids), strict=True):
            if phone:  # a message id without a record has nothing to send
                groups.setdefault(phone, []).append(message_id)
        return list(groups.items())

    def _send_in_order(self, group: tuple[str, list[str]]) -> None:
        phone, ids = group
        for message_id in ids:
            self.send(message_id, phone)

    def send(self, message_id: str, phone: str) -> str:
        """Send one pending message unless a guardrail withholds it; return its id."""
        claimed = self.store.claim_message(message_id, phone)
        if claimed is None:
            return message_id  # already sent, suppressed or claimed by another worker
        message, standing = claimed
        reason = refusal(standing, message.kind)
        if reason:
            self.store.update_message(message.id, status=Status.SUPPRESSED)
            log.info("withheld %s to %s: %s", message.id, message.phone, reason)
            return message_id
        try:
            created = self.runtime.twilio().messages.create(
                to=message.phone,
                body=message.body,
                from_=self.settings.from_number,
                messaging_service_sid=self.settings.twilio_messaging_service_sid,
                status_callback=self.settings.status_callback_url,
            )
        except TwilioRestException as exc:
            self._rejected(message, exc)
        except (requests.RequestException, TwilioException) as exc:
            log.warning("send %s failed: %s", message.id, exc)
            self._retry(message)
        else:
            self.store.accept(message.id, created.sid, created.status or Status.QUEUED)
        return message_id

    def _rejected(self, message: Message, exc: TwilioRestException) -> None:
        if exc.status == 429 or exc.status >= 500:
            log.warning("Twilio answered %s for %s; retrying", exc.status, message.id)
            self._retry(message)
            return
        log.warning("Twilio refused %s: %s %s", message.id, exc.code, exc.msg)
        self.store.update_message(message.id, status=Status.FAILED, error_code=exc.code)
        if exc.code == UNSUBSCRIBED:
            self.runtime.conversations.mark_unsubscribed(message.phone, f"twilio:{exc.code}")
        elif exc.code in UNREACHABLE:
            self.runtime.conversations.mark_undeliverable(message.phone, exc.code)

    def _retry(self, message: Message) -> None:
        if message.attempts >= MAX_ATTEMPTS:
            self.store.update_message(message.id, status=Status.FAILED)
            return
        delay = timedelta(seconds=min(2**message.attempts, 300))
        self.store.update_message(message.id, status=Status.PENDING)
        self.runtime.timers.schedule(
            self.runtime.clock() + delay, {"type": "send", "message": message.id}
        )
