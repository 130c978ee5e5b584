"""directory: groups, group members, search terms, user sort key and list indexes

Revision ID: 0004
Revises: 0003

The users table is only added to (ADD COLUMN, CREATE INDEX), never rebuilt: a
batch rebuild on SQLite drops the table, and with foreign keys on that would
cascade-delete every row that references a user.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenantry.directory.search import address_terms, name_terms, sort_key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _ordered(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column(
        "users",
        sa.Column("display_name_key", _ordered(256), nullable=False, server_default=""),
    )
    if bind.dialect.name == "postgresql":
        # Prefix ranges on addresses must follow code points, as on SQLite.
        op.execute(
            'ALTER TABLE users ALTER COLUMN user_principal_name TYPE varchar(320) COLLATE "C"'
        )
        op.execute('ALTER TABLE users ALTER COLUMN mail TYPE varchar(320) COLLATE "C"')
    op.create_index("ix_users_tenant_name_key", "users", ["tenant_id", "display_name_key", "id"])
    op.create_index("ix_users_tenant_upn", "users", ["tenant_id", "user_principal_name", "id"])
    op.create_index(
        "ix_users_tenant_enabled", "users", ["tenant_id", "account_enabled", "display_name_key"]
    )
    op.create_index("ix_users_tenant_usage_location", "users", ["tenant_id", "usage_location"])
    op.create_index("ix_users_tenant_source", "users", ["tenant_id", "source"])

    op.create_table(
        "groups",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("display_name_key", _ordered(256), nullable=False),
        sa.Column("description", sa.String(length=1024), nullable=True),
        sa.Column("mail_nickname", _ordered(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_groups_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_groups")),
    )
    op.create_index("ix_groups_tenant_name_key", "groups", ["tenant_id", "display_name_key", "id"])
    op.create_index("ix_groups_tenant_mail_nickname", "groups", ["tenant_id", "mail_nickname"])

    op.create_table(
        "group_members",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "group_id"],
            ["groups.tenant_id", "groups.id"],
            name=op.f("fk_group_members_tenant_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_group_members_tenant_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "group_id", "user_id", name=op.f("pk_group_members")),
    )
    op.create_index("ix_group_members_tenant_user", "group_members", ["tenant_id", "user_id"])

    op.create_table(
        "user_search_terms",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("term", _ordered(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_user_search_terms_tenant_id_users"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "user_id", "kind", "term", name=op.f("pk_user_search_terms")
        ),
    )
    op.create_index(
        "ix_user_search_terms_lookup", "user_search_terms", ["tenant_id", "kind", "term", "user_id"]
    )

    op.create_table(
        "group_search_terms",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("term", _ordered(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "group_id"],
            ["groups.tenant_id", "groups.id"],
            name=op.f("fk_group_search_terms_tenant_id_groups"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "group_id", "kind", "term", name=op.f("pk_group_search_terms")
        ),
    )
    op.create_index(
        "ix_group_search_terms_lookup",
        "group_search_terms",
        ["tenant_id", "kind", "term", "group_id"],
    )

    _backfill_users(bind)


def _backfill_users(bind: sa.engine.Connection) -> None:
    """Sort keys and search terms of the users that exist already."""
    users = sa.table(
        "users",
        sa.column("id", sa.Uuid()),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("display_name", sa.String()),
        sa.column("display_name_key", sa.String()),
        sa.column("user_principal_name", sa.String()),
        sa.column("mail", sa.String()),
    )
    terms = sa.table(
        "user_search_terms",
        sa.column("tenant_id", sa.Uuid()),
        sa.column("user_id", sa.Uuid()),
        sa.column("kind", sa.String()),
        sa.column("term", sa.String()),
    )
    rows = bind.execute(
        sa.select(
            users.c.id,
            users.c.tenant_id,
            users.c.display_name,
            users.c.user_principal_name,
            users.c.mail,
        )
    ).all()
    for user_id, tenant_id, display_name, principal_name, mail in rows:
        bind.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(display_name_key=sort_key(display_name))
        )
        found = [("d", t) for t in name_terms(display_name)]
        found += [("m", t) for t in address_terms(principal_name, mail)]
        if found:
            bind.execute(
                terms.insert(),
                [
                    {"tenant_id": tenant_id, "user_id": user_id, "kind": k, "term": t}
                    for k, t in found
                ],
            )


def downgrade() -> None:
    op.drop_table("group_search_terms")
    op.drop_table("user_search_terms")
    op.drop_table("group_members")
    op.drop_table("groups")
    for name in (
        "ix_users_tenant_source",
        "ix_users_tenant_usage_location",
        "ix_users_tenant_enabled",
        "ix_users_tenant_upn",
        "ix_users_tenant_name_key",
    ):
        op.drop_index(name, table_name="users")
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE users ALTER COLUMN mail TYPE varchar(320) COLLATE "default"')
        op.execute(
            'ALTER TABLE users ALTER COLUMN user_principal_name TYPE varchar(320) COLLATE "default"'
        )
    # SQLite 3.35+ drops a column in place (no table rebuild, see above).
    op.execute("ALTER TABLE users DROP COLUMN display_name_key")
