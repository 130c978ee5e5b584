"""smart lockout: the same wrong password is counted once

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sign_in_lockouts") as batch:
        batch.add_column(sa.Column("recent_passwords", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sign_in_lockouts") as batch:
        batch.drop_column("recent_passwords")
