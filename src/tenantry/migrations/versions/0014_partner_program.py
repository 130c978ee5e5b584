"""partner program: operators, agreement versions, reserved publisher names, partner accounts

Revision ID: 0014
Revises: 0013

Four new tables, nothing else changes. Operator is a platform role, kept apart from the
tenants' role assignments (`platform_operators`). A reserved publisher name is keyed by
`partner.service.publisher_name_key`, so a look-alike of a reserved name is the same row.
Two unique indexes on `partner_accounts` settle enrollment races: one account per tenant,
one per publisher name key.
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
    op.create_table(
        "partner_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("country_or_region", sa.String(length=2), nullable=False),
        sa.Column("account_type", sa.String(length=20), nullable=False),
        sa.Column("publisher_display_name", sa.String(length=50), nullable=False),
        sa.Column("publisher_name_key", sa.String(length=64), nullable=False),
        sa.Column("contact_name", sa.String(length=256), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=False),
        sa.Column("approver_name", sa.String(length=256), nullable=False),
        sa.Column("approver_email", sa.String(length=320), nullable=False),
        sa.Column("approver_phone", sa.String(length=20), nullable=False),
        sa.Column("agreement_version", sa.String(length=40), nullable=False),
        sa.Column("agreement_accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agreement_accepted_by", sa.Uuid(), nullable=False),
        sa.Column("agreement_client_address", sa.String(length=64), nullable=True),
        sa.Column("approval_token_digest", sa.String(length=64), nullable=True),
        sa.Column("approval_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_partner_accounts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_accounts")),
    )
    op.create_index("ux_partner_accounts_tenant_id", "partner_accounts", ["tenant_id"], unique=True)
    op.create_index(
        "ix_partner_accounts_approval_token_digest",
        "partner_accounts",
        ["approval_token_digest"],
    )
    op.create_index(
        "ux_partner_accounts_publisher_name_key",
        "partner_accounts",
        ["publisher_name_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("partner_accounts")
    op.drop_table("reserved_publisher_names")
    op.drop_table("partner_agreements")
    op.drop_table("platform_operators")
