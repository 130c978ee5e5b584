"""The approver's page behind the emailed link: what they are asked to approve, Confirm or
Reject, with no sign-in (the link's token is the credential, as for the API's
`/v1/partnerAccountApprovals/{token}`).

The page speaks the account's language (that of its emails) unless the visitor picked
another with the language switch. An unknown or spent link is a 404 page, an expired one
a 410 page, saying so.
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from tenantry.core.errors import InvalidRequest
from tenantry.core.i18n import translate
from tenantry.dependencies import actor_of
from tenantry.partner import lifecycle
from tenantry.partner.models import PartnerAccount
from tenantry.partner.pages.account import account_view
from tenantry.partner.pages.common import APPROVALS, render_partner
from tenantry.tenants import service as tenant_service
from tenantry.web.dependencies import checked_form, text, unit_of_work
from tenantry.web.rendering import LANG_COOKIE, WebRoute, language_of

router = APIRouter(include_in_schema=False, route_class=WebRoute)


def _language(request: Request, account: PartnerAccount) -> str:
    """The switch's choice, else the account's language (its emails')."""
    return language_of(request) if request.cookies.get(LANG_COOKIE) else account.language


def _page(
    request: Request, account: PartnerAccount, organization: str, token: str, *, decided: bool
) -> Response:
    language = _language(request, account)
    return render_partner(
        request,
        "partner/approval.html",
        principal=None,
        section="approval",
        lang=language,
        t=partial(translate, language),
        account=account_view(language, account),
        organization=organization,
        action=f"{APPROVALS}/{token}",
        decided=decided,
    )


@router.get(APPROVALS + "/{approval_token}")
async def approval_page(approval_token: str, request: Request) -> Response:
    """The account waiting for the approver's answer, with Confirm and Reject."""
    async with unit_of_work(request) as db_session:
        account = await lifecycle.by_approval_token(
            db_session=db_session, token=approval_token, language=language_of(request)
        )
        tenant = await tenant_service.get(db_session=db_session, tenant_id=account.tenant_id)
    return _page(request, account, tenant.display_name, approval_token, decided=False)


@router.post(APPROVALS + "/{approval_token}")
async def decide(
    approval_token: str, request: Request, form: FormData = Depends(checked_form)
) -> Response:
    """The approver's answer (`decision` = `confirm` or `reject`): active or rejected; the
    link is spent."""
    decision = text(form, "decision")
    if decision not in ("confirm", "reject"):
        raise InvalidRequest("Choose Confirm or Reject.", target="decision")
    async with unit_of_work(request) as db_session:
        account = await lifecycle.decide(
            db_session=db_session,
            token=approval_token,
            confirm=decision == "confirm",
            actor=actor_of(request, None),
            language=language_of(request),
        )
        tenant = await tenant_service.get(db_session=db_session, tenant_id=account.tenant_id)
    return _page(request, account, tenant.display_name, approval_token, decided=True)
