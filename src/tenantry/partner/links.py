"""Tenants linked to a partner account: the enrolling one, then those its managers link.

The rules (seed 003, "Que se passe-t-il lorsqu'un locataire … est lié"):
- The tenant id is added to the account; several tenants may be linked. The enrolling
  tenant is linked at enrollment (its Global Administrator who enrolled becomes the
  account's Owner) and stays linked.
- Linking changes nothing in the tenant's directory: its users and groups may then be
  added to the account as members.
- Linking needs two rights: Owner or Manager of the account, and Global Administrator of
  the tenant (a managed one). A person has one identity per tenant, so when the caller's
  own identity is not that tenant's Global Administrator, the request carries an access
  token of one of its Global Administrators (`administrator_token`), as Partner Center
  asks a Global Administrator of the other tenant to sign in. The token is only read.
  A tenant that does not exist, is unmanaged or whose Global Administrator the caller
  cannot show meets the same refusal, so nothing is learnt about it.
- The account's Owners and Managers see a linked tenant's users, to add them.
- Unlinking a tenant (never the enrolling one) removes its users' and groups' memberships
  of the account; their tenant accounts stay as they are. It cannot take the account's
  last Owner away.
The primary key of `partner_account_tenants` settles two links of one tenant made at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.auth import service as auth_service
from tenantry.auth.models import API_TOKEN
from tenantry.core import audit
from tenantry.core.audit import Actor
from tenantry.core.clock import clock
from tenantry.directory import users as directory_users
from tenantry.directory.models import User
from tenantry.directory.query import ListParams, Page
from tenantry.partner import access, accounts
from tenantry.partner.access import Access, PartnerRole
from tenantry.partner.exceptions import (
    EnrollingTenantUnlink,
    NotTenantGlobalAdministrator,
    TenantAlreadyLinked,
    TenantNotLinked,
)
from tenantry.partner.models import (
    PartnerAccount,
    PartnerAccountMember,
    PartnerAccountTenant,
    PartnerMemberRole,
)
from tenantry.tenants.models import Tenant


@dataclass(frozen=True)
class LinkedTenant:
    tenant_id: uuid.UUID
    display_name: str
    is_enrolling: bool
    linked_at: datetime


async def link_enrolling_tenant(
    *, db_session: AsyncSession, account: PartnerAccount, actor: Actor
) -> None:
    """At enrollment: link the enrolling tenant, and make the person who enrolled its Owner."""
    assert actor.user_id is not None
    now = clock.now()
    db_session.add(
        PartnerAccountTenant(
            partner_account_id=account.id,
            tenant_id=account.tenant_id,
            linked_by=actor.user_id,
            linked_at=now,
        )
    )
    await db_session.flush()
    member = PartnerAccountMember(
        id=uuid.uuid4(),
        partner_account_id=account.id,
        tenant_id=account.tenant_id,
        user_id=actor.user_id,
        created_by=actor.user_id,
        created_at=now,
    )
    db_session.add(member)
    await db_session.flush()
    db_session.add(
        PartnerMemberRole(
            member_id=member.id, role=PartnerRole.OWNER.value, partner_account_id=account.id
        )
    )
    await db_session.flush()


async def linked_tenant_ids(*, db_session: AsyncSession, account_id: uuid.UUID) -> set[uuid.UUID]:
    """The ids of the tenants linked to the account."""
    query = select(PartnerAccountTenant.tenant_id).where(
        PartnerAccountTenant.partner_account_id == account_id
    )
    return set((await db_session.scalars(query)).all())


async def list_linked(*, db_session: AsyncSession, account: PartnerAccount) -> list[LinkedTenant]:
    """The account's linked tenants, the enrolling one first, then by when they were linked."""
    query = (
        select(PartnerAccountTenant, Tenant.display_name)
        .join(Tenant, Tenant.id == PartnerAccountTenant.tenant_id)
        .where(PartnerAccountTenant.partner_account_id == account.id)
        .order_by(PartnerAccountTenant.linked_at, PartnerAccountTenant.tenant_id)
    )
    found = [
        LinkedTenant(
            tenant_id=link.tenant_id,
            display_name=display_name,
            is_enrolling=link.tenant_id == account.tenant_id,
            linked_at=link.linked_at,
        )
        for link, display_name in (await db_session.execute(query)).all()
    ]
    return sorted(found, key=lambda linked: not linked.is_enrolling)


async def _proves_global_administrator(
    db_session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    caller: Actor,
    administrator_token: str | None,
) -> Tenant | None:
    """The tenant, when the caller or the holder of `administrator_token` is one of its
    Global Administrators (and it is managed); else None."""
    tenant = await db_session.get(Tenant, tenant_id)
    if tenant is None:
        return None
    candidates = []
    if caller.tenant_id == tenant_id and caller.user_id is not None:
        candidates.append(caller.user_id)
    if administrator_token:
        signed_in = await auth_service.authenticate(
            db_session=db_session, token=administrator_token, kind=API_TOKEN
        )
        if signed_in is not None:
            user = signed_in.user
            if user.tenant_id == tenant_id and not user.must_change_password:
                candidates.append(user.id)
    for user_id in candidates:
        if await accounts.is_global_administrator(
            db_session=db_session, tenant=tenant, user_id=user_id
        ):
            return tenant
    return None


