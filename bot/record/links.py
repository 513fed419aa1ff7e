"""Tracked short links in the record: a link Redis has let go, and when a message arrived."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from bot.domain.link_bots import delivered_at
from bot.domain.links import Link
from bot.record.schema import links, messages
from bot.record.times import utc


def find_link(engine: Engine, code: str) -> Link | None:
    """Return the link with this code as the record keeps it, or None."""
    with engine.connect() as connection:
        row = connection.execute(select(links).where(links.c.code == code)).first()
    if row is None:
        return None
    return Link(
        code=row.code,
        url=row.url,
        phone=row.phone,
        message=row.message_id,
        journey=row.journey,
        step=row.step,
        created=utc(row.created_at).isoformat(),
    )


def delivery_time(engine: Engine, message_id: str) -> datetime | None:
    """Return the latest `sent` or `delivered` time the record has for a message."""
    with engine.connect() as connection:
        history = connection.execute(
            select(messages.c.status_history).where(messages.c.id == message_id)
        ).scalar()
    return delivered_at(history or [])
