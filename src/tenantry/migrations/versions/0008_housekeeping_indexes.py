"""housekeeping: index the time columns its deletes filter on

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_access_tokens_expires_at", "access_tokens", "expires_at"),
    ("ix_sign_in_lockouts_updated_at", "sign_in_lockouts", "updated_at"),
    ("ix_rate_limit_buckets_window_start", "rate_limit_buckets", "window_start"),
    ("ix_signups_expires_at", "signups", "expires_at"),
]


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
