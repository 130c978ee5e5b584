"""`/v1/domains`: the domains of a managed tenant (Microsoft Graph shape)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.config import Settings
from tenantry.core.dns import lookup_txt
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import (
    Principal,
    actor_of,
    get_db,
    get_read_db,
    get_settings,
    require_role,
)
from tenantry.domains import flows
from tenantry.domains import service as domain_service
from tenantry.domains.schemas import (
    DomainCreate,
    DomainList,
    DomainUpdate,
    ForceDelete,
    VerificationDnsRecords,
    VerifiedDomain,
)
from tenantry.tenants.schemas import DomainView, domain_view

router = APIRouter(prefix="/v1/domains", tags=["domains"], responses=ERROR_RESPONSES)

# Every domain action needs a Global Administrator of a managed tenant.
global_admin = require_role()


@router.post("", status_code=201, response_model=DomainView)
async def add_domain(
    body: DomainCreate,
    request: Request,
    principal: Principal = Depends(global_admin),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """Add a domain: unverified, or verified at once under a root domain verified here."""
    domain = await domain_service.add(
        db_session=db_session,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        name=body.id,
        initial_suffix=settings.initial_domain_suffix,
    )
    return domain_view(domain)


@router.get("", response_model=DomainList)
async def list_domains(
    principal: Principal = Depends(global_admin),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """The tenant's domains."""
    domains = await domain_service.get_all(db_session=db_session, tenant_id=principal.tenant.id)
    return {"value": [domain_view(d) for d in domains]}


@router.get("/{name}", response_model=DomainView)
async def get_domain(
    name: str,
    principal: Principal = Depends(global_admin),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """One domain of the tenant."""
    domain = await domain_service.get(
        db_session=db_session, tenant_id=principal.tenant.id, name=name
    )
    return domain_view(domain)


@router.get("/{name}/verificationDnsRecords", response_model=VerificationDnsRecords)
async def verification_records(
    name: str,
    principal: Principal = Depends(global_admin),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """The TXT record to publish at the domain to prove ownership."""
    domain = await domain_service.get(
        db_session=db_session, tenant_id=principal.tenant.id, name=name
    )
    return {"value": [domain_service.verification_record(domain)]}


@router.post("/{name}/verify", response_model=VerifiedDomain)
async def verify_domain(
    name: str,
    request: Request,
    principal: Principal = Depends(global_admin),
    read_session: AsyncSession = Depends(get_read_db, scope="function"),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """Look the TXT record up in DNS and verify; takes over an unmanaged tenant of the domain."""
    domain = await domain_service.get(
        db_session=read_session, tenant_id=principal.tenant.id, name=name
    )
    domain_name = domain.name
    await read_session.rollback()  # release the read transaction before the DNS round trip
    lookup = await lookup_txt(settings, domain_name, database=request.app.state.database)
    result = await flows.verify(
        db_session=db_session,
        actor=actor_of(request, principal),
        tenant=principal.tenant,
        name=domain_name,
        lookup=lookup,
    )
    return domain_view(result.domain) | {
        "availabilityStatus": result.availability_status,
        "movedUsers": len(result.moved_users),
    }


@router.patch("/{name}", response_model=DomainView)
async def update_domain(
    name: str,
    body: DomainUpdate,
    request: Request,
    principal: Principal = Depends(global_admin),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """Make a verified domain the default (`{"isDefault": true}`)."""
    domain = await domain_service.get(
        db_session=db_session, tenant_id=principal.tenant.id, name=name
    )
    if body.is_default:
        await domain_service.set_default(
            db_session=db_session, actor=actor_of(request, principal), domain=domain
        )
    return domain_view(domain)


@router.delete("/{name}", status_code=204, response_class=Response)
async def delete_domain(
    name: str,
    request: Request,
    force: bool = Query(False, description="Rename users to the initial domain and disable them."),
    principal: Principal = Depends(global_admin),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> None:
    """Remove a domain; refused while it is the default or in use, unless forced."""
    domain = await domain_service.get(
        db_session=db_session, tenant_id=principal.tenant.id, name=name
    )
    await domain_service.remove(
        db_session=db_session, actor=actor_of(request, principal), domain=domain, force=force
    )


@router.post("/{name}/forceDelete", status_code=204, response_class=Response)
async def force_delete_domain(
    name: str,
    request: Request,
    body: ForceDelete | None = None,
    principal: Principal = Depends(global_admin),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> None:
    """Graph's forceDelete: users move to the initial domain (disabled unless told otherwise)."""
    domain = await domain_service.get(
        db_session=db_session, tenant_id=principal.tenant.id, name=name
    )
    await domain_service.remove(
        db_session=db_session,
        actor=actor_of(request, principal),
        domain=domain,
        force=True,
        disable_user_accounts=(body or ForceDelete()).disable_user_accounts,
    )
