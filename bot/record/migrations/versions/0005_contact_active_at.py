"""Keep each contact's last activity, or its creation, in one indexed column.

The contact list is ordered by it; ordering by COALESCE(last_active_at, created_at) read
and sorted the whole table for every page.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE contacts SET active_at = COALESCE(last_active_at, created_at)")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_active_at_phone"), ["active_at", "phone"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_handoff_active_at_phone"),
            ["handoff", "active_at", "phone"],
            unique=False,
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_handoff_active_at_phone"))
        batch_op.drop_index(batch_op.f("ix_contacts_active_at_phone"))
        batch_op.drop_column("active_at")
