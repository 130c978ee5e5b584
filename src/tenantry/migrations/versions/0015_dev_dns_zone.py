"""dev_dns_records: the development DNS zone of `tenantry serve --dev` (core/devzone.py)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dev_dns_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dev_dns_records_name", "dev_dns_records", ["name"])


def downgrade() -> None:
    op.drop_index("ix_dev_dns_records_name", table_name="dev_dns_records")
    op.drop_table("dev_dns_records")
