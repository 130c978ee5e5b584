"""Sign-up and user-realm routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.errors import TenantryError
from tenantry.core.i18n import negotiate
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import (
    actor_of,
    client_address,
    get_catalog,
    get_database,
    get_db,
    get_read_db,
    get_settings,
    parse_id,
)
from tenantry.directory.schemas import user_view
from tenantry.domains import service as domain_service
from tenantry.domains.models import Domain
from tenantry.signup import flows, policy
from tenantry.signup import service as signup_service
from tenantry.signup.limits import limit_signups
from tenantry.signup.schemas import (
    SignupRequest,
    SignupStarted,
    SignupVerified,
    UserRealm,
    VerifyRequest,
)
from tenantry.tenants.schemas import organization_view

router = APIRouter(prefix="/v1", tags=["sign-up"], responses=ERROR_RESPONSES)


@router.post("/signup", status_code=202, response_model=SignupStarted)
async def start_signup(
    body: SignupRequest,
    request: Request,
    db_session: AsyncSession = Depends(get_db, scope="function"),
    database: Database = Depends(get_database),
    settings: Settings = Depends(get_settings),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Check a work address and email it a 6-digit code."""
    await limit_signups(database, settings, client_address(request))
    signup = await signup_service.start(
        db_session=db_session,
        settings=settings,
        catalog=catalog,
        actor=actor_of(request, None),
        email=body.email,
        display_name=body.display_name,
        offer=body.offer,
        language=negotiate(request.headers.get("accept-language"), request.cookies.get("lang")),
    )
    return {
        "signupId": str(signup.id),
        "email": signup.email,
        "expiresInSeconds": settings.signup_code_ttl_seconds,
    }


@router.post("/signup/{signup_id}/resend", status_code=202, response_model=SignupStarted)
async def resend_code(
    signup_id: str,
    request: Request,
    db_session: AsyncSession = Depends(get_db, scope="function"),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """Email a new code (throttled)."""
    signup = await signup_service.resend(
        db_session=db_session,
        settings=settings,
        actor=actor_of(request, None),
        signup_id=parse_id(signup_id, what="sign-up"),
    )
    return {
        "signupId": str(signup.id),
        "email": signup.email,
        "expiresInSeconds": settings.signup_code_ttl_seconds,
    }


@router.post("/signup/{signup_id}/verify", status_code=201, response_model=SignupVerified)
async def verify_signup(
    signup_id: str,
    body: VerifyRequest,
    request: Request,
    response: Response,
    database: Database = Depends(get_database),
    settings: Settings = Depends(get_settings),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Accept the code and set the password: the person lands in their domain's tenant."""
    signup_uuid = parse_id(signup_id, what="sign-up")
    # The address the password is checked against, read without taking a write lock;
    # the slow hash then runs outside any transaction, and only for the right code.
    signup = await signup_service.read_code_check(
        database=database, reader=request.app.state.hot_reader, signup_id=signup_uuid
    )
    flows.check_password_strength(body.password, email=signup.email if signup else "")
    password_hash = await flows.hash_if_code_matches(settings, signup, body.code, body.password)

    async def domains_of(db_session: AsyncSession, result: flows.SignupResult) -> list[Domain]:
        return result.new_domains or await domain_service.get_all(
            db_session=db_session, tenant_id=result.tenant.id
        )

    result, domains = await flows.complete(
        database=database,
        settings=settings,
        catalog=catalog,
        actor=actor_of(request, None),
        signup_id=signup_uuid,
        code=body.code,
        password_hash=password_hash,
        then=domains_of,
    )
    if not result.created:
        response.status_code = 200
    return {"user": user_view(result.user), "tenant": organization_view(result.tenant, domains)}


@router.get("/userRealm/{email}", response_model=UserRealm)
async def user_realm(
    email: str,
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """Whether the address's domain has a tenant, and whether it is managed (Entra's userrealm)."""
    reason = None
    try:
        work_email = policy.check(email, extra_consumer_file=settings.consumer_domains_file)
        domain = work_email.domain
    except (policy.ConsumerDomain, policy.DisposableDomain) as refusal:
        reason = refusal.code
        domain = email.rpartition("@")[2].strip().lower()
    owner = None if reason else await domain_service.find_owner(db_session=db_session, name=domain)
    signup_allowed = reason is None
    if owner is not None:
        try:
            signup_service.ensure_tenant_accepts(owner.tenant, managed=owner.managed, domain=domain)
        except TenantryError as refusal:
            signup_allowed, reason = False, refusal.code
    return {
        "login": email.strip().lower(),
        "domainName": domain,
        "tenantExists": owner is not None,
        "state": owner.tenant.state if owner else None,
        "isViral": bool(owner and not owner.managed),
        "nameSpaceType": "Managed" if owner and owner.managed else "Unknown",
        "signupAllowed": signup_allowed,
        "reason": reason,
    }
