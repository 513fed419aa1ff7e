"""Number each message in its contact's conversation, and page history by that number.

Messages in one transition share their time; the number keeps them in the order they
happened. Messages already in the record get 0, which sorts them before any numbered one.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_index(batch_op.f("ix_messages_phone_created_at_id"))
        batch_op.create_index(
            batch_op.f("ix_messages_phone_seq_created_at_id"),
            ["phone", "seq", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_phone_seq_created_at_id"))
        batch_op.create_index(
            batch_op.f("ix_messages_phone_created_at_id"),
            ["phone", "created_at", "id"],
            unique=False,
        )
        batch_op.drop_column("seq")
