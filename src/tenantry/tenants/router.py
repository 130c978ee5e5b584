"""`/v1/organization`, the authorization policy, and the become-the-admin wizard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core import idempotency
from tenantry.core.config import Settings
from tenantry.core.dns import lookup_txt
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import (
    Principal,
    actor_of,
    current_principal,
    get_catalog,
    get_db,
    get_read_db,
    get_settings,
    require_role,
)
from tenantry.domains import service as domain_service
from tenantry.tenants import auditlog, flows
from tenantry.tenants import service as tenant_service
from tenantry.tenants.constants import AUDIT_LOG_READERS
from tenantry.tenants.exceptions import TenantAlreadyManaged
from tenantry.tenants.models import UNMANAGED
from tenantry.tenants.schemas import (
    AuthorizationPolicyUpdate,
    AuthorizationPolicyView,
    BecomeAdminComplete,
    BecomeAdminStart,
    OrganizationView,
    organization_view,
    policy_view,
)

router = APIRouter(prefix="/v1", tags=["organization"], responses=ERROR_RESPONSES)


@router.get("/organization", response_model=OrganizationView)
async def organization(
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
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
    db_session: AsyncSession = Depends(get_db, scope="function"),
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


@router.post("/organization/becomeAdmin")
async def become_admin(
    request: Request,
    body: BecomeAdminStart | None = None,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Step 2 of "Become the admin": the TXT record to publish, the plans, the licenses needed."""
    state = await flows.start(
        db_session=db_session,
        catalog=catalog,
        actor=actor_of(request, principal),
        user=principal.user,
        tenant=principal.tenant,
        entry_point=(body or BecomeAdminStart()).entry_point,
    )
    return state.view()


@router.get("/organization/becomeAdmin")
async def become_admin_state(
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Where the candidate stopped in the wizard."""
    if principal.tenant.state != UNMANAGED:
        raise TenantAlreadyManaged()
    state = await flows.get_state(
        db_session=db_session, catalog=catalog, user=principal.user, tenant=principal.tenant
    )
    return state.view()


@router.post("/organization/becomeAdmin/verify")
async def become_admin_verify(
    request: Request,
    principal: Principal = Depends(current_principal),
    read_session: AsyncSession = Depends(get_read_db, scope="function"),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """Step 3: look the TXT record up in DNS; 409 verificationRecordNotFound until it is there."""
    if principal.tenant.state != UNMANAGED:
        raise TenantAlreadyManaged()
    current = await flows.get_state(
        db_session=read_session, catalog=catalog, user=principal.user, tenant=principal.tenant
    )
    name = current.domain.name
    await read_session.rollback()  # no transaction held across the DNS round trip
    lookup = await lookup_txt(settings, name, database=request.app.state.database)
    state = await flows.verify(
        db_session=db_session,
        catalog=catalog,
        actor=actor_of(request, principal),
        user=principal.user,
        tenant=principal.tenant,
        lookup=lookup,
    )
    return state.view()


@router.post("/organization/becomeAdmin/complete", response_model=OrganizationView)
async def become_admin_complete(
    body: BecomeAdminComplete,
    request: Request,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> Any:
    """Step 4: buy the licenses; the organization becomes managed with the caller as its admin."""
    actor = actor_of(request, principal)

    async def run() -> tuple[int, dict[str, Any]]:
        tenant = await flows.complete(
            db_session=db_session,
            catalog=catalog,
            actor=actor,
            user=principal.user,
            tenant_id=principal.tenant.id,
            sku_part_number=body.sku_part_number,
            quantity=body.quantity,
            country_letter_code=body.country_letter_code,
        )
        domains = await domain_service.get_all(db_session=db_session, tenant_id=tenant.id)
        return 200, organization_view(tenant, domains)

    stored = await idempotency.run_once(
        db_session=db_session,
        tenant_id=principal.tenant.id,
        scope=flows.completion_scope(principal.user.id),
        key=idempotency.key_from_header(request.headers.get(idempotency.HEADER), required=False),
        fingerprint=idempotency.fingerprint(body.model_dump(mode="json")),
        action=run,
    )
    return idempotency.response(stored)


@router.get("/auditLogs/directoryAudits")
async def directory_audits(
    request: Request,
    actor: str | None = Query(None, description="User id or sign-in address of who acted."),
    action: str | None = Query(None, description="Activity name; end with * for a prefix."),
    since: datetime | None = Query(None, alias="from"),
    until: datetime | None = Query(None, alias="to"),
    top: int = Query(100, alias="$top", ge=1, le=auditlog.MAX_TOP),
    skip_token: str | None = Query(None, alias="$skiptoken"),
    principal: Principal = Depends(require_role(*AUDIT_LOG_READERS)),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """The organization's audit log, newest first (any admin role may read it)."""
    events, next_token = await auditlog.search(
        db_session=db_session,
        tenant_id=principal.tenant.id,
        query=auditlog.AuditQuery(
            actor=actor, action=action, since=since, until=until, top=top, skip_token=skip_token
        ),
    )
    body: dict[str, Any] = {"value": events}
    if next_token:
        params = dict(request.query_params) | {"$skiptoken": next_token}
        body["@odata.nextLink"] = str(request.url.replace_query_params(**params))
    return body
