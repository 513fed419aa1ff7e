"""Fill the consent ledger: number its rows, and copy in the decisions already recorded.

The writer now adds a ledger row for every `consent_changed` conversation event. A
record that kept such events before gets their rows here, named by the events' ids as
the writer names them, so a stream entry written again afterwards adds nothing. `seq`
is the decision's place in its contact's event log: decisions of one transition share
their time, and it orders them.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PAGE = 1000  # events read and rows written at a time
WHEN = sa.DateTime(timezone=True)

# The tables as this revision knows them, whatever the code's schema becomes later.
events = sa.table(
    "conversation_events",
    sa.column("id", sa.String),
    sa.column("phone", sa.String),
    sa.column("type", sa.String),
    sa.column("at", WHEN),
    sa.column("data", sa.JSON),
    sa.column("seq", sa.Integer),
)
ledger = sa.table(
    "consent_ledger",
    sa.column("id", sa.String),
    sa.column("phone", sa.String),
    sa.column("purpose", sa.String),
    sa.column("granted", sa.Boolean),
    sa.column("method", sa.String),
    sa.column("source", sa.String),
    sa.column("evidence", sa.Text),
    sa.column("disclosure", sa.Text),
    sa.column("at", WHEN),
    sa.column("seq", sa.Integer),
)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("consent_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_index(batch_op.f("ix_consent_ledger_at"))
        batch_op.create_index(
            batch_op.f("ix_consent_ledger_at_seq_id"), ["at", "seq", "id"], unique=False
        )
    _backfill(op.get_bind())


def downgrade() -> None:
    """Revert this revision; the ledger's rows stay, as they always do."""
    with op.batch_alter_table("consent_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_ledger_at_seq_id"))
        batch_op.create_index(batch_op.f("ix_consent_ledger_at"), ["at"], unique=False)
        batch_op.drop_column("seq")


def _backfill(connection: sa.Connection) -> None:
    """Add a ledger row for each consent decision in conversation_events, a page at a time."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(ledger).on_conflict_do_nothing(index_elements=["id"])
    query = (
        sa.select(events)
        .where(events.c.type == "consent_changed")
        .order_by(events.c.id)
        .limit(PAGE)
    )
    last: str | None = None
    while True:
        page = connection.execute(query if last is None else query.where(events.c.id > last))
        found = page.all()
        rows = [row for row in map(_row, found) if row is not None]
        if rows:
            connection.execute(insert, rows)
        if len(found) < PAGE:
            return
        last = found[-1].id


def _row(event: Any) -> dict[str, Any] | None:
    data = event.data or {}
    if "purpose" not in data or "granted" not in data:
        return None
    return {
        "id": event.id,
        "phone": event.phone,
        "purpose": str(data["purpose"])[:32],
        "granted": bool(data["granted"]),
        "method": str(data.get("method") or "api")[:32],
        "source": _text(data.get("source"), 200),
        "evidence": _text(data.get("evidence")),
        "disclosure": _text(data.get("disclosure")),
        "at": event.at,
        "seq": int(event.seq or 0),
    }


def _text(value: Any, length: int | None = None) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\x00", "")
    return text[:length] if length else text
