"""Provisioning tokens: created by an admin (shown once), kept as a SHA-256 digest, revoked at once.

A token is the tenant's SCIM credential: the tenant is implied by it, as Entra's
and Okta's provisioning clients expect (one base URL, one secret token). It acts
with the rights of the admin who created it where rights matter (an administrator
is changed only through a Global Administrator's token: `adminProtected`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.errors import InvalidRequest, NotFound
from tenantry.core.security import new_token, token_digest
from tenantry.directory.users import check_name
from tenantry.scim.constants import LAST_USED_RESOLUTION, TOKEN_PREFIX
from tenantry.scim.models import ScimToken
from tenantry.tenants.models import CLOSED, MANAGED, Tenant

MAX_TOKENS_PER_TENANT = 20


@dataclass(frozen=True)
class CreatedToken:
    row: ScimToken
    token: str  # shown once, never stored


@dataclass(frozen=True)
class Caller:
    """Who a SCIM request comes from: a tenant, through one of its tokens."""

    tenant_id: uuid.UUID
    token_id: uuid.UUID
    token_display_name: str
    created_by: uuid.UUID | None
    touch_due: bool = False

    def actor(self, client_address: str | None) -> audit.Actor:
        """The audit actor of its changes: the provisioning service of the tenant."""
        return audit.Actor(None, self.tenant_id, client_address, kind="provisioning")


async def create(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    display_name: str,
    expires_at: datetime | None = None,
) -> CreatedToken:
    """A new token for the tenant's identity provider; its value is returned only here."""
    name = check_name(display_name, field="displayName", limit=256, required=True) or ""
    now = clock.now()
    if expires_at is not None and expires_at <= now:
        raise InvalidRequest(
            "expirationDateTime must be in the future.", target="expirationDateTime"
        )
    held = await db_session.scalar(
        select(ScimToken.id)
        .where(ScimToken.tenant_id == tenant_id)
        .offset(MAX_TOKENS_PER_TENANT - 1)
    )
    if held is not None:
        raise InvalidRequest(
            f"An organization has at most {MAX_TOKENS_PER_TENANT} provisioning tokens: "
            "revoke one you no longer use first.",
            code="tooManyTokens",
        )
    token = TOKEN_PREFIX + new_token()
    row = ScimToken(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        digest=token_digest(token),
        display_name=name,
        created_by=actor.user_id,
        created_at=now,
        expires_at=expires_at,
        last_used_at=None,
    )
    db_session.add(row)
    await db_session.flush()
    audit.record(
        db_session,
        actor=actor,
        action="Add provisioning token",
        target_type="scimToken",
        target_id=row.id,
        tenant_id=tenant_id,
        details={"displayName": name},
    )
    return CreatedToken(row=row, token=token)


async def get_all(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> list[ScimToken]:
    """The tenant's tokens, newest first."""
    query = (
        select(ScimToken)
        .where(ScimToken.tenant_id == tenant_id)
        .order_by(ScimToken.created_at.desc(), ScimToken.id)
    )
    return list((await db_session.scalars(query)).all())


async def revoke(
    *, db_session: AsyncSession, actor: audit.Actor, tenant_id: uuid.UUID, token_id: uuid.UUID
) -> None:
    """Revoke a token: the next request that carries it is refused (401)."""
    revoked = (
        await db_session.execute(
            delete(ScimToken)
            .where(ScimToken.tenant_id == tenant_id, ScimToken.id == token_id)
            .returning(ScimToken.display_name)
        )
    ).first()
    if revoked is None:
        raise NotFound("The provisioning token does not exist.", code="tokenNotFound", target="id")
    audit.record(
        db_session,
        actor=actor,
        action="Revoke provisioning token",
        target_type="scimToken",
        target_id=token_id,
        tenant_id=tenant_id,
        details={"displayName": revoked[0]},
    )


async def authenticate(*, db_session: AsyncSession, token: str | None) -> Caller | None:
    """The tenant a presented token belongs to, or None (unknown, revoked, expired, or the
    tenant is closed or no longer managed). `touch_due`: its last use is to be noted (at
    most once a minute; `touch`)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = (
        await db_session.execute(
            select(ScimToken, Tenant.state)
            .join(Tenant, Tenant.id == ScimToken.tenant_id)
            .where(ScimToken.digest == token_digest(token))
        )
    ).first()
    if row is None:
        return None
    scim_token, state = row
    now = clock.now()
    if state == CLOSED or state != MANAGED:
        return None
    if scim_token.expires_at is not None and scim_token.expires_at <= now:
        return None
    return Caller(
        tenant_id=scim_token.tenant_id,
        token_id=scim_token.id,
        token_display_name=scim_token.display_name,
        created_by=scim_token.created_by,
        touch_due=scim_token.last_used_at is None
        or now - scim_token.last_used_at >= LAST_USED_RESOLUTION,
    )


async def touch(db_session: AsyncSession, token_ids: set[uuid.UUID]) -> None:
    """Note that these tokens were used now."""
    if token_ids:
        await db_session.execute(
            update(ScimToken)
            .where(ScimToken.id.in_(sorted(token_ids)))
            .values(last_used_at=clock.now())
        )
