"""Users and their roles."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.errors import Conflict, NotFound
from tenantry.directory.constants import Role, Source
from tenantry.directory.models import RoleAssignment, User


class UserAlreadyExists(Conflict):
    code = "userAlreadyExists"


async def get(*, db_session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """A user of the tenant, or NotFound (also for another tenant's users)."""
    user = await db_session.get(User, user_id)
    if user is None or user.tenant_id != tenant_id:
        raise NotFound("The user does not exist.", target="id")
    return user


async def get_by_principal_name(*, db_session: AsyncSession, principal_name: str) -> User | None:
    """The user who signs in with that address, in any tenant."""
    return await db_session.scalar(
        select(User).where(User.user_principal_name == principal_name.strip().lower())
    )


async def create(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    principal_name: str,
    display_name: str,
    password_hash: str | None,
    source: Source = Source.CLOUD,
    usage_location: str | None = None,
    given_name: str | None = None,
    surname: str | None = None,
    preferred_language: str | None = None,
    must_change_password: bool = False,
) -> User:
    """A new user in a tenant; UserAlreadyExists when the address is taken anywhere."""
    principal_name = principal_name.strip().lower()
    if await get_by_principal_name(db_session=db_session, principal_name=principal_name):
        raise UserAlreadyExists(
            f"A user with the address {principal_name} already exists.", target="userPrincipalName"
        )
    user = User(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_principal_name=principal_name,
        mail=principal_name,
        display_name=display_name,
        given_name=given_name,
        surname=surname,
        source=source.value,
        usage_location=usage_location,
        account_enabled=True,
        password_hash=password_hash,
        must_change_password=must_change_password,
        preferred_language=preferred_language,
        failed_sign_ins=0,
        created_at=clock.now(),
    )
    db_session.add(user)
    await db_session.flush()
    audit.record(
        db_session,
        actor=actor,
        action="Add user",
        target_type="user",
        target_id=user.id,
        tenant_id=tenant_id,
        details={"userPrincipalName": principal_name, "source": source.value},
    )
    return user


async def roles_of(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[str]:
    """The admin roles a user holds in a tenant."""
    query = select(RoleAssignment.role).where(
        RoleAssignment.tenant_id == tenant_id, RoleAssignment.user_id == user_id
    )
    return sorted((await db_session.scalars(query)).all())


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


async def count_members(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """How many users a tenant has."""
    return (
        await db_session.scalar(
            select(func.count()).select_from(User).where(User.tenant_id == tenant_id)
        )
        or 0
    )


async def get_many(*, db_session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> list[User]:
    """Users by id, in one query."""
    ids = list(user_ids)
    if not ids:
        return []
    return list((await db_session.scalars(select(User).where(User.id.in_(ids)))).all())
