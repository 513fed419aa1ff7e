"""Staff campaigns: one marketing message, written by staff, for many contacts at once.

A campaign's message is marketing like a journey's: it needs the contact's marketing
consent, waits out quiet hours in the contact's own time and counts against the same
frequency caps, so a contact never gets more promotions than the cap however they come.
What it does when a cap is full is the campaign's say (`defer` or `skip`), as a journey's.
A contact handed to staff gets no campaign, as no journey starts for them.

A campaign's id makes sending it again safe: each contact is marked as reached, before its
message is queued, for `REACHED_FOR`, and a contact already reached is skipped. A request
cut short part-way can be sent again whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bot.conversation.log_events import CampaignSent
from bot.conversation.runner import Conversations
from bot.conversation.turn import Turn
from bot.domain.guardrails import refusal
from bot.domain.messages import Kind

# Contacts locked and loaded together; a busy one is then taken on its own.
BATCH = 100
# How long a contact stays marked as reached by a campaign.
REACHED_FOR = timedelta(days=30)


@dataclass(frozen=True)
class Campaign:
    """What staff send: the text, who sends it and what a capped message does."""

    id: str
    text: str
    by: str
    when_capped: str = "defer"
    track_links: bool = False


@dataclass
class Outcome:
    """What became of a campaign: a message queued per contact, or why none was."""

    queued: dict[str, str] = field(default_factory=dict)  # phone -> message id
    held: dict[str, str] = field(default_factory=dict)  # phone -> reason


def send(conversations: Conversations, campaign: Campaign, phones: Sequence[str]) -> Outcome:
    """Queue the campaign's message for each known contact who may get marketing."""
    outcome = Outcome()
    wanted = list(dict.fromkeys(phones))
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        with conversations.transitions(batch) as (turns, locked):
            for phone in batch:
                turn = turns.get(phone)
                if turn is not None:
                    _queue(conversations, turn, campaign, outcome)
                elif phone in locked:
                    outcome.held[phone] = "unknown_contact"
        for phone in batch:
            if phone not in outcome.queued and phone not in outcome.held:
                with conversations.transition_existing(phone) as turn:  # busy a moment ago
                    if turn is None:
                        outcome.held[phone] = "unknown_contact"
                    else:
                        _queue(conversations, turn, campaign, outcome)
    return outcome


def _queue(conversations: Conversations, turn: Turn, campaign: Campaign, outcome: Outcome) -> None:
    phone = turn.contact.phone
    reason = refusal(turn.contact, Kind.MARKETING)
    if reason is None and turn.contact.handoff:
        reason = "handoff"
    if reason is None and not conversations.store.reach(phone, campaign.id, REACHED_FOR):
        reason = "already_sent"
    if reason is not None:
        outcome.held[phone] = reason
        turn.discard()
        return
    message = turn.send(
        campaign.text,
        Kind.MARKETING,
        author=campaign.by,
        quiet_hours="respect",
        when_capped=campaign.when_capped,
        track_links=campaign.track_links,
    )
    turn.log(CampaignSent(campaign.id, message.id, campaign.by))
    outcome.queued[phone] = message.id
