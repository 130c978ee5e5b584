"""offers: remember which step down each person was told about

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offer_assignments") as batch:
        batch.add_column(sa.Column("noticed_step_day", sa.Integer(), nullable=True))
    op.create_index(
        "ix_offer_assignments_offer_started", "offer_assignments", ["offer", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_offer_assignments_offer_started", table_name="offer_assignments")
    with op.batch_alter_table("offer_assignments") as batch:
        batch.drop_column("noticed_step_day")
