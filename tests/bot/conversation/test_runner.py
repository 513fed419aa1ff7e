"""The conversation runner's transition: lock, load, turn, commit, or nothing at all."""

from __future__ import annotations

import pytest

from bot.conversation.log_events import HandoffReleased, Undeliverable
from bot.runtime import Runtime
from bot.storage.store import LockLost

PHONE = "+14155550100"


def _steal_lock(runtime: Runtime, phone: str) -> None:
    """Let the contact's lock expire and another holder take it, as a long pause would."""
    keys = [key for key in runtime.redis.scan_iter("*lock*") if phone in key]
    assert keys, "the transition holds no lock on the contact"
    for key in keys:
        runtime.redis.set(key, "another-holder", px=30_000)


def test_a_transition_saves_what_its_block_did(runtime: Runtime) -> None:
    conversations = runtime.conversations
    with conversations.transition(PHONE) as turn:
        turn.contact.fields["first_name"] = "Ana"
        turn.log(Undeliverable(30003))

    stored = runtime.store.load_contact(PHONE)
    assert stored is not None and stored.fields == {"first_name": "Ana"}
    assert [e["type"] for e in runtime.store.events(PHONE)] == ["undeliverable"]


def test_a_transition_that_raises_saves_nothing_and_frees_the_contact(runtime: Runtime) -> None:
    conversations = runtime.conversations
    with pytest.raises(ValueError), conversations.transition(PHONE) as turn:
        turn.contact.fields["first_name"] = "Ana"
        raise ValueError("the block failed")

    assert runtime.store.load_contact(PHONE) is None
    assert runtime.store.events(PHONE) == []
    with conversations.transition(PHONE) as turn:  # not left locked
        turn.contact.fields["first_name"] = "Bo"
    stored = runtime.store.load_contact(PHONE)
    assert stored is not None and stored.fields == {"first_name": "Bo"}


def test_a_discarded_transition_saves_nothing(runtime: Runtime) -> None:
    conversations = runtime.conversations
    with conversations.transition(PHONE) as turn:
        turn.contact.fields["first_name"] = "Ana"
        turn.discard()

    assert runtime.store.load_contact(PHONE) is None


def test_a_transition_whose_lock_was_lost_saves_nothing(runtime: Runtime) -> None:
    conversations = runtime.conversations
    with conversations.transition(PHONE) as turn:
        turn.contact.fields["first_name"] = "Ana"
    with pytest.raises(LockLost), conversations.transition(PHONE) as turn:
        turn.contact.fields["first_name"] = "Overwritten"
        _steal_lock(runtime, PHONE)

    stored = runtime.store.load_contact(PHONE)
    assert stored is not None and stored.fields == {"first_name": "Ana"}


def test_transition_existing_yields_nothing_for_a_stranger(runtime: Runtime) -> None:
    with runtime.conversations.transition_existing(PHONE) as turn:
        assert turn is None
    assert runtime.store.load_contact(PHONE) is None
    assert runtime.conversations.release_handoff(PHONE) is False
    assert runtime.store.load_contact(PHONE) is None


def test_release_handoff_changes_only_a_handed_off_contact(runtime: Runtime) -> None:
    conversations = runtime.conversations
    with conversations.transition(PHONE) as turn:
        turn.handoff("requested")

    assert conversations.release_handoff(PHONE) is True
    assert conversations.release_handoff(PHONE) is False
    stored = runtime.store.load_contact(PHONE)
    assert stored is not None and not stored.handoff
    types = [e["type"] for e in runtime.store.events(PHONE)]
    assert types == ["handoff_started", HandoffReleased.type]


def test_transitions_lock_the_free_contacts_and_commit_them_together(runtime: Runtime) -> None:
    conversations = runtime.conversations
    free, busy, stranger = "+14155550101", "+14155550102", "+14155550103"
    for phone in (free, busy):
        with conversations.transition(phone) as turn:
            turn.contact.fields["n"] = 0
    # A reply of `busy` is being handled meanwhile: its lock is taken.
    with (
        runtime.store.lock(busy),
        conversations.transitions([free, busy, stranger]) as (turns, locked),
    ):
        assert locked == {free, stranger}
        assert set(turns) == {free}  # a stranger has nothing to load
        turns[free].contact.fields["n"] = 1
    stored = {phone: runtime.store.load_contact(phone) for phone in (free, busy)}
    assert {phone: c.fields["n"] for phone, c in stored.items() if c} == {free: 1, busy: 0}
    assert runtime.store.load_contact(stranger) is None
    with conversations.transition(stranger) as turn:  # its lock was released
        turn.discard()
