"""Tenant lookups, creation and the authorization policy."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.errors import NotFound
from tenantry.tenants.models import UNMANAGED, Tenant


async def get(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    """The tenant with that id, or NotFound."""
    tenant = await db_session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("The organization does not exist.")
    return tenant


async def get_for_update(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    """The tenant, its row locked until the unit of work ends."""
    tenant = (
        await db_session.scalars(
            select(Tenant)
            .where(Tenant.id == tenant_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if tenant is None:
        raise NotFound("The organization does not exist.")
    return tenant


def create(*, db_session: AsyncSession, display_name: str, state: str = UNMANAGED) -> Tenant:
    """A new tenant (flushed by the caller's unit of work), its policy readable at once."""
    tenant = Tenant(
        id=uuid.uuid4(),
        display_name=display_name,
        state=state,
        allow_email_verified_users_to_join=True,
        allowed_to_sign_up_email_based_subscriptions=True,
        created_at=clock.now(),
    )
    db_session.add(tenant)
    return tenant


def update_authorization_policy(
    *,
    db_session: AsyncSession,
    tenant: Tenant,
    actor: audit.Actor,
    allow_email_verified_users_to_join: bool | None = None,
    allowed_to_sign_up_email_based_subscriptions: bool | None = None,
) -> Tenant:
    """Change the self-service settings of a tenant."""
    changes: dict[str, bool] = {}
    if allow_email_verified_users_to_join is not None:
        tenant.allow_email_verified_users_to_join = allow_email_verified_users_to_join
        changes["allowEmailVerifiedUsersToJoinOrganization"] = allow_email_verified_users_to_join
    if allowed_to_sign_up_email_based_subscriptions is not None:
        tenant.allowed_to_sign_up_email_based_subscriptions = (
            allowed_to_sign_up_email_based_subscriptions
        )
        changes["allowedToSignUpEmailBasedSubscriptions"] = (
            allowed_to_sign_up_email_based_subscriptions
        )
    if changes:
        audit.record(
            db_session,
            actor=actor,
            action="Update authorization policy",
            target_type="tenant",
            target_id=tenant.id,
            tenant_id=tenant.id,
            details=changes,
        )
    return tenant
