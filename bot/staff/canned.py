"""Canned replies in the record: saved answers staff pick from when they reply."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from bot.record.schema import canned_replies
from bot.record.times import utc

LONGEST_TITLE = 100
# One message's body at most (Twilio's limit, as bot.conversation.staffing.REPLY_LIMIT):
# a canned reply longer than a reply could be would only be refused when sent.
LONGEST_BODY = 1600


@dataclass(frozen=True)
class CannedReply:
    """One saved answer, and who last changed it when."""

    id: str
    title: str
    body: str
    updated_at: datetime
    updated_by: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def _checked(title: str, body: str) -> tuple[str, str]:
    """Return the title and body trimmed; raise ValueError saying what is wrong with them."""
    title, body = title.strip(), body.strip()
    if not title:
        raise ValueError("the title cannot be empty")
    if len(title) > LONGEST_TITLE:
        raise ValueError(f"the title must be at most {LONGEST_TITLE} characters")
    if not body:
        raise ValueError("the reply cannot be empty")
    if len(body) > LONGEST_BODY:
        raise ValueError(f"the reply must be at most {LONGEST_BODY} characters")
    return title, body


class CannedReplies:
    """The canned_replies table: admins keep it, every staff member reads it."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _now) -> None:
        self.engine = engine
        self.clock = clock

    def list(self) -> list[CannedReply]:
        """Return every canned reply, by title."""
        order = (func.lower(canned_replies.c.title), canned_replies.c.id)
        with self.engine.connect() as connection:
            rows = connection.execute(select(canned_replies).order_by(*order)).mappings().all()
        return [_reply(row) for row in rows]

    def get(self, reply_id: str) -> CannedReply | None:
        """Return the canned reply with this id, or None."""
        query = select(canned_replies).where(canned_replies.c.id == reply_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _reply(row)

    def add(self, title: str, body: str, by: str | None) -> CannedReply:
        """Save a new canned reply; raise ValueError for an empty or too long title or body."""
        title, body = _checked(title, body)
        reply = CannedReply(uuid.uuid4().hex, title, body, utc(self.clock()), by)
        with self.engine.begin() as connection:
            connection.execute(
                insert(canned_replies).values(
                    id=reply.id, title=title, body=body, updated_at=reply.updated_at, updated_by=by
                )
            )
        return reply

    def update(self, reply_id: str, title: str, body: str, by: str | None) -> CannedReply | None:
        """Change a canned reply's title and body; return it, or None if there is none."""
        title, body = _checked(title, body)
        at = utc(self.clock())
        with self.engine.begin() as connection:
            result = connection.execute(
                update(canned_replies)
                .where(canned_replies.c.id == reply_id)
                .values(title=title, body=body, updated_at=at, updated_by=by)
            )
        return CannedReply(reply_id, title, body, at, by) if result.rowcount else None

    def remove(self, reply_id: str) -> bool:
        """Delete the canned reply with this id; say whether there was one."""
        with self.engine.begin() as connection:
            result = connection.execute(
                delete(canned_replies).where(canned_replies.c.id == reply_id)
            )
        return result.rowcount > 0


def _reply(row: Any) -> CannedReply:
    return CannedReply(
        row["id"], row["title"], row["body"], utc(row["updated_at"]), row["updated_by"]
    )
