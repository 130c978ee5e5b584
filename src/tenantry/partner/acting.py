"""The partner account a person acts for: their accounts, and the one a token carries.

The rules (SPEC §3.7 and issue 11 §6; seed 003, "Étapes suivantes" 4):
- A person who belongs to several partner accounts (in the tenant they act in) chooses
  which one to act for. Every token and web session carries at most one: the one named at
  sign-in (`POST /v1/auth/token` `partnerAccountId`), else the only one they belong to
  when there is exactly one, else none until they choose.
- Naming an account one is not a member of (or one that does not exist: the same answer)
  is refused. A membership lost after sign-in leaves the token acting for none: the
  account is checked again each time it is read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.auth import service as auth_service
from tenantry.core.audit import Actor
from tenantry.partner import access
from tenantry.partner.access import ROLES
from tenantry.partner.exceptions import NotPartnerAccountMember
from tenantry.partner.models import PartnerAccount, PartnerAccountMember, PartnerMemberRole


@dataclass(frozen=True)
class Membership:
    """A partner account a person belongs to, with their effective roles in it."""

    account: PartnerAccount
    roles: list[str]


async def accounts_of(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[Membership]:
    """The partner accounts the user belongs to (themselves or through a group) in their
    tenant, by publisher name, each with their roles there (one query)."""
    query = (
        select(PartnerAccount, PartnerMemberRole.role)
        .join(PartnerAccountMember, PartnerAccountMember.partner_account_id == PartnerAccount.id)
        .join(PartnerMemberRole, PartnerMemberRole.member_id == PartnerAccountMember.id)
        .where(access.memberships_of(tenant_id, user_id))
    )
    found: dict[uuid.UUID, tuple[PartnerAccount, set[str]]] = {}
    for account, role in (await db_session.execute(query)).all():
        found.setdefault(account.id, (account, set()))[1].add(role)
    memberships = [
        Membership(account=account, roles=[role for role in ROLES if role in held])
        for account, held in found.values()
    ]
    return sorted(
        memberships,
        key=lambda m: (m.account.publisher_display_name.casefold(), str(m.account.id)),
    )


async def for_sign_in(
    *,
    db_session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    requested: str | None,
    language: str,
) -> uuid.UUID | None:
    """The account a new token acts for: the one asked for (refused unless the user is a
    member of it), else the only one they belong to, else none."""
    if requested is not None:
        try:
            account_id = uuid.UUID(requested)
        except ValueError:
            raise NotPartnerAccountMember(language) from None
        if not await access.effective_roles(
            db_session=db_session, account_id=account_id, tenant_id=tenant_id, user_id=user_id
        ):
            raise NotPartnerAccountMember(language)
        return account_id
    memberships = await accounts_of(db_session=db_session, tenant_id=tenant_id, user_id=user_id)
    return memberships[0].account.id if len(memberships) == 1 else None


async def acting(
    *, db_session: AsyncSession, token: str, kind: str, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Membership | None:
    """The account a token or session acts for, while its holder is still a member."""
    account_id = await auth_service.partner_account_of(
        db_session=db_session, token=token, kind=kind
    )
    if account_id is None:
        return None
    roles = await access.effective_roles(
        db_session=db_session, account_id=account_id, tenant_id=tenant_id, user_id=user_id
    )
    account = await db_session.get(PartnerAccount, account_id) if roles else None
    if account is None:
        return None
    return Membership(account=account, roles=[role for role in ROLES if role in roles])


async def choose(
    *,
    db_session: AsyncSession,
    token: str,
    kind: str,
    actor: Actor,
    partner_account_id: uuid.UUID | None,
    language: str,
) -> Membership | None:
    """Make a token or web session act for another of its holder's partner accounts (None:
    for none). For the partner pages' chooser; refused for an account one is not in."""
    assert actor.user_id is not None and actor.tenant_id is not None
    chosen = None
    if partner_account_id is not None:
        roles = await access.effective_roles(
            db_session=db_session,
            account_id=partner_account_id,
            tenant_id=actor.tenant_id,
            user_id=actor.user_id,
        )
        account = await db_session.get(PartnerAccount, partner_account_id) if roles else None
        if account is None:
            raise NotPartnerAccountMember(language)
        chosen = Membership(account=account, roles=[role for role in ROLES if role in roles])
    await auth_service.set_partner_account(
        db_session=db_session,
        token=token,
        kind=kind,
        partner_account_id=partner_account_id,
        actor=actor,
    )
    return chosen
