"""`/v1/partnerAgreements`, `/v1/partnerAccounts`: enrollment in the partner program."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.db import Database
from tenantry.core.i18n import negotiate
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import (
    Principal,
    actor_of,
    current_principal,
    get_database,
    get_read_db,
)
from tenantry.partner import accounts, flows, service
from tenantry.partner.exceptions import PartnerAccountNotFound
from tenantry.partner.schemas import (
    AgreementView,
    Availability,
    PartnerAccountCreate,
    PartnerAccountView,
    account_view,
)

router = APIRouter(tags=["partner"], responses=ERROR_RESPONSES)


def caller_language(request: Request, principal: Principal) -> str:
    """The language of the answer: Accept-Language when the request says, else the person's."""
    accept = request.headers.get("accept-language")
    if accept:
        return negotiate(accept)
    return negotiate(None, principal.user.preferred_language)


@router.get("/v1/partnerAgreements/current", response_model=AgreementView)
async def current_agreement(
    request: Request,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db),
) -> dict[str, Any]:
    """The current Collaboration agreement, in the caller's language."""
    agreement = await service.current_agreement(
        db_session=db_session, language=caller_language(request, principal)
    )
    return {"version": agreement.version, "language": agreement.language, "text": agreement.text}


@router.post("/v1/partnerAccounts", status_code=201, response_model=PartnerAccountView)
async def enroll(
    body: PartnerAccountCreate,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """Enroll the caller's organization (Global Administrator of a managed tenant only)."""
    account = await flows.enroll(
        database,
        tenant=principal.tenant,
        actor=actor_of(request, principal),
        enrollment=body.enrollment(),
        language=caller_language(request, principal),
    )
    return account_view(account)


@router.get("/v1/partnerAccounts/availability", response_model=Availability)
async def availability(
    request: Request,
    publisher_display_name: str = Query(alias="publisherDisplayName", max_length=1000),
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db),
) -> dict[str, Any]:
    """Whether a publisher display name is free (the enrollment form's live check)."""
    reason = await accounts.availability(
        db_session=db_session,
        name=publisher_display_name,
        language=caller_language(request, principal),
    )
    return {
        "publisherDisplayName": publisher_display_name,
        "isAvailable": reason is None,
        "reason": reason,
    }


@router.get("/v1/partnerAccounts/{partner_account_id}", response_model=PartnerAccountView)
async def get_account(
    partner_account_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db),
) -> dict[str, Any]:
    """A partner account, for its tenant's admins and the operators."""
    language = caller_language(request, principal)
    try:
        account_id = uuid.UUID(partner_account_id)
    except ValueError:
        raise PartnerAccountNotFound(language) from None
    account = await accounts.get_visible(
        db_session=db_session,
        account_id=account_id,
        tenant_id=principal.tenant.id,
        user_id=principal.user.id,
        language=language,
    )
    return account_view(account)
