"""Make a signed-up person the Global Administrator of a managed tenant, straight in the database.

Stands in for the "Become the admin" takeover flow in tests that need an admin
but are not about the takeover: the tenant becomes managed, the person's email
domain becomes verified (as a takeover would leave it) and they get the role.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update

from tenantry.core.clock import clock
from tenantry.directory.constants import Role
from tenantry.directory.models import RoleAssignment, User
from tenantry.domains.models import Domain
from tenantry.tenants.models import MANAGED, Tenant
from tests.support.databases import TestDatabase


def make_global_admin(database: TestDatabase, email: str, *, role: Role | None = None) -> None:
    """Promote `email` (already signed up) to Global Administrator (or `role`) of its now-managed
    tenant, and mark its email domain verified."""
    email = email.strip().lower()
    now = clock.now()
    with database.engine.begin() as connection:
        user_id, tenant_id = connection.execute(
            select(User.id, User.tenant_id).where(User.user_principal_name == email)
        ).one()
        connection.execute(
            update(Tenant)
            .where(Tenant.id == tenant_id, Tenant.state != MANAGED)
            .values(state=MANAGED, managed_at=now)
        )
        connection.execute(
            update(Domain)
            .where(Domain.tenant_id == tenant_id, Domain.name == email.rsplit("@", 1)[1])
            .values(is_verified=True, verified_at=now)
        )
        connection.execute(
            insert(RoleAssignment).values(
                tenant_id=tenant_id,
                user_id=user_id,
                role=(role or Role.GLOBAL_ADMINISTRATOR).value,
                created_at=now,
            )
        )
