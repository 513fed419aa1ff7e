"""Tracked links and their clicks in the record, on SQLite and PostgreSQL: written once,
counted or not by who clicked and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from bot.record.links import delivery_time, find_link
from bot.record.schema import link_clicks, links
from bot.record.writer import Click, Commit, Entry, RecordWriter, StatusChange

PHONE = "+14155550123"
T0 = "2026-11-30T17:00:00+00:00"
LINK = {
    "code": "AbCdEfGhIjK",
    "url": "https://shop.example/sale",
    "phone": PHONE,
    "message": "m1",
    "journey": "sale",
    "step": "announce",
    "created": T0,
}
BROWSER = "Mozilla/5.0 (iPhone) Mobile Safari"


def sent_with_link() -> Commit:
    message = {
        "id": "m1",
        "phone": PHONE,
        "direction": "outbound",
        "body": "Sale: https://go.example/l/AbCdEfGhIjK",
        "status": "pending",
        "at": T0,
        "journey": "sale",
        "step": "announce",
    }
    return Commit("1-0", T0, PHONE, messages=[message], links=[LINK])


def click(number: int, at: str, agent: str = BROWSER, **link: Any) -> Click:
    data = {**LINK, **link}
    return Click(
        f"{number + 10}-0",
        at,
        PHONE,
        f"click-{number}",
        data["code"],
        data["url"],
        message=data["message"],
        journey=data["journey"],
        step=data["step"],
        user_agent=agent,
    )


def rows(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        found = connection.execute(select(link_clicks)).mappings()
        return {row["id"]: dict(row) for row in found}


def test_links_and_clicks_are_written_once_and_counted_by_who_and_when(engine: Engine) -> None:
    writer = RecordWriter(engine)
    delivered = StatusChange("2-0", "2026-11-30T17:00:05+00:00", PHONE, "m1", "delivered")
    batch: list[Entry] = [
        sent_with_link(),
        click(1, "2026-11-30T17:00:04.500+00:00"),  # a scanner, just before the receipt
        delivered,
        click(2, "2026-11-30T17:00:05.900+00:00"),  # within the second after it
        click(3, "2026-11-30T17:00:06+00:00"),  # a person, a second later
        click(4, "2026-11-30T17:03:00+00:00", agent="facebookexternalhit/1.1"),
    ]
    writer.apply(batch)
    assert writer.clicks_written == {True: 1, False: 3}
    counted = {click_id: row["counted"] for click_id, row in rows(engine).items()}
    assert counted == {"click-1": False, "click-2": False, "click-3": True, "click-4": False}
    # Written again, in any order: nothing changes and nothing new is counted.
    writer.clicks_written = {}
    writer.apply(list(reversed(batch)))
    assert writer.clicks_written == {}
    assert {k: r["counted"] for k, r in rows(engine).items()} == counted
    with engine.connect() as connection:
        (link,) = connection.execute(select(links)).mappings()
    assert (link["code"], link["message_id"], link["journey"]) == ("AbCdEfGhIjK", "m1", "sale")
    found = find_link(engine, "AbCdEfGhIjK")
    assert found is not None and found.url == LINK["url"] and found.step == "announce"
    assert find_link(engine, "nope") is None
    delivered_at = delivery_time(engine, "m1")
    assert delivered_at is not None and delivered_at.isoformat() == "2026-11-30T17:00:05+00:00"


def test_a_click_on_a_message_the_record_has_not_seen_counts(engine: Engine) -> None:
    writer = RecordWriter(engine)
    writer.apply([click(1, T0, message="unknown")])
    assert [row["counted"] for row in rows(engine).values()] == [True]
