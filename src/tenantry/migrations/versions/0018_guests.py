"""guests: invited users of another organization, their invitations, the tenant a person acts in

Revision ID: 0018
Revises: 0017

`users` gains Graph's `externalUserState` (and when it changed) for invited guests, the
link from an accepted guest to the account that signs in for it (`home_user_id`), and
the organization a person last chose to act in (`last_tenant_id`). Two partial unique
indexes let the database settle races: one guest per invited address in a tenant, and
one guest at most holding the password of an address. Users whose `source` was already
"guest" (added through `POST /v1/users` before invitations existed) keep signing in with
their own address and password: they have no externalUserState and are not touched.

`invitations` holds each pending guest's invitation: the redeem link's token digest, the
email's words, the one-time code that proves the invited address.

The users table is only added to (ADD COLUMN, CREATE INDEX), never rebuilt (see 0004).
`home_user_id` has no foreign key: SQLite cannot drop a column that holds one (downgrade),
and deleting a user goes through `directory.guests`, which moves or resets the guests
that point to it first.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

GUEST_CREDENTIAL = (
    "external_user_state IS NOT NULL AND home_user_id IS NULL AND password_hash IS NOT NULL"
)


def upgrade() -> None:
    # A user name ending in `#EXT#` is now kept with the marker in capitals, as Graph
    # writes a guest's (`directory.users.principal_name_key`); one stored before in lower
    # case takes that form, so that its own lookups still find it.
    op.execute(
        "UPDATE users SET user_principal_name = replace(user_principal_name, '#ext#@', '#EXT#@')"
        " WHERE user_principal_name LIKE '%#ext#@%'"
    )
    op.add_column("users", sa.Column("external_user_state", sa.String(length=20), nullable=True))
    op.add_column(
        "users",
        sa.Column("external_user_state_changed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("users", sa.Column("home_user_id", sa.Uuid(), nullable=True))
    op.add_column("users", sa.Column("last_tenant_id", sa.Uuid(), nullable=True))
    op.create_index("ix_users_home_user", "users", ["home_user_id"])
    op.create_index(
        "ux_users_tenant_guest_mail",
        "users",
        ["tenant_id", "mail"],
        unique=True,
        sqlite_where=sa.text("external_user_state IS NOT NULL"),
        postgresql_where=sa.text("external_user_state IS NOT NULL"),
    )
    op.create_index(
        "ux_users_guest_credential",
        "users",
        ["mail"],
        unique=True,
        sqlite_where=sa.text(GUEST_CREDENTIAL),
        postgresql_where=sa.text(GUEST_CREDENTIAL),
    )
    op.create_table(
        "invitations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("invited_by_id", sa.Uuid(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("redirect_url", sa.String(length=2048), nullable=False),
        sa.Column("send_message", sa.Boolean(), nullable=False),
        sa.Column("message_body", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("cc_recipients", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_digest", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("code_sends", sa.Integer(), nullable=False),
        sa.Column("code_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_invitations_tenant_id_users"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invitations")),
    )
    op.create_index(
        "ux_invitations_tenant_user", "invitations", ["tenant_id", "user_id"], unique=True
    )
    op.create_index("ux_invitations_token_digest", "invitations", ["token_digest"], unique=True)
    op.create_index("ix_invitations_expires_at", "invitations", ["expires_at"])


def downgrade() -> None:
    op.drop_table("invitations")
    op.drop_index("ux_users_guest_credential", table_name="users")
    op.drop_index("ux_users_tenant_guest_mail", table_name="users")
    op.drop_index("ix_users_home_user", table_name="users")
    op.drop_column("users", "last_tenant_id")
    op.drop_column("users", "home_user_id")
    op.drop_column("users", "external_user_state_changed_at")
    op.drop_column("users", "external_user_state")
