"""The conversation runner: inbound replies, journey triggers and timers, one contact at a time."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

import nlu
from bot.config import Settings
from bot.conversation import compliance, staffing
from bot.conversation.journeys import JourneyRunner, date_slot
from bot.conversation.log_events import (
    ConsentChanged,
    ConversionReported,
    EventReceived,
    LinkClicked,
    MessageReceived,
    OptedIn,
    Undeliverable,
)
from bot.conversation.turn import Turn
from bot.delivery.outbox import Outbox
from bot.delivery.timers import TimeoutTimer
from bot.domain import phones
from bot.domain.consent import Method, Purpose, method_for_source
from bot.domain.contacts import Contact, ConversationStatus
from bot.domain.conversions import currency_of, total_of
from bot.domain.links import LinkPolicy
from bot.domain.messages import Direction, Kind
from bot.storage.store import (
    BUSY,
    DUPLICATE,
    LOCK_LOST,
    REPEAT,
    Backoff,
    InboundClaim,
    LockLost,
    Store,
)
from flows.engine import Reply, Run, Timeout, expecting
from flows.event_data import key_of
from flows.model import Journey, JourneyKind
from flows.template import DEFAULT_CURRENCY
from nlu.intents import GREET, HUMAN, THANKS

log = logging.getLogger(__name__)

# While staff own a conversation, journey timers wait and look again this much later.
HANDOFF_RECHECK = timedelta(minutes=15)
# How long handling one inbound message may hold its contact's lock, and wait for it.
INBOUND_LEASE = 30.0


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Inbound:
    """An SMS from a contact, as the webhook received it."""

    sid: str
    phone: str
    body: str
    opt_out_type: str | None = None


@dataclass
class Outcome:
    """What handling one inbound message or trigger did."""

    duplicate: bool = False
    intent: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


class Conversations:
    """Runs every contact's conversation: compliance first, then journeys, then small talk."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        runner: JourneyRunner,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        remote: nlu.RemoteParser | None = None,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.runner = runner
        self.journeys = runner.journeys
        self.settings = settings
        self.clock = clock
        self.remote = remote  # reads free text before the local classifier (NLU_URL)
        base = settings.link_base
        untracked = frozenset(j.id for j in self.journeys.values() if not j.track_links)
        # Links in messages go out as short links, unless there is nowhere for them to point.
        self.links = LinkPolicy(base, untracked) if base else None

    def turn(self, contact: Contact, now: datetime, stored: bool = True) -> Turn:
        """Return a new turn for `contact` at `now`."""
        return Turn(contact, now, stored=stored, links=self.links)

    # contacts
    def new_contact(self, phone: str) -> Contact:
        """Return a fresh contact for an E.164 number, its time zone taken from the number."""
        return Contact(
            phone=phone,
            timezone=phones.timezone_for(phone, self.settings.default_timezone),
            created_at=self.clock().isoformat(),
        )

    @contextmanager
    def transition(self, phone: str) -> Iterator[Turn]:
        """Lock a contact, load it (or a new one), yield its turn, and commit it if all went well.

        The commit is fenced by the lock: if the lock expired meanwhile, nothing is saved and
        LockLost is raised. An exception inside the block saves nothing. A block that finds
        nothing to do calls `turn.discard()`.
        """
        with self.store.lock(phone) as token:
            stored = self.store.load_contact(phone)
            contact = stored or self.new_contact(phone)
            turn = self.turn(contact, self.clock(), stored=stored is not None)
            yield turn
            self._commit(turn, token)

    @contextmanager
    def transition_existing(self, phone: str) -> Iterator[Turn | None]:
        """Like `transition`, but yield None (and save nothing) for a contact never seen."""
        with self.store.lock(phone) as token:
            contact = self.store.load_contact(phone)
            if contact is None:
                yield None
                return
            turn = self.turn(contact, self.clock())
            yield turn
            self._commit(turn, token)

    @contextmanager
    def transitions(self, phones: Iterable[str]) -> Iterator[tuple[dict[str, Turn], set[str]]]:
        """Like `transition` for many contacts at once, one round trip per stage.

        Yield ({phone: turn}, locked): a turn for every stored contact whose lock was free,
        and the phones locked. A contact busy right now (a reply being handled) is not
        locked; the caller may try it again on its own. All turns commit together.
        """
        tokens = self.store.lock_many(phones)
        try:
            contacts = self.store.load_contacts(list(tokens))
            now = self.clock()
            turns = {phone: self.turn(contact, now) for phone, contact in contacts.items()}
            yield turns, set(tokens)
            self._commit_many(list(turns.values()), unlock=tokens, fence=tokens)
        except BaseException:
            self.store.unlock_many(tokens)
            raise

    def update_contact(
        self,
        phone: str,
        fields: Mapping[str, Any] | None = None,
        language: str | None = None,
        timezone: str | None = None,
        consent: Mapping[str, Any] | None = None,
        evidence: str | None = None,
    ) -> Contact:
        """Create or update a contact from the API; consent changes go to the ledger.

        `evidence` is the request as it came, kept in the ledger with a consent it gives.
        """
        with self.transition(phone) as turn:
            contact = turn.contact
            contact.fields.update(fields or {})
            if language:
                contact.language = language
            if timezone:
                contact.timezone, contact.timezone_set = timezone, True
            if consent is not None and "marketing" in consent:
                had = contact.has_consent(Purpose.MARKETING)
                source = str(consent.get("source") or "api")
                entry = contact.grant(
                    Purpose.MARKETING,
                    bool(consent["marketing"]),
                    source,
                    turn.now,
                    method=method_for_source(source),
                    evidence=evidence,
                    disclosure=consent.get("disclosure"),
                )
                turn.log(ConsentChanged(**entry))
                contact.opt_out_review = None  # the business says what the contact wants
                if not had and contact.has_consent(Purpose.MARKETING):
                    self._opted_in(turn)
            if fields:
                self.runner.schedule_dates(turn, None, {})
        return contact

    def _commit(self, turn: Turn, token: str) -> None:
        """Save a transition made under the contact's lock `token` (unless it was discarded)."""
        if not turn.discarded:
            self._commit_many([turn], fence={turn.contact.phone: token})

    def _commit_many(
        self,
        turns: list[Turn],
        unlock: dict[str, str] | None = None,
        claims: tuple[InboundClaim, ...] = (),
        fence: dict[str, str] | None = None,
    ) -> int:
        """Save transitions, release their locks and raise the drain flag in one round trip.

        Outside an inbound message (whose caller handles it), a lock lost before the save
        raises LockLost: nothing was written, and the caller may try again.
        """
        turns = [turn for turn in turns if not turn.discarded]  # nothing to save
        notify = self.settings.handoff_webhook_url is not None
        for turn in turns:
            staffing.schedule_timers(turn, self.settings.handback_after, notify)
        sends = any(turn.changes.outbox for turn in turns)
        flag = self.outbox.flag if sends else None
        outcome, raised = self.store.commit_many(
            (t.changes for t in turns), unlock=unlock, flag=flag, claims=claims, fence=fence
        )
        if outcome == LOCK_LOST and not claims:
            raise LockLost("a contact's lock expired before its transition was saved")
        if raised:
            try:
                self.outbox.enqueue_drain()
            except redis.exceptions.RedisError:
                # The transition is saved; the worker's ticker kicks the outbox anyway.
                log.warning("could not enqueue a drain job after %d transitions", len(turns))
        return outcome

    def _is_marketing(self, journey_id: str) -> bool:
        journey = self.journeys.get(journey_id)
        return journey is None or journey.kind is JourneyKind.MARKETING

    def _disclosure(self, phone: str, journey: Journey) -> str | None:
        """Return the last text sent to a contact whom `journey` may ask for consent."""
        if not any(step.consent for step in journey.steps):
            return None
        sent = [m for m in self.store.messages(phone) if m.direction is Direction.OUTBOUND]
        return sent[-1].body if sent else None

    def _opted_in(self, turn: Turn) -> None:
        self.runner.start_on_opt_in(turn)

    # inbound
    def receive(self, inbound: Inbound) -> Outcome:
        """Handle one inbound SMS exactly once, however often Twilio delivers it.

        A MessageSid counts as handled only when its turn commits, in the same script call,
        so an attempt that fails anywhere before (Redis gone mid-turn included) leaves the
        retry free to handle it. Usually this is two round trips: begin, then commit.
        """
        claim = InboundClaim.new(inbound.sid, inbound.phone, INBOUND_LEASE)
        take_over, backoff = True, Backoff(INBOUND_LEASE)
        while True:
            state, contact = self.store.begin_inbound(claim, take_over=take_over)
            if state == DUPLICATE:
                return Outcome(duplicate=True)
            if state == BUSY:  # another message of this contact is being handled: wait
                if not backoff.wait():
                    raise LockLost(f"could not lock contact {inbound.phone}")
                continue
            try:
                turn = self._receive(inbound, contact)
                lock = {inbound.phone: claim.token}
                outcome = self._commit_many([turn], lock, (claim,), fence=lock)
            except BaseException:
                with suppress(redis.exceptions.RedisError):  # the lock expires anyway
                    self.store.unlock(inbound.phone, claim.token)
                raise
            if outcome == REPEAT:
                return Outcome(duplicate=True)
            if outcome == LOCK_LOST:
                # A retry of this message took the lock over: let it finish, then look again.
                take_over = False
                continue
            return Outcome(intent=turn.intent, events=turn.events, replies=turn.replies)

    def _receive(self, inbound: Inbound, contact: Contact | None) -> Turn:
        stored = contact is not None
        contact = contact or self.new_contact(inbound.phone)
        turn = self.turn(contact, self.clock(), stored=stored)
        turn.record_inbound(inbound.sid, inbound.body)
        run = contact.waiting_run()
        journey = self.journeys.get(run.journey) if run else None
        parse = nlu.parse(
            inbound.body,
            expecting=expecting(run, journey) if run and journey else None,
            language=contact.language,
            vocabulary=journey.vocabulary if journey else None,
            remote=self.remote,
        )
        turn.log(MessageReceived(inbound.body, parse.intent, parse.confidence, inbound.sid))
        if run is not None and journey is not None and stored:
            turn.disclosure = run.asked or self._disclosure(inbound.phone, journey)
        handled = compliance.handle(
            turn, parse, self.settings.business, inbound.opt_out_type, self._is_marketing
        )
        if handled and turn.events[-1]["type"] == OptedIn.type:
            self._opted_in(turn)
        if not handled:
            staffing.contact_wrote(turn)  # a snoozed conversation reopens; staff are waited on
        if not handled and contact.subscribed and not contact.handoff:
            handled = self._start_by_keyword(turn, inbound.body)
            if not handled and run is not None and _asks_for_staff(parse.intent, run, journey):
                # Someone who asks for a person gets one, whatever the journey was asking:
                # the run keeps waiting and takes their answer once staff hand back.
                run = None
            if not handled and run is not None:
                entities = {entity.entity: entity.value for entity in parse.entities}
                handled = self.runner.resume(turn, run, Reply(parse.intent, inbound.body, entities))
            if not handled and contact.conversation == ConversationStatus.RESOLVED:
                # Journeys answer what they can; anything else goes back to staff.
                staffing.reopen(turn)
            elif not handled:
                self._small_talk(turn, parse.intent)
        turn.intent = parse.intent
        return turn

    def _start_by_keyword(self, turn: Turn, text: str) -> bool:
        journeys = self.runner.keyword_journeys(text)
        for journey in journeys:
            self.runner.start(turn, journey, {"keyword": text.strip()})
        return bool(journeys)

    def _small_talk(self, turn: Turn, intent: str) -> None:
        name = self.settings.business_name
        if intent == HUMAN:
            turn.handoff("requested")
            turn.send("OK, someone from our team will text you back shortly.", Kind.CONVERSATION)
        elif intent == GREET:
            turn.send(f"Hi! This is {name}. How can we help?", Kind.CONVERSATION)
        elif intent == THANKS:
            turn.send("You're welcome!", Kind.CONVERSATION)
        else:
            turn.send(
                f"Thanks for your message. Reply HELP for help from {name}, "
                "or ask for a person and we'll get back to you.",
                Kind.CONVERSATION,
            )

    # triggers
    def trigger(self, phone: str, event: str, data: Mapping[str, Any] | None = None) -> Outcome:
        """Apply a business event: end journeys it exits, start the ones it triggers."""
        data = dict(data or {})
        outcome = Outcome()
        # Every run this event starts, now or on a date, shares its results with the others.
        event_id = uuid.uuid4().hex[:16]
        with self.transition(phone) as turn:
            turn.log(EventReceived(event))
            windows = self.runner.conversion_windows(event)
            if windows:
                fallback = self.settings.business.get("currency") or DEFAULT_CURRENCY
                total, currency = total_of(data), currency_of(data, fallback)
                turn.log(ConversionReported(event, total, currency, windows))
            self.runner.end_on_event(turn, event, data)
            for journey in self.runner.triggered_by(event):
                reason = self.runner.start(turn, journey, data, event_id=event_id)
                if reason is None:
                    outcome.started.append(journey.id)
                else:
                    outcome.skipped.append({"journey": journey.id, "reason": reason})
            self.runner.schedule_dates(turn, event, data, event_id)
        outcome.events, outcome.replies = turn.events, turn.replies
        return outcome

    def enter(self, phone: str, journey_id: str, data: Mapping[str, Any]) -> str | None:
        """Start one journey for one contact; return why not, or None when started."""
        journey = self.journeys[journey_id]
        with self.transition(phone) as turn:
            reason = self.runner.start(turn, journey, data)
        return reason

    def fire_start(
        self,
        phone: str,
        journey_id: str,
        due: str,
        data: Mapping[str, Any],
        event_id: str | None = None,
    ) -> bool:
        """Start a date-triggered journey whose time came, unless it was rescheduled since."""
        journey = self.journeys.get(journey_id)
        with self.transition_existing(phone) as turn:
            if turn is None:
                return False
            slot = None if journey is None else date_slot(journey_id, key_of(journey, data))
            if slot is not None and slot not in turn.contact.date_starts:
                slot = journey_id  # scheduled before the journey had a key
            if journey is None or slot is None or turn.contact.date_starts.get(slot) != due:
                turn.discard()
                return False
            del turn.contact.date_starts[slot]
            started = self.runner.start(turn, journey, data, event_id=event_id) is None
        return started

    def click(
        self, phone: str, url: str, message: str | None, journey: str | None, step: str | None
    ) -> Outcome:
        """Act on a person's click on a tracked link: the runs waiting on it, the journeys it
        starts. While staff own the conversation the bot stays quiet: it is only logged."""
        with self.transition_existing(phone) as turn:
            if turn is None:
                return Outcome()
            turn.log(LinkClicked(url, message, journey, step))
            started = [] if turn.contact.handoff else self.runner.clicked(turn, journey, step, url)
        return Outcome(events=turn.events, replies=turn.replies, started=started)

    # timers
    def fire_timeout(self, phone: str, run_id: str, seq: int) -> Outcome:
        """Resume a waiting run whose timeout came due, unless it has moved on since."""
        with self.transition_existing(phone) as turn:
            if turn is None:
                return Outcome()
            self._time_out(turn, run_id, seq)
        return Outcome(events=turn.events, replies=turn.replies)

    def fire_timeouts(self, timers: list[TimeoutTimer]) -> list[TimeoutTimer]:
        """Fire many timeouts with one round trip per stage; return those left for later.

        Contacts whose lock is busy (a reply is being handled right now) are left out
        and returned, so the caller can fire them one by one.
        """
        with self.transitions(timer.phone for timer in timers) as (turns, locked):
            for timer in timers:
                turn = turns.get(timer.phone)
                if turn is not None:
                    self._time_out(turn, timer.run, timer.seq)
        return [timer for timer in timers if timer.phone not in locked]

    def _time_out(self, turn: Turn, run_id: str, seq: int) -> None:
        run = turn.contact.run(run_id)
        if run is None or run.wait_seq != seq or not run.is_open:
            return  # replied, ended or opted out since: the timer is stale
        if turn.contact.handoff:
            later = TimeoutTimer(turn.contact.phone, run_id, seq)
            turn.schedule(turn.now + HANDOFF_RECHECK, later)
            return
        self.runner.resume(turn, run, Timeout(seq))

    # signals from the sender and status callbacks
    def mark_unsubscribed(self, phone: str, source: str, evidence: str | None = None) -> None:
        """Opt a contact out because Twilio or the carrier says they are (e.g. error 21610).

        `evidence` names what said so: the message Twilio refused or reported, by its sid.
        """
        with self.transition(phone) as turn:
            compliance.unsubscribe(turn, source, Method.CARRIER, evidence)

    def mark_undeliverable(self, phone: str, error_code: int) -> None:
        """Stop messaging a number Twilio says cannot receive SMS."""
        with self.transition(phone) as turn:
            turn.contact.undeliverable = error_code
            turn.log(Undeliverable(error_code))

    def release_handoff(self, phone: str, by: str | None = None) -> bool:
        """Give a conversation back to the bot; False if it was not handed off."""
        with self.transition_existing(phone) as turn:
            if turn is None:
                return False
            if not turn.contact.handoff and turn.contact.conversation == ConversationStatus.BOT:
                turn.discard()
                return False
            staffing.hand_back(turn, by)
        return True


def _asks_for_staff(intent: str, run: Run, journey: Journey | None) -> bool:
    """Say whether a reply asks for a person at a wait that has no branch for that."""
    return intent == HUMAN and (journey is None or HUMAN not in expecting(run, journey))
