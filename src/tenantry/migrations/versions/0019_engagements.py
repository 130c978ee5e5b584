"""engagements: programs and their roles, engagements, audiences, members, access requests

Revision ID: 0019
Revises: 0018

Six new tables, nothing else changes. One pending access request per person and engagement
is a partial unique index (`ux_engagement_access_requests_pending`, on both databases); the
timed round finds due requests through partial indexes on pending rows (expiry, reminder);
every list filter has its index (a decider's requests by engagement or by organization,
then state; a requester's; a member's engagements; an engagement's members by
organization and by last access).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "programs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
    )
    op.create_table(
        "engagements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=True),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("display_name_key", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("terms_of_use", sa.Text(), nullable=True),
        sa.Column("terms_revision", sa.Integer(), nullable=False),
        sa.Column("join_policy", sa.String(length=20), nullable=False),
        sa.Column("all_partner_accounts", sa.Boolean(), nullable=False),
        sa.Column("request_timeout_days", sa.Integer(), nullable=False),
        sa.Column("inactivity_days", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_engagements_program_id_programs"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagements")),
    )
    op.create_index(
        "ix_engagements_open_to_all", "engagements", ["state", "all_partner_accounts"], unique=False
    )
    op.create_index("ix_engagements_program", "engagements", ["program_id"], unique=False)

    op.create_table(
        "engagement_access_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("partner_account_id", sa.Uuid(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("terms_version", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decision_justification", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_engagement_access_requests_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_account_id"],
            ["partner_accounts.id"],
            name=op.f("fk_engagement_access_requests_partner_account_id_partner_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
            name=op.f("fk_engagement_access_requests_requester_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_access_requests")),
    )
    op.create_index(
        "ix_engagement_access_requests_engagement",
        "engagement_access_requests",
        ["engagement_id", "state", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_engagement_access_requests_account",
        "engagement_access_requests",
        ["partner_account_id", "state", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_engagement_access_requests_expiry",
        "engagement_access_requests",
        ["expires_at"],
        unique=False,
        sqlite_where=sa.text("state = 'pendingApproval'"),
        postgresql_where=sa.text("state = 'pendingApproval'"),
    )
    op.create_index(
        "ix_engagement_access_requests_reminder",
        "engagement_access_requests",
        ["remind_at"],
        unique=False,
        sqlite_where=sa.text("state = 'pendingApproval' AND reminded_at IS NULL"),
        postgresql_where=sa.text("state = 'pendingApproval' AND reminded_at IS NULL"),
    )
    op.create_index(
        "ix_engagement_access_requests_requester",
        "engagement_access_requests",
        ["requester_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ux_engagement_access_requests_pending",
        "engagement_access_requests",
        ["engagement_id", "requester_id"],
        unique=True,
        sqlite_where=sa.text("state = 'pendingApproval'"),
        postgresql_where=sa.text("state = 'pendingApproval'"),
    )

    op.create_table(
        "engagement_audiences",
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("partner_account_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_engagement_audiences_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_account_id"],
            ["partner_accounts.id"],
            name=op.f("fk_engagement_audiences_partner_account_id_partner_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "engagement_id", "partner_account_id", name=op.f("pk_engagement_audiences")
        ),
    )
    op.create_index(
        "ix_engagement_audiences_account",
        "engagement_audiences",
        ["partner_account_id"],
        unique=False,
    )

    op.create_table(
        "engagement_members",
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("partner_account_id", sa.Uuid(), nullable=True),
        sa.Column("is_participant", sa.Boolean(), nullable=False),
        sa.Column("is_power_user", sa.Boolean(), nullable=False),
        sa.Column("is_content_publisher", sa.Boolean(), nullable=False),
        sa.Column("is_owner", sa.Boolean(), nullable=False),
        sa.Column("terms_version", sa.String(length=60), nullable=True),
        sa.Column("terms_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_access_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inactivity_warning", sa.SmallInteger(), nullable=True),
        sa.Column("inactivity_warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_engagement_members_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_account_id"],
            ["partner_accounts.id"],
            name=op.f("fk_engagement_members_partner_account_id_partner_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_engagement_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("engagement_id", "user_id", name=op.f("pk_engagement_members")),
    )
    op.create_index(
        "ix_engagement_members_account",
        "engagement_members",
        ["engagement_id", "partner_account_id"],
        unique=False,
    )
    op.create_index(
        "ix_engagement_members_last_access",
        "engagement_members",
        ["engagement_id", "last_access_at"],
        unique=False,
    )
    op.create_index("ix_engagement_members_user", "engagement_members", ["user_id"], unique=False)

    op.create_table(
        "program_roles",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_program_roles_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_program_roles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("program_id", "user_id", "role", name=op.f("pk_program_roles")),
    )
    op.create_index("ix_program_roles_user", "program_roles", ["user_id", "role"], unique=False)


def downgrade() -> None:
    # Their indexes go with them.
    op.drop_table("program_roles")
    op.drop_table("engagement_members")
    op.drop_table("engagement_audiences")
    op.drop_table("engagement_access_requests")
    op.drop_table("engagements")
    op.drop_table("programs")
