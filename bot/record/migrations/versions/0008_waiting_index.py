"""Index who waits for staff, so the inbox counts them without reading every contact.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = ["conversation", "waiting_since"]


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(op.f("ix_contacts_conversation_waiting_since"), "contacts", COLUMNS)


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index(op.f("ix_contacts_conversation_waiting_since"), table_name="contacts")
