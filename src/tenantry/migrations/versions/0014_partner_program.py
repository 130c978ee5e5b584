"""partner program: platform operators, agreement versions, reserved publisher names

Revision ID: 0014
Revises: 0013

Three new tables, nothing else changes. Operator is a platform role, kept apart from the
tenants' role assignments (`platform_operators`). A reserved publisher name is keyed by
`partner.service.publisher_name_key`, so a look-alike of a reserved name is the same row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_operators",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_platform_operators_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_platform_operators")),
    )
    op.create_table(
        "partner_agreements",
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", "language", name=op.f("pk_partner_agreements")),
    )
    op.create_table(
        "reserved_publisher_names",
        sa.Column("name_key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name_key", name=op.f("pk_reserved_publisher_names")),
    )


def downgrade() -> None:
    op.drop_table("reserved_publisher_names")
    op.drop_table("partner_agreements")
    op.drop_table("platform_operators")
