"""The inbox's conversation list from the record: views, counts, last messages, runs, pages."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from bot.domain.contacts import Contact, ConversationStatus
from bot.domain.messages import Direction, Message, Status
from bot.record import conversations, schema
from bot.record.writer import Commit, RecordWriter
from flows.engine import Run
from flows.state import RunStatus

ANA, BO = "ana@clinic.test", "bo@clinic.test"
T0 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
_ids = itertools.count(1)


def converse(
    engine: Engine,
    phone: str,
    minute: int,
    *,
    name: str | None = None,
    status: ConversationStatus = ConversationStatus.BOT,
    assignee: str | None = None,
    waiting: bool = False,
    last: Direction = Direction.INBOUND,
    read: bool = False,
    run_step: str | None = None,
) -> None:
    """Write a contact with two messages, its last at T0 + `minute`, into the record."""
    at = (T0 + timedelta(minutes=minute)).isoformat()
    contact = Contact(phone=phone, timezone="America/New_York", created_at=T0.isoformat())
    if name:
        contact.fields["first_name"] = name
    contact.conversation, contact.assignee = status, assignee
    contact.handoff = status in (ConversationStatus.OPEN, ConversationStatus.SNOOZED)
    contact.waiting_since = at if waiting else None
    contact.last_active_at, contact.message_seq = at, 2
    contact.read_seq = 2 if read else 1
    if run_step:
        contact.runs.append(
            Run("run-" + phone, "appointment_confirmation", run_step, RunStatus.WAITING, T0)
        )
    first_way = Direction.OUTBOUND if last is Direction.INBOUND else Direction.INBOUND
    texts = [
        Message(f"m{next(_ids)}", phone, first_way, "earlier", Status.SENT, at, seq=1),
        Message(
            f"m{next(_ids)}", phone, last, f"last words of {phone}", Status.RECEIVED, at, seq=2
        ),
    ]
    view = contact.record_view()
    commit = Commit(
        f"{next(_ids)}-0",
        at,
        phone,
        contact=view["contact"],
        runs=list(view["runs"].values()),
        messages=[m.to_hash() for m in texts],
    )
    RecordWriter(engine).apply([commit])


@pytest.fixture
def inbox(engine: Engine) -> Engine:
    open_ = ConversationStatus.OPEN
    converse(engine, "+12125550101", 1, name="Ana", status=open_, waiting=True)
    converse(engine, "+12125550102", 2, status=open_, assignee=ANA, waiting=True)
    converse(engine, "+12125550103", 3, status=open_, assignee=ANA, last=Direction.OUTBOUND)
    converse(engine, "+12125550104", 4, status=ConversationStatus.SNOOZED, assignee=BO)
    converse(engine, "+12125550105", 5, status=ConversationStatus.RESOLVED, assignee=BO)
    converse(engine, "+12125550106", 6, run_step="ask", read=True)
    converse(engine, "+12125550107", 7, name="Bo")
    return engine


def phones(page: conversations.Page) -> list[str]:
    return [row.contact["phone"][-3:] for row in page.rows]


@pytest.mark.parametrize(
    ("view", "staff", "expected"),
    [
        ("waiting", ANA, ["102", "101"]),
        ("mine", ANA, ["103", "102"]),
        ("mine", BO, ["104"]),
        ("unassigned", ANA, ["101"]),
        ("bot", ANA, ["107", "106"]),
        ("snoozed", ANA, ["104"]),
        ("resolved", ANA, ["105"]),
        ("all", ANA, ["107", "106", "105", "104", "103", "102", "101"]),
    ],
)
def test_each_view_holds_its_conversations_newest_activity_first(
    inbox: Engine, view: str, staff: str, expected: list[str]
) -> None:
    assert phones(conversations.conversation_page(inbox, view, staff, 50)) == expected


def test_counts_match_the_views(inbox: Engine) -> None:
    counts = conversations.counts(inbox, ANA)
    for view in conversations.VIEWS:
        page = conversations.conversation_page(inbox, view, ANA, 50)
        assert counts[view] == len(page.rows), view
    assert conversations.waiting_count(inbox) == counts["waiting"] == 2


def test_rows_carry_the_last_message_its_unread_mark_and_the_open_run(inbox: Engine) -> None:
    rows = {
        row.contact["phone"][-3:]: row
        for row in conversations.conversation_page(inbox, "all", ANA, 50).rows
    }
    assert rows["101"].last is not None
    assert rows["101"].last["body"] == "last words of +12125550101"
    assert rows["101"].unread  # the contact wrote last and staff have not read it
    assert not rows["103"].unread  # staff wrote last
    assert not rows["106"].unread  # read
    assert rows["106"].run is not None and rows["106"].run["step"] == "ask"
    assert rows["101"].run is None
    assert (rows["101"].name, rows["102"].name) == ("Ana", "+12125550102")


def test_pages_and_search_narrow_a_view(inbox: Engine) -> None:
    first = conversations.conversation_page(inbox, "all", ANA, 3)
    assert phones(first) == ["107", "106", "105"]
    second = conversations.conversation_page(inbox, "all", ANA, 3, first.cursor)
    assert phones(second) == ["104", "103", "102"]
    assert phones(conversations.conversation_page(inbox, "all", ANA, 50, query="bo")) == ["107"]
    assert phones(conversations.conversation_page(inbox, "bot", ANA, 50, query="0106")) == ["106"]


def test_an_unknown_view_is_refused(inbox: Engine) -> None:
    with pytest.raises(ValueError, match="no view 'later'"):
        conversations.conversation_page(inbox, "later", ANA, 50)


@pytest.mark.parametrize("wildcard", ["%", "_", "A%a", "B_"])
def test_a_search_takes_like_wildcards_literally(inbox: Engine, wildcard: str) -> None:
    assert phones(conversations.conversation_page(inbox, "all", ANA, 50, query=wildcard)) == []


def test_a_search_finds_a_first_name_a_last_name_or_both(engine: Engine) -> None:
    converse(engine, "+12125550111", 1, name="Maria")
    with engine.begin() as connection:
        connection.execute(
            schema.contacts.update()
            .where(schema.contacts.c.phone == "+12125550111")
            .values(last_name="Silva")
        )
    for query in ("mar", "SILVA", "ria sil"):
        page = conversations.conversation_page(engine, "all", ANA, 50, query=query)
        assert phones(page) == ["111"], query
