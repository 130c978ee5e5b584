"""domains: list verified subdomains held by another tenant than their parent (reads only)

Since this release a subdomain belongs to the tenant that verified its root (or
any parent), as in Entra: another tenant can no longer verify it. Names verified
before that may break the rule. They are not moved (which organization keeps a
name is for the organizations to settle): this migration logs one warning per
pair for the operator, and every server start does again until they are gone
(`domains.service.warn_of_nested_verifications`).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

log = logging.getLogger("tenantry.migrations")


def upgrade() -> None:
    # The pairing is written out here rather than imported: a migration must do the same
    # thing in every later release.
    rows = op.get_bind().execute(
        sa.text(
            "SELECT name, tenant_id FROM domains WHERE is_verified AND NOT is_initial ORDER BY name"
        )
    )
    # SQLite keeps a UUID as 32 hex digits, PostgreSQL as a uuid: one form for the log.
    holders = {name: uuid.UUID(str(tenant_id)) for name, tenant_id in rows}
    for name, tenant_id in holders.items():
        labels = name.split(".")
        for start in range(1, len(labels)):
            parent = ".".join(labels[start:])
            holder = holders.get(parent)
            if holder is not None and holder != tenant_id:
                log.warning(
                    "%s is verified in tenant %s, and its subdomain %s in another tenant, %s: "
                    "since this release a subdomain belongs to the tenant that verified its "
                    "parent. Neither is moved; ask the two organizations which one keeps it.",
                    parent,
                    holder,
                    name,
                    tenant_id,
                )


def downgrade() -> None:
    pass  # nothing was changed
