"""Where a signed-in person acts: one sign-in, then one tenant at a time.

A person signs in as their address's credential (`directory.guests`): a member of
their own tenant, or the guest holding the password of an address that has no account.
They may act in that tenant and in every tenant where one of their guests is accepted
and enabled; there, their identity is that guest user. Every token and session
carries exactly one tenant: its `user_id` is the user the person acts as, so every
route, role and license check sees that tenant's user and nothing else.

Which tenant a new token or session carries:
- `POST /v1/auth/token` with `tenant` (its id, or one of its verified domain names, the
  initial one included): that one, refused with `noTenantAccess` when the person has no
  access there (the same answer whether the tenant exists or not); without it, the
  person's own tenant, so that a script's token never depends on a choice made in a
  browser.
- A web sign-in: the tenant the person last chose (`users.last_tenant_id` on their own
  account, kept by the header's switcher), while they still have access there; else
  their own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.auth.service import AccountDisabled
from tenantry.core.db import Database
from tenantry.core.errors import TenantryError
from tenantry.directory import guests as directory_guests
from tenantry.directory.guests import Access
from tenantry.directory.models import User
from tenantry.domains import service as domain_service


class NoTenantAccess(TenantryError):
    status_code = 400
    code = "noTenantAccess"

    def __init__(self) -> None:
        super().__init__(
            "You have no access to this organization: it has not invited you, or you have "
            "not accepted its invitation yet.",
            target="tenant",
        )


@dataclass(frozen=True)
class TenantChoice:
    """An organization the person may act in, as the header's switcher lists it."""

    tenant_id: uuid.UUID
    display_name: str
    user_type: str
    current: bool


async def signed_in_person(*, database: Database, user: User) -> User:
    """The account behind `user` that signs in and holds the password (a guest acting in
    another tenant is its home account), read outside the caller's unit of work so that a
    password hash computed next holds no lock."""
    if user.home_user_id is None:
        return user
    async with database.unit_of_work(readonly=True) as db_session:
        return await directory_guests.person_of(db_session=db_session, user=user)


async def resolve_tenant(*, db_session: AsyncSession, key: str) -> uuid.UUID | None:
    """The tenant a `tenant` value names: its id, or a name it verified (None: nothing)."""
    key = key.strip()
    try:
        return uuid.UUID(key)
    except ValueError:
        return await domain_service.verified_holder(db_session=db_session, name=key)


async def choose(
    *,
    db_session: AsyncSession,
    person: User,
    tenant: str | uuid.UUID | None = None,
    remembered: bool = False,
) -> Access:
    """Where `person` (a credential, signed in) acts: in `tenant` when given (NoTenantAccess
    without access there), else in the one they last chose (`remembered`, for the web),
    else in their own; AccountDisabled when they may act nowhere."""
    found = await directory_guests.accesses(db_session=db_session, person_id=person.id)
    if person.must_change_password:
        # A temporary password: the token only serves choosing one's own, at home.
        found = [access for access in found if access.user.id == person.id]
        tenant, remembered = None, False
    if not found:
        raise AccountDisabled()
    if tenant is not None:
        tenant_id = (
            tenant
            if isinstance(tenant, uuid.UUID)
            else await resolve_tenant(db_session=db_session, key=tenant)
        )
        for access in found:
            if access.tenant.id == tenant_id:
                return access
        raise NoTenantAccess()
    if remembered and person.last_tenant_id is not None:
        for access in found:
            if access.tenant.id == person.last_tenant_id:
                return access
    return found[0]


async def switch(*, db_session: AsyncSession, user: User, tenant_id: uuid.UUID) -> Access:
    """The person behind `user` (signed in) moves to act in another tenant; their choice is
    kept for their next web sign-in. NoTenantAccess without access there."""
    person_id = directory_guests.person_id_of(user)
    access = await directory_guests.access_in(
        db_session=db_session, person_id=person_id, tenant_id=tenant_id
    )
    if access is None:
        raise NoTenantAccess()
    await directory_guests.remember_choice(
        db_session=db_session, person_id=person_id, tenant_id=tenant_id
    )
    return access


async def choices(*, db_session: AsyncSession, user: User) -> tuple[TenantChoice, ...]:
    """The organizations the person behind `user` may act in, the current one marked."""
    found = await directory_guests.accesses(
        db_session=db_session, person_id=directory_guests.person_id_of(user)
    )
    return tuple(
        TenantChoice(
            tenant_id=access.tenant.id,
            display_name=access.tenant.display_name,
            user_type=access.user_type,
            current=access.tenant.id == user.tenant_id,
        )
        for access in found
    )


async def tenants_view(*, db_session: AsyncSession, user: User) -> list[dict[str, object]]:
    """`GET /v1/me/tenants`: each organization the person may act in, Graph-like."""
    found = await directory_guests.accesses(
        db_session=db_session, person_id=directory_guests.person_id_of(user)
    )
    defaults = await domain_service.default_names(
        db_session=db_session, tenant_ids=[access.tenant.id for access in found]
    )
    return [
        {
            "tenantId": str(access.tenant.id),
            "displayName": access.tenant.display_name,
            "defaultDomain": defaults.get(access.tenant.id),
            "userType": access.user_type,
            "isCurrent": access.tenant.id == user.tenant_id,
        }
        for access in found
    ]
