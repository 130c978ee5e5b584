"""A tenant's admin roles: who holds which, giving and taking them, and the rules that
protect administrators (only a Global Administrator changes another administrator, and
the last Global Administrator who can sign in stays one)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.directory.constants import ROLE_DISPLAY_NAMES, ROLE_TEMPLATE_IDS, TENANT_ROLES, Role
from tenantry.directory.exceptions import (
    AdministratorProtected,
    LastGlobalAdministrator,
    NotAMember,
    UnknownRole,
)
from tenantry.directory.models import RoleAssignment, User
from tenantry.tenants import service as tenant_service


def resolve_role(role_id: str) -> Role:
    """A tenant role by template id, name ("UserAdministrator") or display name."""
    wanted = role_id.strip().lower().replace(" ", "")
    for role in TENANT_ROLES:
        if wanted in (
            ROLE_TEMPLATE_IDS[role],
            role.value.lower(),
            ROLE_DISPLAY_NAMES[role].lower().replace(" ", ""),
        ):
            return role
    raise UnknownRole(role_id)


async def roles_of(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[str]:
    """The admin roles a user holds in a tenant."""
    query = select(RoleAssignment.role).where(
        RoleAssignment.tenant_id == tenant_id, RoleAssignment.user_id == user_id
    )
    return sorted((await db_session.scalars(query)).all())


_ROLE_SEPARATOR = ","  # no role name holds one


def roles_column(tenant_id: ColumnElement[uuid.UUID], user_id: ColumnElement[uuid.UUID]) -> Any:
    """The admin roles of the user `user_id` names in the tenant `tenant_id` names, as one
    column of the caller's statement (read it with `held_roles`): who is calling and what
    they may do come back in one round trip."""
    return (
        select(func.aggregate_strings(RoleAssignment.role, _ROLE_SEPARATOR))
        .where(RoleAssignment.tenant_id == tenant_id, RoleAssignment.user_id == user_id)
        .scalar_subquery()
    )


def held_roles(value: str | None) -> frozenset[str]:
    """The roles in a value of `roles_column`."""
    return frozenset(value.split(_ROLE_SEPARATOR)) if value else frozenset()


def grant_role(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    role: Role,
) -> RoleAssignment:
    """Give a user an admin role."""
    assignment = RoleAssignment(
        tenant_id=tenant_id, user_id=user_id, role=role.value, created_at=clock.now()
    )
    db_session.add(assignment)
    audit.record(
        db_session,
        actor=actor,
        action="Add member to role",
        target_type="user",
        target_id=user_id,
        tenant_id=tenant_id,
        details={"role": role.value},
    )
    return assignment


async def role_members(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> dict[Role, list[User]]:
    """Every tenant role with the users holding it (one query)."""
    rows = (
        await db_session.execute(
            select(RoleAssignment.role, User)
            .join(User, User.id == RoleAssignment.user_id)
            .where(RoleAssignment.tenant_id == tenant_id)
            .order_by(User.display_name_key, User.id)
        )
    ).all()
    members: dict[Role, list[User]] = {role: [] for role in TENANT_ROLES}
    for role_name, user in rows:
        if role_name in members:
            members[Role(role_name)].append(user)
    return members


async def add_role_member(
    *, db_session: AsyncSession, actor: audit.Actor, role: Role, user: User
) -> bool:
    """Give `user` the role; False when they already hold it (nothing changes)."""
    key = (user.tenant_id, user.id, role.value)
    if await db_session.get(RoleAssignment, key) is not None:
        return False
    try:
        # A savepoint: the assignment and its audit event go when someone else granted the
        # role at this very moment, and the transaction stays usable.
        async with db_session.begin_nested():
            grant_role(
                db_session=db_session,
                actor=actor,
                tenant_id=user.tenant_id,
                user_id=user.id,
                role=role,
            )
    except IntegrityError:
        return False
    return True


async def remove_role_member(
    *, db_session: AsyncSession, actor: audit.Actor, role: Role, user: User
) -> None:
    """Take the role from `user`; never from the last Global Administrator who can sign in."""
    if role is Role.GLOBAL_ADMINISTRATOR:
        await ensure_other_global_admin(
            db_session,
            tenant_id=user.tenant_id,
            user_id=user.id,
            doing="remove the Global Administrator role from this user",
        )
    removed = await db_session.execute(
        delete(RoleAssignment).where(
            RoleAssignment.tenant_id == user.tenant_id,
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == role.value,
        )
    )
    if not removed.rowcount:  # type: ignore[attr-defined]
        raise NotAMember(
            f"{user.user_principal_name} is not a {ROLE_DISPLAY_NAMES[role]}.", target="userId"
        )
    audit.record(
        db_session,
        actor=actor,
        action="Remove member from role",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        details={"role": role.value, "userPrincipalName": user.user_principal_name},
    )


async def ensure_may_manage(db_session: AsyncSession, actor: audit.Actor, user: User) -> None:
    """Only a Global Administrator changes another administrator (Entra's privileged users)."""
    if actor.user_id is None or actor.user_id == user.id:
        return
    target_roles = await roles_of(db_session=db_session, tenant_id=user.tenant_id, user_id=user.id)
    if not target_roles:
        return
    actor_roles = await roles_of(
        db_session=db_session, tenant_id=user.tenant_id, user_id=actor.user_id
    )
    if Role.GLOBAL_ADMINISTRATOR.value not in actor_roles:
        raise AdministratorProtected()


async def ensure_other_global_admin(
    db_session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, doing: str
) -> None:
    """Refuse when no other Global Administrator who can sign in would remain.

    The tenant row is locked first, so two admins removing each other at the
    same moment cannot both pass the count (SQLite: writers already queue).
    """
    await tenant_service.get_for_update(db_session=db_session, tenant_id=tenant_id)
    others = await db_session.scalar(
        select(func.count())
        .select_from(RoleAssignment)
        .join(User, User.id == RoleAssignment.user_id)
        .where(
            RoleAssignment.tenant_id == tenant_id,
            RoleAssignment.role == Role.GLOBAL_ADMINISTRATOR.value,
            RoleAssignment.user_id != user_id,
            User.account_enabled.is_(True),
        )
    )
    if not others:
        raise LastGlobalAdministrator(
            f"You cannot {doing}: they are the organization's last Global Administrator who can "
            "sign in. Make someone else Global Administrator first."
        )


async def is_global_admin(db_session: AsyncSession, user: User) -> bool:
    """Whether the user holds the Global Administrator role of their tenant."""
    held = await roles_of(db_session=db_session, tenant_id=user.tenant_id, user_id=user.id)
    return Role.GLOBAL_ADMINISTRATOR.value in held
