"""Keep tracked short links: the URL each code leads to, and the message it was sent in.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "links",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("journey", sa.String(100), nullable=True),
        sa.Column("step", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_links"),
    )
    op.create_index("ix_links_message_id", "links", ["message_id"])
    op.create_index("ix_links_journey_step", "links", ["journey", "step"])


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index("ix_links_journey_step", table_name="links")
    op.drop_index("ix_links_message_id", table_name="links")
    op.drop_table("links")
