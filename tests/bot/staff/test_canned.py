"""Canned replies in the record: adding, listing, changing, removing, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from bot.staff.canned import LONGEST_BODY, LONGEST_TITLE, CannedReplies
from tests.conftest import Clock


@pytest.fixture
def canned(engine: Engine, clock: Clock) -> CannedReplies:
    return CannedReplies(engine, clock=clock)


def test_added_replies_are_listed_by_title_with_who_and_when(canned, clock) -> None:
    hours = canned.add("  opening hours ", "We're open 9-5, Monday to Friday.\n", by="ana@x.org")
    canned.add("Address", "12 High Street", by=None)
    assert (hours.title, hours.body) == ("opening hours", "We're open 9-5, Monday to Friday.")
    listed = canned.list()
    assert [r.title for r in listed] == ["Address", "opening hours"]  # case does not sort
    assert listed[1] == hours
    assert listed[1].updated_at == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert listed[1].updated_by == "ana@x.org"
    assert canned.get(hours.id) == hours
    assert canned.get("nope") is None


def test_an_update_changes_the_text_and_says_who_and_when(canned, clock) -> None:
    reply = canned.add("Hours", "9-5", by="ana@x.org")
    clock.advance(hours=1)
    changed = canned.update(reply.id, "Hours", "9-6 now", by="cy@x.org")
    assert changed is not None
    assert canned.list() == [changed]
    assert (changed.body, changed.updated_by) == ("9-6 now", "cy@x.org")
    assert changed.updated_at == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    assert canned.update("nope", "Hours", "9-5", by="cy@x.org") is None


def test_removing_deletes_only_that_reply(canned) -> None:
    one = canned.add("One", "1", by=None)
    two = canned.add("Two", "2", by=None)
    assert canned.remove(one.id) is True
    assert canned.remove(one.id) is False
    assert canned.list() == [two]


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [
        ("", "text", "the title cannot be empty"),
        ("   ", "text", "the title cannot be empty"),
        ("t" * (LONGEST_TITLE + 1), "text", f"at most {LONGEST_TITLE} characters"),
        ("Title", "", "the reply cannot be empty"),
        ("Title", " \n ", "the reply cannot be empty"),
        ("Title", "b" * (LONGEST_BODY + 1), f"at most {LONGEST_BODY} characters"),
    ],
)
def test_an_empty_or_too_long_title_or_body_is_refused(canned, title, body, message) -> None:
    with pytest.raises(ValueError, match=message):
        canned.add(title, body, by=None)
    kept = canned.add("Kept", "as it was", by=None)
    with pytest.raises(ValueError, match=message):
        canned.update(kept.id, title, body, by=None)
    assert canned.list() == [kept]


def test_the_longest_title_and_body_fit(canned) -> None:
    reply = canned.add("t" * LONGEST_TITLE, "é" * LONGEST_BODY, by=None)
    assert canned.list() == [reply]
