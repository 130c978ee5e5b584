"""outbox: a priority the claim orders by, and the claim that holds a message's lease

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        # Messages already waiting are "normal" (1): neither codes (0) nor bulk (2) are known.
        batch.add_column(
            sa.Column("priority", sa.SmallInteger(), nullable=False, server_default=sa.text("1"))
        )
        batch.add_column(sa.Column("claimed_by", sa.Uuid(), nullable=True))
        batch.drop_index("ix_outbox_messages_due")
        batch.create_index(
            "ix_outbox_messages_claim", ["status", "priority", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_index("ix_outbox_messages_claim")
        batch.create_index("ix_outbox_messages_due", ["status", "next_attempt_at"], unique=False)
        batch.drop_column("claimed_by")
        batch.drop_column("priority")
