"""Journeys in the running bot: entry and exit rules, triggers, custom actions, follow-ups."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from bot.config import Settings
from bot.conversation.actions import ActionFailed, ActionOutcome, ActionRunner, tracker_state
from bot.conversation.log_events import (
    ActionFailure,
    JourneyScheduled,
    JourneySkipped,
    JourneyStarted,
    JourneyUnscheduled,
)
from bot.conversation.turn import Turn
from bot.delivery.timers import StartTimer
from bot.domain.contacts import Contact, Purpose
from bot.domain.conversions import revenue_problems
from flows.engine import (
    ActionResult,
    Click,
    Context,
    Reply,
    Run,
    RunStatus,
    interrupt,
    resume,
    start,
)
from flows.event_data import Problem, check_data, key_of
from flows.events import ActionRequested, Event, JourneyStartRequested
from flows.model import CLICKED, Journey, JourneyKind, Trigger
from flows.rules import entry_decision, exit_ends, trigger_word
from flows.runner import rating_of
from flows.timing import date_trigger_time
from nlu.intents import RATING

RATING_SCALE = (1, 5)  # the ratings analytics counts: a mean and CSAT need one scale

log = logging.getLogger(__name__)

# Journeys may start journeys; this bounds a chain of them within one transition.
MAX_DEPTH = 4


def date_slot(journey_id: str, key: str | None) -> str:
    """Name a scheduled date start in Contact.date_starts: one per journey, or per key."""
    return journey_id if key is None else f"{journey_id}:{key}"


class JourneyRunner:
    """Starts, resumes and ends journey runs for the contact of one Turn."""

    def __init__(
        self, journeys: Mapping[str, Journey], settings: Settings, actions: ActionRunner
    ) -> None:
        self.journeys = journeys
        self.settings = settings
        self.actions = actions
        self._known_events: frozenset[str] | None = None  # the journeys never change
        self._uses_clicks: bool | None = None

    def context(self, turn: Turn) -> Context:
        """Return what the engine sees: the contact, the business and the time."""
        return Context(
            contact=turn.contact.template_view(),
            business=self.settings.business,
            now=turn.now,
            runs=tuple(turn.contact.runs),
        )

    # which journeys
    def known_events(self) -> frozenset[str]:
        """Return the API events some journey starts on, exits on, or dates a start from."""
        if self._known_events is None:
            self._known_events = frozenset(
                name
                for journey in self.journeys.values()
                for name in (
                    *journey.trigger_events,
                    *journey.exit_events,
                    *(t.params.get("event") for t in journey.triggers_of("date")),
                    *journey.conversion.events,
                )
                if name
            )
        return self._known_events

    def triggered_by(self, event: str) -> list[Journey]:
        """Return the journeys an API event starts."""
        return [j for j in self.journeys.values() if event in j.trigger_events]

    def keyword_journeys(self, text: str) -> list[Journey]:
        """Return the journeys an inbound keyword (e.g. JOIN) starts."""
        word = trigger_word(text)
        return [j for j in self.journeys.values() if word in j.trigger_keywords]

    @property
    def uses_clicks(self) -> bool:
        """Tell whether any journey starts on, or waits for, a click on a tracked link."""
        if self._uses_clicks is None:
            self._uses_clicks = any(
                journey.triggers_of("click")
                or any(step.wait is not None and CLICKED in step.wait.on for step in journey.steps)
                for journey in self.journeys.values()
            )
        return self._uses_clicks

    def click_journeys(self, journey: str | None, step: str | None, url: str) -> list[Journey]:
        """Return the journeys a click starts: on a link that step sent, or on its URL."""
        return [
            candidate
            for candidate in self.journeys.values()
            if any(
                trigger.params.get("url") == url
                or (
                    journey is not None
                    and trigger.params.get("journey") == journey
                    and trigger.params.get("step") == step
                )
                for trigger in candidate.triggers_of("click")
            )
        ]

    def opt_in_journeys(self) -> list[Journey]:
        """Return the journeys that start when a contact opts in."""
        return [j for j in self.journeys.values() if j.triggers_of("opt_in")]

    def start_on_opt_in(self, turn: Turn) -> None:
        """Start the journeys an opt-in starts, but none that asks for a consent already held.

        A double opt-in (welcome) asks for marketing consent: after START, which gives back
        transactional messages only, it asks; an opt-in that is marketing consent itself
        (through the API) leaves it nothing to ask, so it is no trigger for it.
        """
        for journey in self.opt_in_journeys():
            if not any(turn.contact.has_consent(purpose) for purpose in _consents_asked(journey)):
                self.start(turn, journey, {})

    def data_problems(
        self, event: str, data: Mapping[str, Any], now: datetime, zone: Callable[[], tzinfo]
    ) -> list[Problem]:
        """Return what is wrong with an event's data for the journeys it reaches."""
        problems = check_data(self.journeys.values(), event, data, now, zone)
        if self.conversion_windows(event):
            problems += [Problem(name, why) for name, why in revenue_problems(data)]
        return problems

    def conversion_windows(self, event: str) -> dict[str, list[float]]:
        """Return each journey `event` is a conversion of, with its click and receipt windows
        in seconds."""
        return {
            journey.id: [
                journey.conversion.click_window.total_seconds(),
                journey.conversion.receipt_window.total_seconds(),
            ]
            for journey in self.journeys.values()
            if event in journey.conversion.events
        }

    def date_triggers(self, event: str | None) -> list[tuple[Journey, Trigger]]:
        """Return date triggers anchored on this event's data (None: on contact fields)."""
        return [
            (journey, trigger)
            for journey in self.journeys.values()
            for trigger in journey.triggers_of("date")
            if trigger.params.get("event") == event
        ]

    # starting and ending
    def refusal(self, contact: Contact, journey: Journey) -> str | None:
        """Say why a contact may not enter a journey now, if they may not."""
        if not contact.subscribed:
            return "unsubscribed"
        if journey.kind is JourneyKind.MARKETING and not contact.has_consent(Purpose.MARKETING):
            return "no_marketing_consent"
        if contact.handoff:
            return "handoff"
        return None

    def start(
        self,
        turn: Turn,
        journey: Journey,
        data: Mapping[str, Any],
        depth: int = 0,
        event_id: str | None = None,
    ) -> str | None:
        """Start a journey under its entry rules; return why not, or None when started.

        event_id is the API event behind the start, shared by every run it leads to.
        """
        reason = self.refusal(turn.contact, journey)
        key = key_of(journey, data)
        decision, to_end = entry_decision(journey, turn.contact.open_runs(), key)
        if reason is None and decision == "skip":
            reason = "already_in_journey"
        if reason is not None:
            turn.log(JourneySkipped(journey.id, reason))
            return reason
        ctx = self.context(turn)
        for run in to_end:
            ended, events = interrupt(run, ctx, RunStatus.INTERRUPTED, reason=f"entry:{journey.id}")
            self.advance(turn, ended, events, depth)
        run_id = uuid.uuid4().hex[:16]
        run, events = start(journey, self.context(turn), dict(data), run_id, event_id)
        turn.log(JourneyStarted(journey.id, run.id))
        turn.count(f"journey:{journey.id}:started")
        self.advance(turn, run, events, depth)
        return None

    def end_on_event(self, turn: Turn, event: str, data: Mapping[str, Any]) -> list[str]:
        """End the open runs, and drop the scheduled starts, that `event` ends; return journeys.

        An event carrying a key (a booking id) ends only what is about that key, and what
        has no key.
        """
        ended = []
        for run in turn.contact.open_runs():
            journey = self.journeys.get(run.journey)
            if journey is not None and exit_ends(journey, run, event, key_of(journey, data)):
                closed, events = interrupt(run, self.context(turn), RunStatus.EXITED, reason=event)
                self.advance(turn, closed, events)
                ended.append(journey.id)
        for journey in self.journeys.values():
            if event not in journey.exit_events:
                continue
            key = key_of(journey, data)
            for slot in list(turn.contact.date_starts):
                name, _, slot_key = slot.partition(":")
                if name == journey.id and (key is None or slot_key in ("", key)):
                    del turn.contact.date_starts[slot]
                    turn.log(JourneyUnscheduled(name, event))
        return ended

    def schedule_dates(
        self,
        turn: Turn,
        event: str | None,
        data: Mapping[str, Any],
        event_id: str | None = None,
    ) -> None:
        """Schedule the starts of date-triggered journeys (e.g. 24 h before appointment_at)."""
        for journey, trigger in self.date_triggers(event):
            due = date_trigger_time(trigger, turn.contact.template_view(), data)
            if due is None:
                continue
            stamp = max(due, turn.now).isoformat()
            # The latest schedule per journey (per booking, with keys) wins: a rebooked
            # appointment moves it.
            turn.contact.date_starts[date_slot(journey.id, key_of(journey, data))] = stamp
            start = StartTimer(turn.contact.phone, journey.id, stamp, dict(data), event_id)
            turn.schedule(max(due, turn.now), start)
            turn.log(JourneyScheduled(journey.id, stamp))

    def clicked(self, turn: Turn, journey: str | None, step: str | None, url: str) -> list[str]:
        """Let a click move the runs of the journey that sent the link, then start the
        journeys it triggers; return the journeys started."""
        if journey is not None:
            for run in list(turn.contact.open_runs()):
                if run.journey == journey and run.status is RunStatus.WAITING:
                    self.resume(turn, run, Click(url))
        started = []
        data = {"url": url, "journey": journey, "step": step}
        for target in self.click_journeys(journey, step, url):
            if self.start(turn, target, data) is None:
                started.append(target.id)
        return started

    # moving runs
    def resume(self, turn: Turn, run: Run, input: Any, depth: int = 0) -> bool:
        """Feed an input to a run; return False if the run had nothing to do with it."""
        journey = self.journeys.get(run.journey)
        if journey is None:
            return False
        new_run, events = resume(run, journey, self.context(turn), input)
        if not events:
            return False
        if isinstance(input, Reply) and run.status is RunStatus.WAITING:
            turn.reply_taken(run, new_run, _asked_rating(journey, run, input))
        self.advance(turn, new_run, events, depth)
        return True

    def advance(self, turn: Turn, run: Run, events: list[Event], depth: int = 0) -> None:
        """Apply the engine's events, then do what only the bot can: actions, other journeys."""
        turn.apply(run, events)
        for event in events:
            if isinstance(event, ActionRequested):
                self._run_action(turn, event, depth)
            elif isinstance(event, JourneyStartRequested):
                target = self.journeys.get(event.target)
                if target is None or depth >= MAX_DEPTH:
                    why = "unknown_journey" if target is None else "too_deep"
                    turn.log(JourneySkipped(event.target, why))
                else:
                    parent = turn.contact.run(event.run_id)
                    origin = parent.event_id if parent is not None else None
                    self.start(turn, target, event.data, depth + 1, origin)

    def _run_action(self, turn: Turn, event: ActionRequested, depth: int) -> None:
        run = turn.contact.run(event.run_id)
        if run is None:
            return
        try:
            outcome = self.actions.run(
                event.action, tracker_state(turn.contact, run.data, turn.inbound_text)
            )
        except ActionFailed as exc:
            log.warning("%s", exc)
            turn.log(ActionFailure(event.action, str(exc)))
            outcome = ActionOutcome()
        result = ActionResult(fields=dict(outcome.fields), messages=tuple(outcome.messages))
        self.resume(turn, run, result, depth)


def _asked_rating(journey: Journey, run: Run, reply: Reply) -> int | None:
    """Return the 1-5 rating a reply gives, if the step it answers asks for a rating.

    A bare "1" or "2" answering "Reply 1 to confirm, 2 to cancel" reads as a rating too:
    only a wait that branches on ratings (or on the rating intent) is rating anything.
    """
    if reply.intent != RATING or not journey.has_step(run.step):
        return None
    wait = journey.step(run.step).wait
    if wait is None or not (wait.ratings or RATING in wait.on):
        return None
    value = rating_of(reply)
    return value if value is not None and RATING_SCALE[0] <= value <= RATING_SCALE[1] else None


def _consents_asked(journey: Journey) -> frozenset[Purpose]:
    """Return the consents a journey's steps record (`consent: marketing`)."""
    return frozenset(Purpose(step.consent) for step in journey.steps if step.consent)
