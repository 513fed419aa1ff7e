"""The sender: drains the outbox through Twilio, re-checking every guardrail first.

A message goes to Twilio at most once. A request that cannot have reached Twilio
(connection refused, connect timeout) or that Twilio turned away (429, 4xx) is settled at
once. When the outcome is unknown (the answer timed out or was lost, or Twilio answered 5xx)
the message stays `submitting` and is looked for in Twilio's message list before it is
ever sent again; a status callback, whose URL names the message, settles it too.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Protocol

import requests
import urllib3
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client
from twilio.rest.api.v2010.account.message import MessageInstance

from bot.config import Settings
from bot.delivery.outbox import Outbox
from bot.delivery.pacing import Hold, Pacer
from bot.delivery.timers import CheckTimer, SendTimer, Timers, encode
from bot.domain.guardrails import queued_before_change, refusal, run_cut_short
from bot.domain.messages import Message, Status, parse_ref
from bot.storage.store import Store, timer_member

log = logging.getLogger(__name__)

BATCH = 200
MAX_ATTEMPTS = 6
# The carrier says the person opted out: Parley must treat them as unsubscribed.
UNSUBSCRIBED = 21610
# The number can never receive SMS: stop trying and remember it on the contact.
UNREACHABLE = frozenset({21211, 21614})
# After an unknown outcome, look for the message at Twilio no sooner than this many seconds
# after the request timed out: time for a request Twilio was still working on to finish.
CHECK_AFTER = 5.0
# A check that failed (Twilio's list unreachable) is tried again this much later.
CHECK_RETRY = timedelta(minutes=1)
# Twilio's clock and ours may differ a little; its date_created is whole seconds.
CLOCK_SLACK = 120.0
# The newest messages to the number that a check looks through.
LOOKBACK = 50


class Reachability(Protocol):
    """Where the sender reports numbers that Twilio says are lost (the conversations)."""

    def mark_unsubscribed(self, phone: str, source: str, evidence: str | None = None) -> None:
        """Opt a contact out because the carrier says they are; `evidence` says how."""
        ...

    def mark_undeliverable(self, phone: str, error_code: int) -> None:
        """Stop messaging a number that cannot receive SMS."""
        ...


class SendingRuntime(Protocol):
    """What a sender uses of its process's runtime (bot.runtime.Runtime is one).

    The sender sits below the conversations it reports to, so it names what it needs
    here instead of importing the runtime that holds them.
    """

    settings: Settings
    store: Store
    outbox: Outbox
    timers: Timers
    clock: Callable[[], datetime]

    @property
    def conversations(self) -> Reachability:
        """Return where lost numbers are reported."""
        ...

    def twilio(self) -> Client:
        """Return this thread's Twilio client."""
        ...


