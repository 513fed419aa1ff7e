"""The Redis store on its own: transitions written whole or not at all, once, under a lock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.contacts import Contact
from bot.domain.messages import Direction, Message, Status
from bot.runtime import Runtime
from bot.storage.store import (
    BUSY,
    COMMITTED,
    DUPLICATE,
    EVENT_LOG_LENGTH,
    LOCK_LOST,
    LOCKED,
    REPEAT,
    Changes,
    InboundClaim,
    LockLost,
    Store,
)

PHONE = "+14155550100"
NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC).isoformat()


def changes(name: str = "Ana", *, events: int = 1) -> Changes:
    """Return a transition that names the contact, records an inbound text and logs events."""
    contact = Contact(phone=PHONE, timezone="America/New_York", created_at=NOW)
    contact.fields["first_name"] = name
    text = Message(
        id="SM1", phone=PHONE, direction=Direction.INBOUND, body="hi",
        status=Status.RECEIVED, at=NOW, sid="SM1",
    )  # fmt: skip
    log = [{"at": NOW, "type": "note", "n": n} for n in range(events)]
    return Changes(contact, messages=[text], events=log)


@pytest.fixture
def store(runtime: Runtime) -> Store:
    return runtime.store


def test_a_commit_writes_contact_messages_and_log_together(store: Store) -> None:
    outcome, _ = store.commit(changes())
    assert outcome == COMMITTED
    contact = store.load_contact(PHONE)
    assert contact is not None and contact.fields == {"first_name": "Ana"}
    assert [m.body for m in store.messages(PHONE)] == ["hi"]
    assert [e["n"] for e in store.events(PHONE)] == [0]
    assert store.phones() == [PHONE]


def test_a_fenced_commit_whose_lock_is_gone_writes_nothing(store: Store) -> None:
    with store.lock(PHONE) as token:
        pass  # released: the token no longer holds the lock
    outcome, _ = store.commit(changes(), fence={PHONE: token})
    assert outcome == LOCK_LOST
    assert store.load_contact(PHONE) is None
    assert store.messages(PHONE) == [] and store.events(PHONE) == []


def test_a_message_is_handled_once_however_often_it_is_committed(store: Store) -> None:
    first = InboundClaim.new("SM1", PHONE)
    state, contact = store.begin_inbound(first)
    assert state == LOCKED and contact is None
    lock = {PHONE: first.token}
    assert store.commit(changes("Ana"), claims=(first,), unlock=lock, fence=lock)[0] == COMMITTED

    again = InboundClaim.new("SM1", PHONE)
    assert store.begin_inbound(again)[0] == DUPLICATE
    # Even a retry that got past begin (it began before the first committed) writes nothing.
    assert store.commit(changes("Bo"), claims=(again,))[0] == REPEAT
    contact = store.load_contact(PHONE)
    assert contact is not None and contact.fields == {"first_name": "Ana"}


def test_another_message_waits_while_the_contact_is_locked(store: Store) -> None:
    with store.lock(PHONE):
        assert store.begin_inbound(InboundClaim.new("SM2", PHONE))[0] == BUSY
        with pytest.raises(LockLost), store.lock(PHONE, timeout=0.2):
            pass
    assert store.begin_inbound(InboundClaim.new("SM2", PHONE))[0] == LOCKED


def test_the_event_log_keeps_a_recent_window(store: Store) -> None:
    store.commit(changes(events=EVENT_LOG_LENGTH + 5))
    window = store.events(PHONE)
    assert len(window) == EVENT_LOG_LENGTH
    assert window[-1]["n"] == EVENT_LOG_LENGTH + 4  # the newest are kept
