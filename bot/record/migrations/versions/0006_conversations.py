"""Keep each conversation's standing with staff on its contact, and who wrote each message.

The staff inbox lists, filters and counts conversations by status, owner and waiting
time; the contact row is where the list reads everything else, so the standing lives
there too and the never-written `conversations` table goes. `message_seq` finds a
contact's last message without scanning its history; `author` names the staff member
who wrote a message.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("conversation", sa.String(16), server_default="bot", nullable=False)
        )
        batch_op.add_column(sa.Column("assignee", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("waiting_since", WHEN, nullable=True))
        batch_op.add_column(sa.Column("snoozed_until", WHEN, nullable=True))
        batch_op.add_column(sa.Column("staff_at", WHEN, nullable=True))
        batch_op.add_column(sa.Column("read_seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("message_seq", sa.Integer(), server_default="0", nullable=False)
        )
    # Handed off before conversations had a status: open, waiting since the last text.
    op.execute(
        "UPDATE contacts SET conversation = 'open', waiting_since = last_active_at WHERE handoff"
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_conversation_active_at_phone"),
            ["conversation", "active_at", "phone"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_assignee_conversation_active_at_phone"),
            ["assignee", "conversation", "active_at", "phone"],
            unique=False,
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author", sa.String(200), nullable=True))
    op.drop_index(op.f("ix_conversations_status_updated_at"), table_name="conversations")
    op.drop_table("conversations")


def downgrade() -> None:
    """Revert this revision."""
    op.create_table(
        "conversations",
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("waiting_since", WHEN, nullable=True),
        sa.Column("snoozed_until", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_conversations")),
    )
    op.create_index(
        op.f("ix_conversations_status_updated_at"),
        "conversations",
        ["status", "updated_at"],
        unique=False,
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("author")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_assignee_conversation_active_at_phone"))
        batch_op.drop_index(batch_op.f("ix_contacts_conversation_active_at_phone"))
        for column in (
            "message_seq",
            "read_seq",
            "staff_at",
            "snoozed_until",
            "waiting_since",
            "assignee",
            "conversation",
        ):
            batch_op.drop_column(column)
