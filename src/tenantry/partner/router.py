"""`/v1/partnerAgreements`, `/v1/partnerAccounts`: enrollment in the partner program."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.i18n import negotiate
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import (
    Principal,
    actor_of,
    current_principal,
    get_database,
    get_db,
    get_read_db,
    get_settings,
)
from tenantry.partner import accounts, flows, lifecycle, service
from tenantry.partner.exceptions import PartnerAccountNotFound
from tenantry.partner.schemas import (
    AgreementView,
    ApprovalView,
    Availability,
    PartnerAccountCreate,
    PartnerAccountUpdate,
    PartnerAccountView,
    account_view,
    approval_view,
)

router = APIRouter(tags=["partner"], responses=ERROR_RESPONSES)


def caller_language(request: Request, principal: Principal) -> str:
    """The language of the answer: Accept-Language when the request says, else the person's."""
    accept = request.headers.get("accept-language")
    if accept:
        return negotiate(accept)
    return negotiate(None, principal.user.preferred_language)


def account_id_of(value: str, language: str) -> uuid.UUID:
    """A partner account id from the path; anything else is an account that does not exist."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise PartnerAccountNotFound(language) from None


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
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """Enroll the caller's organization (Global Administrator of a managed tenant only): the
    account waits for its approver, who gets a link by email; the contact gets a
    confirmation."""
    account = await flows.enroll(
        database,
        tenant=principal.tenant,
        actor=actor_of(request, principal),
        enrollment=body.enrollment(),
        language=caller_language(request, principal),
        base_url=settings.base_url,
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
    account = await accounts.get_visible(
        db_session=db_session,
        account_id=account_id_of(partner_account_id, language),
        tenant_id=principal.tenant.id,
        user_id=principal.user.id,
        language=language,
    )
    return account_view(account)


@router.patch("/v1/partnerAccounts/{partner_account_id}", response_model=PartnerAccountView)
async def update_account(
    partner_account_id: str,
    body: PartnerAccountUpdate,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """Change the publisher name or the contact (a Global Administrator of its tenant)."""
    language = caller_language(request, principal)
    account = await flows.update(
        database,
        account_id=account_id_of(partner_account_id, language),
        actor=actor_of(request, principal),
        language=language,
        publisher_display_name=body.publisher_display_name,
        contact=body.contact.person() if body.contact is not None else None,
        country_or_region=body.country_or_region,
        account_type=body.account_type,
    )
    return account_view(account)


@router.post(
    "/v1/partnerAccounts/{partner_account_id}/resendApproval", response_model=PartnerAccountView
)
async def resend_approval(
    partner_account_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """Email the approver a new link (the old one stops working)."""
    language = caller_language(request, principal)
    account = await lifecycle.resend_approval(
        db_session=db_session,
        account_id=account_id_of(partner_account_id, language),
        actor=actor_of(request, principal),
        base_url=settings.base_url,
        language=language,
    )
    return account_view(account)


def _operator_route(move: str) -> None:
    async def handler(
        partner_account_id: str,
        request: Request,
        principal: Principal = Depends(current_principal),
        db_session: AsyncSession = Depends(get_db, scope="function"),
    ) -> dict[str, Any]:
        language = caller_language(request, principal)
        account = await lifecycle.operator_move(
            db_session=db_session,
            account_id=account_id_of(partner_account_id, language),
            move=move,
            actor=actor_of(request, principal),
            language=language,
        )
        return account_view(account)

    handler.__name__ = f"{move}_account"
    handler.__doc__ = f"Operator: {move} a partner account."
    router.post(
        f"/v1/partnerAccounts/{{partner_account_id}}/{move}", response_model=PartnerAccountView
    )(handler)


for _move in lifecycle.OPERATOR_MOVES:
    _operator_route(_move)


def approval_language(request: Request) -> str:
    """The approver is not signed in: the language their browser asks for."""
    return negotiate(request.headers.get("accept-language"))


@router.get("/v1/partnerAccountApprovals/{approval_token}", response_model=ApprovalView)
async def approval(
    approval_token: str,
    request: Request,
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """Public, behind the approver's link: the account waiting for their answer."""
    account = await lifecycle.by_approval_token(
        db_session=db_session, token=approval_token, language=approval_language(request)
    )
    return approval_view(account)


@router.post("/v1/partnerAccountApprovals/{approval_token}/confirm", response_model=ApprovalView)
async def confirm(
    approval_token: str,
    request: Request,
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """The approver confirms the company's account: it becomes active."""
    account = await lifecycle.decide(
        db_session=db_session,
        token=approval_token,
        confirm=True,
        actor=actor_of(request, None),
        language=approval_language(request),
    )
    return approval_view(account)


@router.post("/v1/partnerAccountApprovals/{approval_token}/reject", response_model=ApprovalView)
async def reject(
    approval_token: str,
    request: Request,
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """The approver rejects the company's account."""
    account = await lifecycle.decide(
        db_session=db_session,
        token=approval_token,
        confirm=False,
        actor=actor_of(request, None),
        language=approval_language(request),
    )
    return approval_view(account)
