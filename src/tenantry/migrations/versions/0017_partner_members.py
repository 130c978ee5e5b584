"""partner accounts: linked tenants, members and their roles; a token's acting partner account

Revision ID: 0017
Revises: 0016

Three new tables and one nullable column. `partner_account_tenants` links tenants to a
partner account (the enrolling one at enrollment); `partner_account_members` gives users
and groups of a linked tenant roles in the account (`partner_member_roles`). The member's
foreign key to its link cascades, so unlinking a tenant removes its members; those to
the user or group cascade, so the directory deleting them removes their membership.

Existing accounts are backfilled: the enrolling tenant is linked, and the person who
enrolled becomes its Owner (when they are still a user of that tenant).

`access_tokens.partner_account_id` is the partner account a token or web session acts
for; nullable, no foreign key (it is checked again at each use).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_account_tenants",
        sa.Column("partner_account_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("linked_by", sa.Uuid(), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_account_id"],
            ["partner_accounts.id"],
            name=op.f("fk_partner_account_tenants_partner_account_id_partner_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_partner_account_tenants_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "partner_account_id", "tenant_id", name=op.f("pk_partner_account_tenants")
        ),
    )
    op.create_index(
        "ix_partner_account_tenants_tenant_id", "partner_account_tenants", ["tenant_id"]
    )
    op.create_table(
        "partner_account_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_account_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("group_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (group_id IS NULL)",
            name=op.f("ck_partner_account_members_one_principal"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_account_id", "tenant_id"],
            ["partner_account_tenants.partner_account_id", "partner_account_tenants.tenant_id"],
            name=op.f("fk_partner_account_members_partner_account_id_partner_account_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_partner_account_members_tenant_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "group_id"],
            ["groups.tenant_id", "groups.id"],
            name=op.f("fk_partner_account_members_tenant_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_account_members")),
        sa.UniqueConstraint(
            "partner_account_id",
            "user_id",
            name=op.f("uq_partner_account_members_partner_account_id_user_id"),
        ),
        sa.UniqueConstraint(
            "partner_account_id",
            "group_id",
            name=op.f("uq_partner_account_members_partner_account_id_group_id"),
        ),
    )
    op.create_index(
        "ix_partner_account_members_account_added",
        "partner_account_members",
        ["partner_account_id", "created_at", "id"],
    )
    op.create_index(
        "ix_partner_account_members_account_tenant",
        "partner_account_members",
        ["partner_account_id", "tenant_id", "created_at", "id"],
    )
    op.create_index(
        "ix_partner_account_members_user", "partner_account_members", ["tenant_id", "user_id"]
    )
    op.create_index(
        "ix_partner_account_members_group", "partner_account_members", ["tenant_id", "group_id"]
    )
    op.create_table(
        "partner_member_roles",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("partner_account_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["partner_account_members.id"],
            name=op.f("fk_partner_member_roles_member_id_partner_account_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "role", name=op.f("pk_partner_member_roles")),
    )
    op.create_index(
        "ix_partner_member_roles_account_role",
        "partner_member_roles",
        ["partner_account_id", "role", "member_id"],
    )
    op.add_column("access_tokens", sa.Column("partner_account_id", sa.Uuid(), nullable=True))
    _backfill(op.get_bind())


def _backfill(bind: sa.engine.Connection) -> None:
    """Link each account's enrolling tenant; the person who enrolled becomes its Owner."""
    accounts = sa.table(
        "partner_accounts",
        sa.column("id", sa.Uuid()),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("created_by", sa.Uuid()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("tenant_id", sa.Uuid()))
    links = sa.table(
        "partner_account_tenants",
        sa.column("partner_account_id", sa.Uuid()),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("linked_by", sa.Uuid()),
        sa.column("linked_at", sa.DateTime(timezone=True)),
    )
    members = sa.table(
        "partner_account_members",
        sa.column("id", sa.Uuid()),
        sa.column("partner_account_id", sa.Uuid()),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("user_id", sa.Uuid()),
        sa.column("created_by", sa.Uuid()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    roles = sa.table(
        "partner_member_roles",
        sa.column("member_id", sa.Uuid()),
        sa.column("role", sa.String()),
        sa.column("partner_account_id", sa.Uuid()),
    )
    bind.execute(
        sa.insert(links).from_select(
            ["partner_account_id", "tenant_id", "linked_by", "linked_at"],
            sa.select(
                accounts.c.id, accounts.c.tenant_id, accounts.c.created_by, accounts.c.created_at
            ),
        )
    )
    # The person who enrolled, where they are still a user of the enrolling tenant. Few
    # rows (one account per tenant); ids are made here, as neither database shares a
    # function for them.
    owners = bind.execute(
        sa.select(
            accounts.c.id, accounts.c.tenant_id, accounts.c.created_by, accounts.c.created_at
        ).join(
            users,
            sa.and_(users.c.id == accounts.c.created_by, users.c.tenant_id == accounts.c.tenant_id),
        )
    ).all()
    for account_id, tenant_id, user_id, created_at in owners:
        member_id = uuid.uuid4()
        bind.execute(
            sa.insert(members).values(
                id=member_id,
                partner_account_id=account_id,
                tenant_id=tenant_id,
                user_id=user_id,
                created_by=user_id,
                created_at=created_at,
            )
        )
        bind.execute(
            sa.insert(roles).values(
                member_id=member_id, role="owner", partner_account_id=account_id
            )
        )


def downgrade() -> None:
    op.drop_column("access_tokens", "partner_account_id")
    op.drop_table("partner_member_roles")
    op.drop_table("partner_account_members")
    op.drop_table("partner_account_tenants")