async def link(
    *,
    db_session: AsyncSession,
    account_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    actor: Actor,
    administrator_token: str | None,
    language: str,
) -> tuple[Access, LinkedTenant]:
    """Link a tenant to the account (an Owner or Manager who shows they are a Global
    Administrator of it)."""
    assert actor.user_id is not None and actor.tenant_id is not None
    rights = await access.resolve(
        db_session=db_session,
        account_id=account_id,
        tenant_id=actor.tenant_id,
        user_id=actor.user_id,
        language=language,
    )
    access.require_manager(rights, language)
    tenant = None
    if tenant_id is not None:
        tenant = await _proves_global_administrator(
            db_session, tenant_id=tenant_id, caller=actor, administrator_token=administrator_token
        )
    if tenant is None or tenant_id is None:
        raise NotTenantGlobalAdministrator(language)
    if tenant_id in await linked_tenant_ids(db_session=db_session, account_id=account_id):
        raise TenantAlreadyLinked(language)
    now = clock.now()
    await db_session.flush()
    try:
        # A link made at this very moment by someone else: the primary key refuses this one.
        async with db_session.begin_nested():
            db_session.add(
                PartnerAccountTenant(
                    partner_account_id=account_id,
                    tenant_id=tenant_id,
                    linked_by=actor.user_id,
                    linked_at=now,
                )
            )
    except IntegrityError:
        raise TenantAlreadyLinked(language) from None
    details = {
        "tenantId": str(tenant_id),
        "tenantDisplayName": tenant.display_name,
        "publisherDisplayName": rights.account.publisher_display_name,
    }
    audit.record(
        db_session,
        actor=actor,
        action="partnerAccount.tenantLinked",
        target_type="partnerAccount",
        target_id=account_id,
        details=details,
    )
    if tenant_id != actor.tenant_id:
        # The linked tenant's own admins see who linked it, in their audit log.
        audit.record(
            db_session,
            actor=actor,
            action="partnerAccount.tenantLinked",
            target_type="partnerAccount",
            target_id=account_id,
            tenant_id=tenant_id,
            details=details,
        )
    linked = LinkedTenant(
        tenant_id=tenant_id, display_name=tenant.display_name, is_enrolling=False, linked_at=now
    )
    return rights, linked


async def unlink(
    *,
    db_session: AsyncSession,
    account_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    actor: Actor,
    language: str,
) -> int:
    """Unlink a tenant (not the enrolling one): its members leave the account; how many."""
    assert actor.user_id is not None and actor.tenant_id is not None
    rights = await access.resolve(
        db_session=db_session,
        account_id=account_id,
        tenant_id=actor.tenant_id,
        user_id=actor.user_id,
        language=language,
        lock=True,
    )
    access.require_manager(rights, language)
    if tenant_id == rights.account.tenant_id:
        raise EnrollingTenantUnlink(language)
    if tenant_id is None or tenant_id not in await linked_tenant_ids(
        db_session=db_session, account_id=account_id
    ):
        raise TenantNotLinked(language)
    in_tenant = select(PartnerAccountMember.id).where(
        PartnerAccountMember.partner_account_id == account_id,
        PartnerAccountMember.tenant_id == tenant_id,
    )
    owners_there = await db_session.scalar(
        select(PartnerMemberRole.member_id)
        .where(
            PartnerMemberRole.member_id.in_(in_tenant),
            PartnerMemberRole.role == PartnerRole.OWNER.value,
        )
        .limit(1)
    )
    if owners_there is not None:
        access.require_owner_for(rights, [PartnerRole.OWNER.value], language)
    removed = await db_session.execute(
        delete(PartnerAccountMember)
        .where(
            PartnerAccountMember.partner_account_id == account_id,
            PartnerAccountMember.tenant_id == tenant_id,
        )
        .execution_options(synchronize_session=False)
    )
    await db_session.execute(
        delete(PartnerAccountTenant).where(
            PartnerAccountTenant.partner_account_id == account_id,
            PartnerAccountTenant.tenant_id == tenant_id,
        )
    )
    await access.ensure_an_owner(db_session=db_session, account_id=account_id, language=language)
    count = removed.rowcount or 0  # type: ignore[attr-defined]
    details = {"tenantId": str(tenant_id), "membersRemoved": count}
    audit.record(
        db_session,
        actor=actor,
        action="partnerAccount.tenantUnlinked",
        target_type="partnerAccount",
        target_id=account_id,
        details=details,
    )
    audit.record(
        db_session,
        actor=actor,
        action="partnerAccount.tenantUnlinked",
        target_type="partnerAccount",
        target_id=account_id,
        tenant_id=tenant_id,
        details=details,
    )
    return count


async def tenant_users(
    *,
    db_session: AsyncSession,
    account_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    actor: Actor,
    language: str,
    params: ListParams,
) -> Page[User]:
    """A page of a linked tenant's users, for the account's Owners and Managers to add them
    (seed 003: "the account administrator can see the tenant's users and add them")."""
    assert actor.user_id is not None and actor.tenant_id is not None
    rights = await access.resolve(
        db_session=db_session,
        account_id=account_id,
        tenant_id=actor.tenant_id,
        user_id=actor.user_id,
        language=language,
    )
    access.require_manager(rights, language)
    if tenant_id is None or tenant_id not in await linked_tenant_ids(
        db_session=db_session, account_id=account_id
    ):
        raise TenantNotLinked(language)
    return await directory_users.list_users(
        db_session=db_session, tenant_id=tenant_id, params=params
    )
