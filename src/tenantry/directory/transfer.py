"""Moving and renaming users when domains change hands (forced removal, external takeover)."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tenantry.directory.constants import Role
from tenantry.directory.models import RoleAssignment, User
from tenantry.directory.spoofing import principal_name_skeleton


def _on_domain(tenant_id: uuid.UUID, name: str) -> Select[tuple[User]]:
    return select(User).where(
        User.tenant_id == tenant_id, User.user_principal_name.endswith("@" + name)
    )


async def count_on_domain(*, db_session: AsyncSession, tenant_id: uuid.UUID, name: str) -> int:
    """How many users of the tenant have an address at the domain."""
    query = select(func.count()).select_from(_on_domain(tenant_id, name).subquery())
    return await db_session.scalar(query) or 0


async def rename_to_domain(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, old: str, new: str, disable: bool
) -> list[User]:
    """Give the users at `old` an address at `new` (keeping the local part), optionally disabled."""
    users = list((await db_session.scalars(_on_domain(tenant_id, old))).all())
    wanted = {u.id: f"{u.user_principal_name.rsplit('@', 1)[0]}@{new}" for u in users}
    taken = set(
        (
            await db_session.scalars(
                select(User.user_principal_name).where(
                    User.user_principal_name.in_(wanted.values())
                )
            )
        ).all()
    )
    # An address that would look like another user's of the tenant is taken too.
    alike = set(
        (
            await db_session.scalars(
                select(User.name_skeleton).where(
                    User.tenant_id == tenant_id,
                    User.name_skeleton.in_([principal_name_skeleton(a) for a in wanted.values()]),
                )
            )
        ).all()
    )
    for user in users:
        address = wanted[user.id]
        if address in taken or principal_name_skeleton(address) in alike:
            local, _, domain = address.partition("@")
            address = f"{local}.{secrets.token_hex(3)}@{domain}"
        alike.add(principal_name_skeleton(address))
        user.user_principal_name = address
        user.mail = address
        if disable:
            user.account_enabled = False
    return users


async def move_tenant_users(
    *, db_session: AsyncSession, from_tenant_id: uuid.UUID, to_tenant_id: uuid.UUID
) -> list[User]:
    """Move every user of one tenant into another (set-based); their admin roles do not follow."""
    users = list(
        (await db_session.scalars(select(User).where(User.tenant_id == from_tenant_id))).all()
    )
    await db_session.execute(
        RoleAssignment.__table__.delete().where(RoleAssignment.tenant_id == from_tenant_id)
    )
    # Their addresses stay; one that looks like a user's of the new tenant keeps it, without
    # the look-alike key (NULL), as pairs older than that rule do (migration 0013).
    present = aliased(User)
    await db_session.execute(
        update(User)
        .where(
            User.tenant_id == from_tenant_id,
            User.name_skeleton.in_(
                select(present.name_skeleton).where(present.tenant_id == to_tenant_id)
            ),
        )
        .values(name_skeleton=None)
    )
    await db_session.execute(
        update(User).where(User.tenant_id == from_tenant_id).values(tenant_id=to_tenant_id)
    )
    for user in users:
        user.tenant_id = to_tenant_id
    return users


async def enabled_global_admins_off_domain(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, name: str
) -> int:
    """How many enabled Global Administrators would keep signing in if `name` went away."""
    query = (
        select(func.count())
        .select_from(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(
            User.tenant_id == tenant_id,
            User.account_enabled,
            RoleAssignment.tenant_id == tenant_id,
            RoleAssignment.role == Role.GLOBAL_ADMINISTRATOR.value,
            ~User.user_principal_name.endswith("@" + name),
        )
    )
    return await db_session.scalar(query) or 0
