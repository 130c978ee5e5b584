"""OAuth 2.0 token endpoint (password grant) and sign-out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.auth import service as auth_service
from tenantry.auth import tenancy
from tenantry.auth.limits import limit_sign_ins
from tenantry.auth.models import API_TOKEN
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.errors import InvalidRequest
from tenantry.core.i18n import negotiate
from tenantry.core.schemas import ERROR_RESPONSES, ApiModel
from tenantry.dependencies import (
    Principal,
    actor_of,
    client_address,
    current_principal,
    get_database,
    get_db,
    get_read_db,
    get_settings,
    no_store,
    signed_in_principal,
)
from tenantry.partner import acting as partner_acting

router = APIRouter(prefix="/v1/auth", tags=["sign-in"], responses=ERROR_RESPONSES)
# `/v1/me/tenants`: where the signed-in person may act.
me_router = APIRouter(prefix="/v1/me", tags=["sign-in"], responses=ERROR_RESPONSES)


class TokenResponse(ApiModel):
    access_token: str
    token_type: str
    expires_in: int
    # True after an admin reset the password: the token only serves POST /v1/me/changePassword.
    password_change_required: bool = False

    model_config = ApiModel.model_config | {"alias_generator": None}


class UnsupportedGrantType(InvalidRequest):
    code = "unsupported_grant_type"


@router.post("/token", response_model=TokenResponse, dependencies=[Depends(no_store)])
async def token(
    request: Request,
    grant_type: str = Form(...),
    username: str = Form(...),
    password: str = Form(...),
    tenant: str | None = Form(
        None,
        max_length=253,
        description="The organization to act in (its id, or a domain name it verified); "
        "your own when left out. Refused with `noTenantAccess` where you have no access.",
    ),
    partner_account_id: str | None = Form(None, alias="partnerAccountId", max_length=100),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    database: Database = Depends(get_database),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """Exchange an email address and password for a bearer token (OAuth 2.0 password grant).

    `partnerAccountId` (optional): the partner account the token acts for; refused unless
    you are a member of it. Without it, the only partner account you belong to, if one."""
    if grant_type != "password":
        raise UnsupportedGrantType(
            "Only grant_type=password is supported here.", target="grant_type"
        )
    await limit_sign_ins(database, settings, client_address(request))
    actor = actor_of(request, None)
    person = await auth_service.sign_in(
        database=database,
        db_session=db_session,
        settings=settings,
        actor=actor,
        username=username,
        password=password,
    )
    acting = await tenancy.choose(db_session=db_session, person=person, tenant=tenant or None)
    # The partner account the token acts for, among those of the identity it acts as: the
    # one named, else the only one (or none). A refusal speaks the request's language when
    # it names one, else the person's.
    accept = request.headers.get("accept-language")
    acting_account = await partner_acting.for_sign_in(
        db_session=db_session,
        tenant_id=acting.user.tenant_id,
        user_id=acting.user.id,
        requested=partner_account_id,
        language=negotiate(accept) if accept else negotiate(None, person.preferred_language),
    )
    issued = await auth_service.issue(
        db_session=db_session,
        user=acting.user,
        kind=API_TOKEN,
        ttl_seconds=settings.access_token_ttl_seconds,
        actor=actor,
        partner_account_id=acting_account,
    )
    return {
        "access_token": issued.token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
        "password_change_required": person.must_change_password,
    }


@router.post("/revoke", status_code=204)
async def revoke(
    request: Request,
    principal: Principal = Depends(signed_in_principal),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> None:
    """Revoke the token used for this call (sign out)."""
    await auth_service.revoke(
        db_session=db_session,
        token=principal.token,
        kind=API_TOKEN,
        actor=actor_of(request, principal),
    )


class TenantView(ApiModel):
    tenant_id: str
    display_name: str
    default_domain: str | None = None
    user_type: str = Field(description="`Member` in your own organization, `Guest` elsewhere.")
    is_current: bool = Field(description="Whether this token acts in it.")


class TenantCollection(ApiModel):
    value: list[TenantView]


@me_router.get("/tenants", response_model=TenantCollection)
async def my_tenants(
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """The organizations you may act in: your own, and those whose invitation you accepted.

    A token acts in one of them (`isCurrent`); `POST /v1/auth/token` with `tenant` gets one
    for another.
    """
    return {"value": await tenancy.tenants_view(db_session=db_session, user=principal.user)}
