"""Keep journey figures as they happen: daily rollups, and what a run and a message earned.

`journey_counts` holds each journey's figures summed per day (bot/record/rollups.py
keeps them as the record is written; `python -m bot analytics rebuild` recomputes them
from the record). A run keeps the goals it reached and the arm each split gave it; a
message, its first counted click; a conversion, its total to four decimals. Runs
recorded before get their goals and splits from their events here.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

PAGE = 1000  # events read at a time
WHEN = sa.DateTime(timezone=True)

# The tables as this revision knows them, whatever the code's schema becomes later.
events = sa.table(
    "conversation_events",
    sa.column("id", sa.String),
    sa.column("type", sa.String),
    sa.column("at", WHEN),
    sa.column("run_id", sa.String),
    sa.column("data", sa.JSON),
)
runs = sa.table(
    "journey_runs",
    sa.column("id", sa.String),
    sa.column("goals", sa.JSON),
    sa.column("splits", sa.JSON),
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "journey_counts",
        sa.Column("journey", sa.String(length=100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("journey", "day", "metric", "key", name="pk_journey_counts"),
    )
    with op.batch_alter_table("journey_runs") as batch:
        batch.add_column(sa.Column("splits", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("goals", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("clicked_at", WHEN, nullable=True))
    with op.batch_alter_table("conversions") as batch:  # currencies with three decimals too
        batch.alter_column("total", type_=sa.Numeric(18, 4), existing_type=sa.Numeric(14, 2))
    _backfill(op.get_bind())


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("conversions") as batch:
        batch.alter_column("total", type_=sa.Numeric(14, 2), existing_type=sa.Numeric(18, 4))
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("clicked_at")
    with op.batch_alter_table("journey_runs") as batch:
        batch.drop_column("goals")
        batch.drop_column("splits")
    op.drop_table("journey_counts")


def _backfill(connection: sa.Connection) -> None:
    """Give each recorded run the goals and split arms its events name."""
    reached: dict[str, dict[str, Any]] = {}
    query = (
        sa.select(events.c.id, events.c.type, events.c.at, events.c.run_id, events.c.data)
        .where(events.c.type.in_(("goal_reached", "split_chosen")))
        .where(events.c.run_id.is_not(None))
        .order_by(events.c.id)
        .limit(PAGE)
    )
    last: str | None = None
    while True:
        found = connection.execute(query if last is None else query.where(events.c.id > last))
        page = found.all()
        for event in page:
            data = event.data or {}
            run = reached.setdefault(event.run_id, {"goals": {}, "splits": {}})
            if event.type == "goal_reached" and data.get("goal"):
                when = event.at.isoformat() if event.at else None
                run["goals"].setdefault(str(data["goal"]), when)
            elif event.type == "split_chosen" and data.get("step"):
                run["splits"].setdefault(str(data["step"]), str(data.get("variant")))
        if len(page) < PAGE:
            break
        last = page[-1].id
    update = runs.update().where(runs.c.id == sa.bindparam("_id"))
    rows = [
        {
            "_id": run_id,
            "goals": [[g, at] for g, at in run["goals"].items()],
            "splits": run["splits"],
        }
        for run_id, run in reached.items()
    ]
    for start in range(0, len(rows), PAGE):
        connection.execute(update, rows[start : start + PAGE])