class Sender:
    """Hands pending messages to Twilio, concurrently, each at most once."""

    def __init__(self, runtime: SendingRuntime) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.outbox = runtime.outbox
        self.settings = runtime.settings
        self.pacer = Pacer(runtime.settings)

    def drain(self, budget: float = 30.0) -> int:
        """Send batches from the outbox; return how many messages were handled."""
        self.outbox.begin_drain()
        started, handled = time.monotonic(), 0
        workers = max(1, self.settings.send_concurrency)
        with ThreadPoolExecutor(workers, thread_name_prefix="parley-send") as pool:
            while True:
                ids = self.outbox.take(BATCH)
                if not ids:
                    break
                # One contact's messages go one after another, in the order queued, so
                # that "you're confirmed" never overtakes the question it answers.
                with self.outbox.holding(ids) as unsettled:
                    for failed in pool.map(self._send_in_order, self._by_contact(ids)):
                        unsettled.update(failed)
                handled += len(ids)
                if time.monotonic() - started > budget:
                    if self.outbox.size():
                        self.outbox.kick()
                    break
        return handled

    def _by_contact(self, refs: list[str]) -> list[tuple[str, list[str]]]:
        groups: dict[str, list[str]] = {}
        for ref in refs:
            try:
                phone, _ = parse_ref(ref)
            except ValueError:  # names no message: nothing to send
                continue
            groups.setdefault(phone, []).append(ref)
        return list(groups.items())

    def _send_in_order(self, group: tuple[str, list[str]]) -> list[str]:
        """Send one contact's messages in order; return those left unsettled by an error."""
        _, refs = group
        if len(refs) > 1:
            # Deferred messages come back together, in any order: send them as they were made.
            try:
                refs = self.store.in_conversation_order(refs)
            except Exception:
                log.exception("could not order %d messages; they will be recovered", len(refs))
                return refs
        for number, ref in enumerate(refs):
            try:
                self.send(ref)
            except Exception:
                # Its lease runs out and it is recovered (checked with Twilio if need be),
                # and so are the contact's later messages, which are not sent past it here.
                log.exception("sending %s failed; it will be recovered", ref)
                return refs[number:]
        return []

    def send(self, ref: str) -> str:
        """Send one pending message (by Message.ref) unless a guardrail withholds it."""
        phone, _ = parse_ref(ref)
        now = self.runtime.clock()
        claimed = self.store.claim_message(ref, uuid.uuid4().hex, now, self.pacer.places(phone))
        if claimed is None:
            return ref  # already sent, suppressed or claimed by another worker
        message, standing = claimed
        reason = refusal(standing, message.kind)
        if reason is None and queued_before_change(standing, message.kind, message.at):
            reason = "consent_changed"
        if reason is None and run_cut_short(standing):
            reason = "run_ended"
        if reason:
            self._not_sent(message, Status.SUPPRESSED, reason=reason)
            log.info("withheld %s to %s: %s", message.id, message.phone, reason)
            return ref
        hold = self.pacer.hold(message, standing, now)
        if hold is not None:
            self._hold(message, hold)
            return ref
        try:
            created = self.runtime.twilio().messages.create(
                to=message.phone,
                body=message.body,
                from_=self.settings.from_number,
                messaging_service_sid=self.settings.twilio_messaging_service_sid,
                status_callback=self.settings.status_callback_for(message.ref),
            )
        except TwilioRestException as exc:
            self._refused(message, exc)
        except requests.RequestException as exc:
            if never_reached(exc):
                log.warning("send %s did not reach Twilio: %s", message.id, exc)
                self._retry(message)
            else:
                self._unsure(message, str(exc))
        except TwilioException as exc:  # an answer the SDK could not read
            self._unsure(message, str(exc))
        else:
            status = created.status or Status.QUEUED
            if self.store.accept(message.ref, created.sid, status) is None:
                log.error("%s was already linked to another sid; Twilio has it twice", message.id)
        return ref

    def _hold(self, message: Message, hold: Hold) -> None:
        """Defer a message to its time, or skip it (the run that sent it has moved on)."""
        if hold.until is None:
            self._not_sent(message, Status.SUPPRESSED, reason=hold.reason)
            log.info("skipped %s to %s: %s", message.id, message.phone, hold.reason)
            return
        timer = (hold.until.timestamp(), timer_member(encode(SendTimer(message.ref))))
        wait = None
        if message.timeout:  # the question of a wait: the wait moves with it
            before = datetime.fromisoformat(message.send_at or message.at)
            wait = ((hold.until - before).total_seconds(), message.timeout)
        self.store.defer(
            message.ref,
            message.attempts,
            hold.until,
            timer,
            hold.reason,
            release=hold.release,
            wait=wait,
        )
        log.info(
            "deferred %s to %s until %s: %s", message.id, message.phone, hold.until, hold.reason
        )

    def _refused(self, message: Message, exc: TwilioRestException) -> None:
        if exc.status == 429:  # Too Many Requests: Twilio did not take it
            log.warning("Twilio answered 429 for %s; retrying", message.id)
            self._retry(message)
            return
        if exc.status >= 500:
            self._unsure(message, f"Twilio answered {exc.status}")
            return
        log.warning("Twilio refused %s: %s %s", message.id, exc.code, exc.msg)
        self._not_sent(message, Status.FAILED, exc.code)
        if exc.code == UNSUBSCRIBED:
            refused = f"Twilio refused message {message.id}: error {exc.code}"
            self.runtime.conversations.mark_unsubscribed(
                message.phone, f"twilio:{exc.code}", refused
            )
        elif exc.code in UNREACHABLE:
            self.runtime.conversations.mark_undeliverable(message.phone, exc.code)

    def _not_sent(
        self,
        message: Message,
        status: str,
        error_code: int | None = None,
        *,
        reason: str | None = None,
        requeue: bool = False,
    ) -> bool:
        """Settle an attempt that did not go out; False if the message has moved on since.

        Every path on which a claimed message ends its attempt unsent comes here: a capped
        message gives back the place its claim took under the caps in the same step, so it
        counts against no cap (and takes a place again if it is tried again).
        """
        return self.store.settle(
            message.ref,
            message.attempts,
            status,
            error_code,
            requeue=requeue,
            reason=reason,
            release=bool(message.when_capped),
        )

    def _retry(self, message: Message) -> None:
        if message.attempts >= MAX_ATTEMPTS:
            self._not_sent(message, Status.FAILED)
        elif self._not_sent(message, Status.PENDING):
            later = self.runtime.clock() + backoff(message.attempts)
            self.runtime.timers.schedule(later, SendTimer(message.ref))

    def _unsure(self, message: Message, why: str) -> None:
        """Leave a message `submitting` and look for it at Twilio later."""
        log.warning("send %s may or may not have reached Twilio (%s); checking", message.id, why)
        delay = max(timedelta(seconds=CHECK_AFTER), backoff(message.attempts))
        check = CheckTimer(message.ref, message.attempts)
        self.runtime.timers.schedule(self.runtime.clock() + delay, check)

    def check_each(self, checks: list[tuple[str, int]]) -> None:
        """Run each check; one that fails (Twilio unreachable) is tried again later."""
        for ref, attempt in checks:
            try:
                self.check(ref, attempt)
            except Exception:
                log.exception("checking %s with Twilio failed; trying again later", ref)
                again = CheckTimer(ref, attempt)
                self.runtime.timers.schedule(self.runtime.clock() + CHECK_RETRY, again)

    def check(self, ref: str, attempt: int) -> None:
        """Settle attempt `attempt` of a message whose outcome was unknown.

        Found in Twilio's list, it takes that sid and status; not found, it goes back in
        the outbox. Nothing happens if the message has moved on since (a status callback
        linked it, or it was tried again).
        """
        try:
            message = self.store.message(ref)
        except ValueError:  # a bare id, from a job queued before messages were named by ref
            log.error("cannot check %s: it names no message", ref)
            return
        if (
            message is None
            or message.status != Status.SUBMITTING
            or message.sid
            or message.attempts != attempt
        ):
            return
        # Twilio may still be working on a request our side gave up on: give it time.
        started = message.submitted_at or 0.0
        wait = started + self.settings.send_timeout + CHECK_AFTER - self.store.now()
        if wait > 0:
            later = self.runtime.clock() + timedelta(seconds=wait)
            self.runtime.timers.schedule(later, CheckTimer(message.ref, message.attempts))
            return
        found = self._find(message)
        if found is not None:
            status = self.store.accept(
                message.ref, found.sid, found.status or Status.QUEUED, found.error_code
            )
            log.info("%s had reached Twilio as %s (%s)", message.id, found.sid, status)
        elif message.attempts >= MAX_ATTEMPTS:
            self._not_sent(message, Status.FAILED)
        elif self._not_sent(message, Status.PENDING, requeue=True):
            log.info("%s never reached Twilio; sending it again", message.id)
            self.outbox.kick()

    def _find(self, message: Message) -> MessageInstance | None:
        """Return the earliest message at Twilio that this attempt may have created."""
        since = (message.submitted_at or 0.0) - CLOCK_SLACK
        listed = self.runtime.twilio().messages.list(
            to=message.phone, from_=self.settings.from_number, limit=LOOKBACK
        )
        candidates = [
            m
            for m in listed
            if m.body == message.body
            and _created(m) >= since
            and not self.store.sid_known(m.sid or "")
        ]
        return min(candidates, key=_created) if candidates else None


def backoff(attempts: int) -> timedelta:
    """Return how long to wait before attempt `attempts` + 1."""
    return timedelta(seconds=min(2**attempts, 300))


def never_reached(exc: requests.RequestException) -> bool:
    """Say whether a request failed before any of it could have reached Twilio."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", exc.args[0])
        return isinstance(
            reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
        )
    return False


def _created(message: MessageInstance) -> float:
    created = message.date_created
    return created.timestamp() if isinstance(created, datetime) else float("inf")
