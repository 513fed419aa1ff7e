"""A wait whose question was held by quiet hours or a cap times out counting from its send.

A marketing question made at 22:30 goes out at 08:00; its 23-hour wait must not run out
at 21:30 the next evening, before the person has had the day to answer. When a wait's
timeout comes due, the question's send_at (kept on the message once deferred) says how
late it went, and the timeout moves by as much.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.messages import Direction
from bot.record.times import moment
from bot.storage.store import Store
from flows.engine import Run
from flows.model import Journey, JourneyKind, QuietHours


def may_be_held(journey: Journey, step_id: str) -> bool:
    """Say whether a step's messages can wait for quiet hours or a cap at all."""
    if not journey.has_step(step_id):
        return False
    step = journey.step(step_id)
    return (
        journey.kind_of(step) is JourneyKind.MARKETING
        or journey.quiet_hours_of(step) is QuietHours.RESPECT
    )


def timeout_due(
    store: Store, phone: str, journey: Journey, run: Run, now: datetime
) -> datetime | None:
    """Return when a timeout due `now` is really due, if its question went out late; else None."""
    if not may_be_held(journey, run.step):
        return None
    for message in reversed(store.messages(phone)):
        if message.direction is Direction.OUTBOUND and (message.journey, message.step) == (
            run.journey,
            run.step,
        ):
            made, sent = moment(message.at), moment(message.send_at)
            if made is None or sent is None:
                return None
            due = sent + (now - made)  # the wait as long as it was meant to be, from the send
            return due if due > now else None
    return None
