"""`/v1/organization` and the authorization policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import (
    Principal,
    actor_of,
    current_principal,
    get_db,
    get_read_db,
    require_role,
)
from tenantry.domains import service as domain_service
from tenantry.tenants import service as tenant_service
from tenantry.tenants.schemas import (
    AuthorizationPolicyUpdate,
    AuthorizationPolicyView,
    OrganizationView,
    organization_view,
    policy_view,
)

router = APIRouter(prefix="/v1", tags=["organization"], responses=ERROR_RESPONSES)


@router.get("/organization", response_model=OrganizationView)
async def organization(
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db),
) -> dict[str, Any]:
    """The caller's organization: state (unmanaged or managed) and domains."""
    domains = await domain_service.get_all(db_session=db_session, tenant_id=principal.tenant.id)
    return organization_view(principal.tenant, domains)


@router.get("/policies/authorizationPolicy", response_model=AuthorizationPolicyView)
async def get_authorization_policy(
    principal: Principal = Depends(current_principal),
) -> dict[str, Any]:
    """The tenant's self-service settings."""
    return policy_view(principal.tenant)


@router.patch("/policies/authorizationPolicy", response_model=AuthorizationPolicyView)
async def update_authorization_policy(
    body: AuthorizationPolicyUpdate,
    request: Request,
    principal: Principal = Depends(require_role()),
    db_session: AsyncSession = Depends(get_db),
) -> dict[str, Any]:
    """Change whether people may join by email verification and take self-service offers."""
    tenant = await tenant_service.get_for_update(
        db_session=db_session, tenant_id=principal.tenant.id
    )
    tenant_service.update_authorization_policy(
        db_session=db_session,
        tenant=tenant,
        actor=actor_of(request, principal),
        allow_email_verified_users_to_join=body.allow_email_verified_users_to_join_organization,
        allowed_to_sign_up_email_based_subscriptions=body.allowed_to_sign_up_email_based_subscriptions,
    )
    return policy_view(tenant)
