"""Who is asking, for engagements: the person, the partner account they act for, whether they
are an operator.

"Which partner account does this caller act for?" is answered in one place,
`acting_partner_account`. For now it is the partner account enrolled by the caller's tenant
(one per tenant); once people may belong to several accounts and choose one (seed 003: "a
person in several tenants or partner accounts chooses which one to act in"), it becomes the
acting account of the caller's token, here and nowhere else. Likewise "the people of a
partner account" are, for now, the users of its tenant (`account_people`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.auth.models import API_TOKEN, WEB_SESSION
from tenantry.core.audit import Actor
from tenantry.directory.models import User
from tenantry.partner import acting as partner_acting
from tenantry.partner import service as partner_service
from tenantry.partner.models import ACTIVE as ACCOUNT_ACTIVE
from tenantry.partner.models import PartnerAccount


class PrincipalLike(Protocol):
    """What the API's `Principal` (and the pages') carries that matters here."""

    @property
    def user(self) -> Any: ...

    @property
    def tenant(self) -> Any: ...


async def acting_partner_account(
    db_session: AsyncSession, principal: PrincipalLike
) -> PartnerAccount | None:
    """The partner account the caller acts for (any state), or None: the one their token or
    session carries (`partner.acting`: chosen at sign-in, or the only one they belong to),
    else the one their tenant enrolled."""
    token = getattr(principal, "token", None)
    if token:
        kind = API_TOKEN if getattr(principal, "via", "bearer") == "bearer" else WEB_SESSION
        membership = await partner_acting.acting(
            db_session=db_session,
            token=token,
            kind=kind,
            tenant_id=principal.tenant.id,
            user_id=principal.user.id,
        )
        if membership is not None:
            return membership.account
    return await db_session.scalar(
        select(PartnerAccount).where(PartnerAccount.tenant_id == principal.tenant.id)
    )


def account_people(account_tenant_id: Any) -> ColumnElement[bool]:
    """A condition on `User` rows: the people of the partner account of this tenant."""
    return User.tenant_id == account_tenant_id


async def accounts_of_people(
    db_session: AsyncSession, users: list[User]
) -> dict[uuid.UUID, PartnerAccount]:
    """The partner account each user takes part for (by user id); people of no account are
    left out."""
    tenant_ids = {user.tenant_id for user in users}
    if not tenant_ids:
        return {}
    accounts = {
        account.tenant_id: account
        for account in await db_session.scalars(
            select(PartnerAccount).where(PartnerAccount.tenant_id.in_(tenant_ids))
        )
    }
    return {user.id: accounts[user.tenant_id] for user in users if user.tenant_id in accounts}


@dataclass(frozen=True)
class Caller:
    """The person calling, as engagements see them."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    language: str
    client_address: str | None
    partner_account: PartnerAccount | None
    is_operator: bool

    @property
    def active_account_id(self) -> uuid.UUID | None:
        """The partner account they act for, when it is active (only then may they see, join
        or request anything of a partner's)."""
        account = self.partner_account
        return account.id if account is not None and account.state == ACCOUNT_ACTIVE else None

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.tenant_id, self.client_address)


async def caller_of(
    db_session: AsyncSession,
    principal: PrincipalLike,
    *,
    language: str,
    client_address: str | None = None,
) -> Caller:
    """The caller: their acting partner account and whether they are an operator."""
    user_id = principal.user.id
    return Caller(
        user_id=user_id,
        tenant_id=principal.tenant.id,
        language=language,
        client_address=client_address,
        partner_account=await acting_partner_account(db_session, principal),
        is_operator=await partner_service.is_operator(db_session=db_session, user_id=user_id),
    )
