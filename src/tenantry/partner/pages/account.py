"""The partner program's home and the partner account's page: its state and what it means,
its details, the Owner's actions (resend the approver's email, change the name and contact),
the linked tenants, members and pending invitations (`sections`).

`/partner` shows the organization's partner account to those who may read it (`GET
/v1/partnerAccounts/{id}`: its admins, the operators), else the program's page with
**Enroll**. The Owner's actions are those of `PATCH /v1/partnerAccounts/{id}` and
`…/resendApproval` (a Global Administrator of the owning organization), through the same
services.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tenantry.auth.models import WEB_SESSION
from tenantry.core.errors import TenantryError
from tenantry.dependencies import Principal, actor_of
from tenantry.partner import access, accounts, acting, flows, invites, lifecycle, service
from tenantry.partner.access import ROLES
from tenantry.partner.exceptions import NotGlobalAdministrator, PartnerAccountNotFound
from tenantry.partner.models import PartnerAccount
from tenantry.partner.pages import sections
from tenantry.partner.pages.common import (
    ACTING,
    EDIT,
    FIELD_OF_TARGET,
    MAX_INPUT,
    PARTNER,
    RESEND,
    Errors,
    account_uuid,
    caught,
    check_person_fields,
    country_name,
    field_error,
    render_partner,
    state_label,
)
from tenantry.partner.pages.enroll import not_global_administrator
from tenantry.web.admin_views import format_time
from tenantry.web.dependencies import (
    Page,
    read_unit_of_work,
    signed_in_form,
    signed_in_page,
    text,
    unit_of_work,
)
from tenantry.web.rendering import WebRoute, language_of, settings_of
from tenantry.web.shell import redirect_with_notice

router = APIRouter(include_in_schema=False, route_class=WebRoute)

EDIT_FIELDS = ("publisher_name", "contact_name", "contact_email", "contact_phone")


def account_view(language: str, account: PartnerAccount) -> dict[str, Any]:
    """A partner account as its pages show it (also the operators')."""
    return {
        "id": str(account.id),
        "state": account.state,
        "state_label": state_label(language, account.state),
        "publisher_name": account.publisher_display_name,
        "country": account.country_or_region,
        "country_name": country_name(account.country_or_region, language),
        "account_type": account.account_type,
        "contact": {
            "name": account.contact_name,
            "email": account.contact_email,
            "phone": account.contact_phone,
        },
        "approver": {
            "name": account.approver_name,
            "email": account.approver_email,
            "phone": account.approver_phone,
        },
        "agreement_version": account.agreement_version,
        "agreement_accepted": format_time(language, account.agreement_accepted_at),
        "created": format_time(language, account.created_at),
        "link_expires": format_time(language, account.approval_expires_at),
    }


async def _visible_account(request: Request, principal: Principal) -> PartnerAccount | None:
    """The organization's own account, when this person may read it (as the API decides)."""
    async with read_unit_of_work(request) as db_session:
        account = await accounts.get_for_tenant(
            db_session=db_session, tenant_id=principal.tenant.id
        )
        if account is None:
            return None
        try:
            return await accounts.get_visible(
                db_session=db_session,
                account_id=account.id,
                tenant_id=principal.tenant.id,
                user_id=principal.user.id,
                language=language_of(request),
            )
        except PartnerAccountNotFound:
            return None


async def _home_account(
    request: Request, principal: Principal
) -> tuple[uuid.UUID | None, list[acting.Membership]]:
    """Which account `/partner` shows: the one the session acts for, else the person's only
    one, else (several, none chosen) none; and the person's accounts, for the chooser."""
    async with read_unit_of_work(request) as db_session:
        chosen = await acting.acting(
            db_session=db_session,
            token=principal.token,
            kind=WEB_SESSION,
            tenant_id=principal.tenant.id,
            user_id=principal.user.id,
        )
        memberships = await acting.accounts_of(
            db_session=db_session, tenant_id=principal.tenant.id, user_id=principal.user.id
        )
    if chosen is not None:
        return chosen.account.id, memberships
    if len(memberships) == 1:
        return memberships[0].account.id, memberships
    if memberships:
        return None, memberships
    own = await _visible_account(request, principal)  # an operator reading their own's
    return (own.id if own else None), memberships


def _choices(
    memberships: list[acting.Membership], current: uuid.UUID | None
) -> list[dict[str, Any]]:
    return [
        {
            "id": str(m.account.id),
            "name": m.account.publisher_display_name,
            "current": m.account.id == current,
        }
        for m in memberships
    ]


async def overview(
    request: Request,
    principal: Principal,
    *,
    account_id: uuid.UUID | None = None,
    status_code: int = 200,
    form_errors: Errors | None = None,
    form_values: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """`/partner` (account_id None: the acting account) or `/partner/accounts/{id}`; 404 for
    an account the person is not a member of (operators read every one)."""
    language = language_of(request)
    memberships: list[acting.Membership] = []
    if account_id is None:
        account_id, memberships = await _home_account(request, principal)
    else:
        async with read_unit_of_work(request) as db_session:
            memberships = await acting.accounts_of(
                db_session=db_session, tenant_id=principal.tenant.id, user_id=principal.user.id
            )
    async with read_unit_of_work(request) as db_session:
        operator = await service.is_operator(db_session=db_session, user_id=principal.user.id)
        owner = await accounts.is_global_administrator(
            db_session=db_session, tenant=principal.tenant, user_id=principal.user.id
        )
    if account_id is None:
        return render_partner(
            request,
            "partner/program.html",
            principal=principal,
            section="overview",
            operator=operator,
            status_code=status_code,
            may_enroll=owner,
            choices=_choices(memberships, None),
            **context,
        )
    async with read_unit_of_work(request) as db_session:
        rights = await access.resolve(
            db_session=db_session,
            account_id=account_id,
            tenant_id=principal.tenant.id,
            user_id=principal.user.id,
            language=language,
        )
        account = rights.account
        linked = await sections.linked_tenants(db_session=db_session, account=account)
        members, invitations = await sections.members_and_invitations(
            db_session=db_session, account=account, language=language
        )
    return render_partner(
        request,
        "partner/overview.html",
        principal=principal,
        section="overview",
        operator=operator,
        status_code=status_code,
        account=account_view(language, account),
        is_owner=owner and account.tenant_id == principal.tenant.id,
        manages=rights.manages,
        may_give_owner=rights.owner,
        roles=ROLES,
        max_guests=invites.MAX_GUESTS,
        choices=_choices(memberships, account.id) if len(memberships) > 1 else [],
        linked_tenants=linked,
        members=members,
        invitations=invitations,
        form_errors=form_errors or {},
        form_values=form_values or {},
        **context,
    )


@router.get(PARTNER)
async def partner_home(request: Request, page: Page = Depends(signed_in_page())) -> Response:
    """The organization's partner account, or the program's page with **Enroll**."""
    return await overview(request, page.principal)


@router.get(PARTNER + "/accounts/{partner_account_id}")
async def account_page(
    partner_account_id: str, request: Request, page: Page = Depends(signed_in_page())
) -> Response:
    """A partner account the person is a member of (404 otherwise; operators read all)."""
    return await overview(
        request, page.principal, account_id=account_uuid(partner_account_id, page.language)
    )


@router.post(ACTING)
async def choose_account(request: Request, page: Page = Depends(signed_in_form())) -> Response:
    """The chooser: act for another of the person's partner accounts (this session only)."""
    principal = page.principal
    account_id = account_uuid(text(page.form, "account"), page.language)
    async with unit_of_work(request) as db_session:
        chosen = await acting.choose(
            db_session=db_session,
            token=principal.token,
            kind=WEB_SESSION,
            actor=actor_of(request, principal),
            partner_account_id=account_id,
            language=page.language,
        )
    name = chosen.account.publisher_display_name if chosen else ""
    return redirect_with_notice(request, PARTNER, "partner.acting_for", name=name)


@router.post(RESEND)
async def resend_approval(request: Request, page: Page = Depends(signed_in_form())) -> Response:
    """The Owner sends the approver a new link (the old one stops working)."""
    principal = page.principal
    try:
        async with unit_of_work(request) as db_session:
            account = await accounts.get_for_tenant(
                db_session=db_session, tenant_id=principal.tenant.id
            )
            if account is None:
                raise PartnerAccountNotFound(page.language)
            await lifecycle.resend_approval(
                db_session=db_session,
                account_id=account.id,
                actor=actor_of(request, principal),
                base_url=settings_of(request).base_url,
                language=page.language,
            )
            approver = account.approver_name
    except NotGlobalAdministrator:
        return await not_global_administrator(request, principal)
    except PartnerAccountNotFound:
        raise
    except TenantryError as error:
        return await overview(
            request,
            principal,
            status_code=error.status_code,
            error=field_error(page.language, error, "state"),
        )
    return redirect_with_notice(request, PARTNER, "partner.resent", approver=approver)


# --- changing the name and the contact -----------------------------------------------------------


async def _edit_page(
    request: Request,
    principal: Principal,
    values: dict[str, str] | None = None,
    *,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    account = await _visible_account(request, principal)
    if account is None:
        raise PartnerAccountNotFound(language_of(request))
    async with read_unit_of_work(request) as db_session:
        owner = await accounts.is_global_administrator(
            db_session=db_session, tenant=principal.tenant, user_id=principal.user.id
        )
    if not owner:
        return await not_global_administrator(request, principal)
    if values is None:
        values = {
            "publisher_name": account.publisher_display_name,
            "contact_name": account.contact_name,
            "contact_email": account.contact_email,
            "contact_phone": account.contact_phone,
        }
    return render_partner(
        request,
        "partner/edit.html",
        principal=principal,
        section="overview",
        status_code=status_code,
        account=account_view(language_of(request), account),
        form=values,
        errors=errors or {},
    )


@router.get(EDIT)
async def edit_page(request: Request, page: Page = Depends(signed_in_page())) -> Response:
    """The publisher name and the contact, to change (the country and type never change)."""
    return await _edit_page(request, page.principal)


@router.post(EDIT)
async def edit(request: Request, page: Page = Depends(signed_in_form())) -> Response:
    """Change them as `PATCH /v1/partnerAccounts/{id}` does: the rules of enrollment."""
    principal, language = page.principal, page.language
    values = {field: text(page.form, field)[:MAX_INPUT] for field in EDIT_FIELDS}
    errors: Errors = {}
    caught(
        errors,
        language,
        "publisher_name",
        accounts.check_publisher_name,
        values["publisher_name"],
        language=language,
    )
    check_person_fields(errors, values, "contact", language)
    if errors:
        return await _edit_page(request, principal, values, errors=errors, status_code=400)
    account = await _visible_account(request, principal)
    if account is None:
        raise PartnerAccountNotFound(language)
    contact = accounts.Person(
        values["contact_name"], values["contact_email"], values["contact_phone"]
    )
    kept = accounts.Person(account.contact_name, account.contact_email, account.contact_phone)
    try:
        # Only what changed is sent, so that saving an untouched form records no change
        # (the service still checks who saves it).
        await flows.update(
            request.app.state.database,
            account_id=account.id,
            actor=actor_of(request, principal),
            language=language,
            publisher_display_name=(
                None
                if values["publisher_name"] == account.publisher_display_name
                else values["publisher_name"]
            ),
            contact=None if contact == kept else contact,
            country_or_region=None,
            account_type=None,
        )
    except NotGlobalAdministrator:
        return await not_global_administrator(request, principal)
    except PartnerAccountNotFound:
        raise
    except TenantryError as error:
        field = FIELD_OF_TARGET.get(error.target or "", "publisher_name")
        return await _edit_page(
            request,
            principal,
            values,
            errors={field: field_error(language, error, field)},
            status_code=error.status_code,
        )
    return redirect_with_notice(request, PARTNER, "partner.updated")
