"""Index the times that export pages through and retention trims by.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (table, columns): export pages in time order, retention deletes by time.
INDEXES = (
    ("messages", ["created_at", "seq", "id"]),
    ("conversation_events", ["at", "id"]),
    ("journey_runs", ["ended_at"]),
    ("link_clicks", ["at"]),
)


def _name(table: str, columns: list[str]) -> str:
    return op.f(f"ix_{table}_{'_'.join(columns)}")


def upgrade() -> None:
    """Apply this revision."""
    for table, columns in INDEXES:
        op.create_index(_name(table, columns), table, columns, unique=False)


def downgrade() -> None:
    """Undo this revision."""
    for table, columns in INDEXES:
        op.drop_index(_name(table, columns), table_name=table)
