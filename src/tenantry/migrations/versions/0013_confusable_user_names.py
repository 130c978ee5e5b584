"""users: the UTS #39 skeleton of each address, unique per tenant (no look-alike user names)

Revision ID: 0013
Revises: 0012

`users.name_skeleton` holds a digest of the address's skeleton (`directory.spoofing`),
and a unique index on (tenant_id, name_skeleton) lets the database settle a race between
two look-alike users created at once, as the unique index on the address does for equal
ones, with no lock and no serialised check.

Users created before this rule may already look alike (`ariane@` beside a Cyrillic
`аriane@`). Refusing the upgrade would leave an operator stuck, and renaming someone's
sign-in address is not a migration's call. So each such group keeps its addresses: the
oldest user holds the key, the others get NULL (which the unique index ignores), and each
pair is named in a warning for an administrator to settle. A new look-alike of any of
them is still refused: it meets the key the oldest holds.

The users table is only added to (ADD COLUMN, CREATE INDEX), never rebuilt (see 0004).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from tenantry.directory.spoofing import principal_name_skeleton

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

log = logging.getLogger("tenantry.migrations")
BATCH = 1000


def upgrade() -> None:
    op.add_column("users", sa.Column("name_skeleton", sa.String(length=64), nullable=True))
    for first, later in _backfill(op.get_bind()):
        log.warning(
            "users %s and %s of one organization have look-alike user names; %s keeps "
            "them, but a person could pass for the other: rename one of them",
            first,
            later,
            later,
        )
    op.create_index(
        "ux_users_tenant_name_skeleton", "users", ["tenant_id", "name_skeleton"], unique=True
    )


def _backfill(bind: sa.engine.Connection) -> list[tuple[str, str]]:
    """Give each user the key of their address, oldest first; the look-alike pairs found."""
    users = sa.table(
        "users",
        sa.column("id", sa.Uuid()),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("user_principal_name", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("name_skeleton", sa.String()),
    )
    rows = bind.execute(
        sa.select(users.c.id, users.c.tenant_id, users.c.user_principal_name).order_by(
            users.c.tenant_id, users.c.created_at, users.c.id
        )
    ).all()
    holders: dict[tuple[object, str], str] = {}
    pairs: list[tuple[str, str]] = []
    updates: list[dict[str, object]] = []
    for user_id, tenant_id, principal_name in rows:
        key = principal_name_skeleton(principal_name)
        holder = holders.setdefault((tenant_id, key), principal_name)
        if holder != principal_name:
            pairs.append((holder, principal_name))
            continue  # stays NULL
        updates.append({"user_id": user_id, "key": key})
    statement = (
        users.update()
        .where(users.c.id == sa.bindparam("user_id"))
        .values(name_skeleton=sa.bindparam("key"))
    )
    for start in range(0, len(updates), BATCH):
        bind.execute(statement, updates[start : start + BATCH])
    return pairs


def downgrade() -> None:
    op.drop_index("ux_users_tenant_name_skeleton", table_name="users")
    # SQLite 3.35+ drops a column in place (no table rebuild, see 0004).
    op.execute("ALTER TABLE users DROP COLUMN name_skeleton")
