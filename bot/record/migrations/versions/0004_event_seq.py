"""Number each conversation event in its contact's log, so history pages by that number.

Events already in the record get 0.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("conversation_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(
            batch_op.f("ix_conversation_events_phone_seq"), ["phone", "seq"], unique=False
        )
        # Export pages by (at, seq, id): events of one transition share their time.
        batch_op.drop_index(batch_op.f("ix_conversation_events_at_id"))
        batch_op.create_index(
            batch_op.f("ix_conversation_events_at_seq_id"), ["at", "seq", "id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("conversation_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_events_at_seq_id"))
        batch_op.create_index(
            batch_op.f("ix_conversation_events_at_id"), ["at", "id"], unique=False
        )
        batch_op.drop_index(batch_op.f("ix_conversation_events_phone_seq"))
        batch_op.drop_column("seq")
