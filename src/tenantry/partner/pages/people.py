"""The partner account page's forms for Owners and Managers: add several members at once
with one role, change a member's roles, remove a member, invite up to ten guests at once
with one role, and send a pending invitation again.

Each form posts to the account it was shown for and goes through the services the API
uses (`partner.members`, `partner.invites`), which check who may do it (404 for someone who
is not a member, 403 for a member who is not an Owner or Manager). A refusal shows beside
its form in the page's language, and nothing of the form is done (one unit of work).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError

from tenantry.core.errors import TenantryError
from tenantry.dependencies import actor_of
from tenantry.partner import invites, members
from tenantry.partner.exceptions import PartnerAccountNotFound
from tenantry.partner.pages.account import overview
from tenantry.partner.pages.common import MAX_INPUT, PARTNER, account_uuid
from tenantry.web.dependencies import Page, signed_in_form, text, unit_of_work
from tenantry.web.rendering import WebRoute, error_text, settings_of
from tenantry.web.shell import redirect_with_notice

router = APIRouter(include_in_schema=False, route_class=WebRoute)

ACCOUNT = PARTNER + "/accounts/{partner_account_id}"
MAX_LINES = 1000  # the members service refuses more than it takes in words
_SEPARATOR = re.compile(r"[\s,;]+")


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()][: MAX_LINES + 1]


def _addresses(value: str) -> list[str]:
    """Addresses one per line (commas and spaces separate them too)."""
    return [part for line in _lines(value) for part in _SEPARATOR.split(line) if part]


def _guests(value: str) -> list[invites.Guest]:
    """One guest a line: the address, then the name if any ("lee@example.org Lee Wong")."""
    found = []
    for line in _lines(value):
        address, _, name = line.replace(",", " ", 1).replace(";", " ", 1).partition(" ")
        found.append(invites.Guest(address=address, name=name.strip() or None))
    return found


async def _refused(
    request: Request,
    page: Page,
    account_id: uuid.UUID,
    form: str,
    error: TenantryError,
    values: dict[str, str] | None = None,
) -> Response:
    """The account page again, the refusal beside `form`, what was typed kept."""
    if isinstance(error, PartnerAccountNotFound):
        raise error
    return await overview(
        request,
        page.principal,
        account_id=account_id,
        status_code=error.status_code,
        form_errors={form: error_text(page.language, error)},
        form_values=values or {},
    )


def _back(request: Request, account_id: uuid.UUID, key: str, **params: Any) -> Response:
    return redirect_with_notice(request, f"{PARTNER}/accounts/{account_id}", key, **params)


@router.post(ACCOUNT + "/members")
async def add_members(
    partner_account_id: str, request: Request, page: Page = Depends(signed_in_form())
) -> Response:
    """Add users of the linked tenants, by address, all with one role."""
    account = account_uuid(partner_account_id, page.language)
    values = {
        "addresses": text(page.form, "addresses")[: MAX_INPUT * 20],
        "role": text(page.form, "role"),
    }
    try:
        async with unit_of_work(request) as db_session:
            added = await members.add(
                db_session=db_session,
                catalog=request.app.state.catalog,
                account_id=account,
                actor=actor_of(request, page.principal),
                language=page.language,
                roles=[values["role"]],
                user_keys=_addresses(values["addresses"]),
            )
    except TenantryError as error:
        return await _refused(request, page, account, "add", error, values)
    return _back(request, account, "partner.members_added", count=len(added.members))


@router.post(ACCOUNT + "/members/{member_id}/roles")
async def change_roles(
    partner_account_id: str,
    member_id: str,
    request: Request,
    page: Page = Depends(signed_in_form()),
) -> Response:
    """Replace a member's roles with those ticked."""
    account = account_uuid(partner_account_id, page.language)
    roles = [value for value in page.form.getlist("role") if isinstance(value, str)]
    try:
        async with unit_of_work(request) as db_session:
            await members.set_roles(
                db_session=db_session,
                account_id=account,
                key=member_id[:MAX_INPUT],
                roles=roles,
                actor=actor_of(request, page.principal),
                language=page.language,
            )
    except TenantryError as error:
        return await _refused(request, page, account, f"member:{member_id}", error)
    return _back(request, account, "partner.roles_changed")


@router.post(ACCOUNT + "/members/{member_id}/remove")
async def remove_member(
    partner_account_id: str,
    member_id: str,
    request: Request,
    page: Page = Depends(signed_in_form()),
) -> Response:
    """Take a member out of the account (their organization's account stays)."""
    account = account_uuid(partner_account_id, page.language)
    try:
        async with unit_of_work(request) as db_session:
            await members.remove(
                db_session=db_session,
                account_id=account,
                key=member_id[:MAX_INPUT],
                actor=actor_of(request, page.principal),
                language=page.language,
            )
    except TenantryError as error:
        return await _refused(request, page, account, f"member:{member_id}", error)
    return _back(request, account, "partner.member_removed")


@router.post(ACCOUNT + "/invitations")
async def invite_guests(
    partner_account_id: str, request: Request, page: Page = Depends(signed_in_form())
) -> Response:
    """Invite guests to the caller's organization and add them with one role, all or none."""
    account = account_uuid(partner_account_id, page.language)
    principal = page.principal
    values = {
        "guests": text(page.form, "guests")[: MAX_INPUT * 20],
        "role": text(page.form, "role"),
    }
    try:
        async for attempt in request.app.state.database.attempts(retry_on=IntegrityError):
            async with attempt as db_session:
                invited = await invites.invite(
                    db_session=db_session,
                    catalog=request.app.state.catalog,
                    base_url=settings_of(request).base_url,
                    account_id=account,
                    actor=actor_of(request, principal),
                    tenant=principal.tenant,
                    inviter=principal.user,
                    guests=_guests(values["guests"]),
                    role=values["role"],
                    language=page.language,
                )
    except TenantryError as error:
        return await _refused(request, page, account, "invite", error, values)
    return _back(request, account, "partner.guests_invited", count=len(invited))


@router.post(ACCOUNT + "/invitations/{user_id}/resend")
async def resend_invitation(
    partner_account_id: str, user_id: str, request: Request, page: Page = Depends(signed_in_form())
) -> Response:
    """Email a pending guest's invitation again, with a new link."""
    account = account_uuid(partner_account_id, page.language)
    principal = page.principal
    try:
        guest_id = uuid.UUID(user_id)
    except ValueError:
        guest_id = uuid.UUID(int=0)  # names nobody: refused as not found below
    try:
        async with unit_of_work(request) as db_session:
            result = await invites.resend(
                db_session=db_session,
                base_url=settings_of(request).base_url,
                account_id=account,
                actor=actor_of(request, principal),
                tenant=principal.tenant,
                inviter=principal.user,
                user_id=guest_id,
                language=page.language,
            )
    except TenantryError as error:
        return await _refused(request, page, account, f"invitation:{user_id}", error)
    return _back(request, account, "partner.invitation_resent", email=result.guest.mail or "")
