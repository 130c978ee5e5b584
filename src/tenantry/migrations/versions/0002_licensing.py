"""licensing: subscriptions, license pools, license assignments, idempotency keys

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
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("sku_id", sa.Uuid(), nullable=False),
        sa.Column("sku_part_number", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("next_lifecycle_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_subscriptions_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_subscriptions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.create_index("ix_subscriptions_tenant_sku", ["tenant_id", "sku_id"])
        batch_op.create_index("ix_subscriptions_due", ["status", "next_lifecycle_at"])

    op.create_table(
        "subscribed_skus",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("sku_id", sa.Uuid(), nullable=False),
        sa.Column("sku_part_number", sa.String(length=64), nullable=False),
        sa.Column("enabled_units", sa.Integer(), nullable=False),
        sa.Column("warning_units", sa.Integer(), nullable=False),
        sa.Column("suspended_units", sa.Integer(), nullable=False),
        sa.Column("locked_out_units", sa.Integer(), nullable=False),
        sa.Column("consumed_units", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "enabled_units >= 0 AND warning_units >= 0 AND suspended_units >= 0"
            " AND locked_out_units >= 0 AND consumed_units >= 0",
            name=op.f("ck_subscribed_skus_units_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_subscribed_skus_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sku_id", name=op.f("pk_subscribed_skus")),
    )

    op.create_table(
        "license_assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("sku_id", sa.Uuid(), nullable=False),
        sa.Column("assigned_by_group", sa.Uuid(), nullable=True),
        sa.Column("disabled_plans", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("error", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_license_assignments_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_license_assignments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_assignments")),
        sa.UniqueConstraint(
            "tenant_id",
            "user_id",
            "sku_id",
            "assigned_by_group",
            name=op.f("uq_license_assignments_source"),
        ),
    )
    with op.batch_alter_table("license_assignments") as batch_op:
        batch_op.create_index(
            "uq_license_assignments_direct",
            ["tenant_id", "user_id", "sku_id"],
            unique=True,
            sqlite_where=sa.text("assigned_by_group IS NULL"),
            postgresql_where=sa.text("assigned_by_group IS NULL"),
        )
        batch_op.create_index("ix_license_assignments_user", ["user_id", "sku_id"])
        batch_op.create_index("ix_license_assignments_tenant_sku", ["tenant_id", "sku_id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "scope", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.create_index("ix_idempotency_keys_expires", ["expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.drop_index("ix_idempotency_keys_expires")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("license_assignments") as batch_op:
        batch_op.drop_index("ix_license_assignments_tenant_sku")
        batch_op.drop_index("ix_license_assignments_user")
        batch_op.drop_index(
            "uq_license_assignments_direct",
            sqlite_where=sa.text("assigned_by_group IS NULL"),
            postgresql_where=sa.text("assigned_by_group IS NULL"),
        )
    op.drop_table("license_assignments")
    op.drop_table("subscribed_skus")
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.drop_index("ix_subscriptions_due")
        batch_op.drop_index("ix_subscriptions_tenant_sku")
    op.drop_table("subscriptions")
