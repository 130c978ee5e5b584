"""The invitation's pages: the link a guest opens, and the proof of the invited address.

`/invitations/redeem/{token}` shows who invited the person where, then the one way on
that fits (`guests.redemption`): accept at once (signed in with the invited address),
sign in with it (it has an account), or get a code at it and choose a password (it has
none). A forwarded link opened while signed in as someone else asks for the same proof.
Once redeemed, the session is the guest's, acting in the inviting organization, and the
link shows the invitation accepted with the way on to `inviteRedirectUrl`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from tenantry.auth import service as auth_service
from tenantry.auth.limits import limit_sign_ins
from tenantry.core.audit import Actor
from tenantry.core.clock import clock
from tenantry.core.errors import TenantryError
from tenantry.core.i18n import translate
from tenantry.core.security import hash_password
from tenantry.dependencies import Principal, actor_of, client_address, web_principal
from tenantry.directory import guests as directory_guests
from tenantry.directory.models import User
from tenantry.guests import redemption
from tenantry.guests.exceptions import InvitationLinkExpired, InvitationLinkInvalid
from tenantry.signup.flows import check_password_strength
from tenantry.signup.limits import limit_signups
from tenantry.web import session
from tenantry.web.dependencies import (
    Page,
    checked_form,
    read_unit_of_work,
    signed_in_form,
    text,
    unit_of_work,
)
from tenantry.web.rendering import WebRoute, error_text, language_of, render, settings_of
from tenantry.web.shell import see_other

router = APIRouter(include_in_schema=False, route_class=WebRoute)

REDEEM = "/invitations/redeem/{token}"


def _path(token: str, step: str = "") -> str:
    return REDEEM.format(token=token) + (f"/{step}" if step else "")


def _mode(opened: redemption.Opened, holder: User | None, principal: Principal | None) -> str:
    """Which way on the page offers (see the module's docstring)."""
    if opened.completed:
        return "done"
    if holder is not None:
        signed_in_as_holder = principal is not None and holder.id == (
            directory_guests.person_id_of(principal.user)
        )
        return "accept" if signed_in_as_holder else "signin"
    invitation = opened.invitation
    if invitation.code_expires_at is not None and invitation.code_expires_at > clock.now():
        return "code_enter"
    return "code_send"


async def _show(
    request: Request,
    token: str,
    principal: Principal | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    async with read_unit_of_work(request) as db_session:
        opened = await redemption.open_link(db_session=db_session, token=token)
        holder = None
        if not opened.completed:
            holder = await redemption.credential(db_session=db_session, opened=opened)
    mode = _mode(opened, holder, principal)
    # Someone else's session on a forwarded link: say so, and ask for the invited address.
    other_account = (
        principal is not None
        and mode in ("signin", "code_send", "code_enter")
        and directory_guests.person_id_of(principal.user) != (holder.id if holder else None)
    )
    acting_here = principal is not None and principal.tenant.id == opened.tenant.id
    return render(
        request,
        "guests/redeem.html",
        principal=principal,
        status_code=status_code,
        mode=mode,
        token=token,
        invitation=opened.invitation,
        organization=opened.tenant.display_name,
        inviter=opened.inviter_name,
        other_account=other_account,
        acting_here=acting_here,
        minutes=settings_of(request).signup_code_ttl_seconds // 60,
        **context,
    )


async def _signed_in_as_guest(
    db_session: AsyncSession,
    request: Request,
    opened: redemption.Opened,
    actor: Actor,
    previous: Principal | None,
) -> auth_service.IssuedToken:
    """The person now acts in the inviting organization as their guest (the session they
    had, if any, ends); their next sign-in opens it too."""
    if previous is not None:
        await auth_service.revoke(
            db_session=db_session, token=previous.token, kind="web", actor=actor
        )
    await directory_guests.remember_choice(
        db_session=db_session,
        person_id=directory_guests.person_id_of(opened.guest),
        tenant_id=opened.tenant.id,
    )
    return await auth_service.issue(
        db_session=db_session,
        user=opened.guest,
        kind="web",
        ttl_seconds=settings_of(request).session_ttl_seconds,
        actor=actor,
    )


def _redeemed(request: Request, token: str, issued: auth_service.IssuedToken) -> Response:
    response = see_other(_path(token))
    session.start(response, settings_of(request), issued.token)
    return response


@router.get(REDEEM)
async def redeem_page(
    token: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """The invitation: who invites the person where, and how they accept it."""
    return await _show(request, token, principal)


@router.post(REDEEM + "/accept")
async def accept(token: str, request: Request, page: Page = Depends(signed_in_form())) -> Response:
    """Accept while signed in with the invited address."""
    actor = actor_of(request, page.principal)
    try:
        async with unit_of_work(request) as db_session:
            opened = await redemption.accept_as(
                db_session=db_session, actor=actor, token=token, person=page.principal.user
            )
            issued = await _signed_in_as_guest(db_session, request, opened, actor, page.principal)
    except (InvitationLinkInvalid, InvitationLinkExpired):
        raise
    except TenantryError as error:
        return await _show(
            request,
            token,
            page.principal,
            status_code=error.status_code,
            error=error_text(page.language, error),
        )
    return _redeemed(request, token, issued)


@router.post(REDEEM + "/signin")
async def sign_in_and_accept(
    token: str,
    request: Request,
    principal: Principal | None = Depends(web_principal),
    form: FormData = Depends(checked_form),
) -> Response:
    """Sign in with the invited address and its password, and accept (the lockout and the
    sign-in limit count as on the sign-in page)."""
    settings = settings_of(request)
    actor = actor_of(request, None)
    try:
        await limit_sign_ins(request.app.state.database, settings, client_address(request))
        async with read_unit_of_work(request) as db_session:
            invited = await redemption.open_link(db_session=db_session, token=token)
        async with unit_of_work(request) as db_session:
            person = await auth_service.sign_in(
                database=request.app.state.database,
                db_session=db_session,
                settings=settings,
                actor=actor,
                username=invited.invitation.email,
                password=text(form, "password", strip=False),
            )
            opened = await redemption.accept_as(
                db_session=db_session, actor=actor, token=token, person=person
            )
            issued = await _signed_in_as_guest(db_session, request, opened, actor, principal)
    except (InvitationLinkInvalid, InvitationLinkExpired):
        raise
    except TenantryError as error:
        return await _show(
            request,
            token,
            principal,
            status_code=error.status_code,
            error=error_text(language_of(request), error),
        )
    return _redeemed(request, token, issued)


@router.post(REDEEM + "/code")
async def send_code(
    token: str,
    request: Request,
    principal: Principal | None = Depends(web_principal),
    form: FormData = Depends(checked_form),  # only its CSRF token counts
) -> Response:
    """Email a code to the invited address (counted with sign-ups from the network)."""
    settings = settings_of(request)
    try:
        await limit_signups(request.app.state.database, settings, client_address(request))
        async with unit_of_work(request) as db_session:
            await redemption.send_code(
                db_session=db_session,
                settings=settings,
                actor=actor_of(request, None),
                token=token,
            )
    except (InvitationLinkInvalid, InvitationLinkExpired):
        raise
    except TenantryError as error:
        return await _show(
            request,
            token,
            principal,
            status_code=error.status_code,
            error=error_text(language_of(request), error),
        )
    return see_other(_path(token))


@router.post(REDEEM + "/verify")
async def verify_code(
    token: str,
    request: Request,
    principal: Principal | None = Depends(web_principal),
    form: FormData = Depends(checked_form),
) -> Response:
    """Accept with the emailed code and a new password typed twice: the guest then signs in
    with the invited address and that password."""
    settings = settings_of(request)
    language = language_of(request)
    code = text(form, "code")
    password = text(form, "password", strip=False)
    actor = actor_of(request, None)
    if password != text(form, "confirm_password", strip=False):
        return await _show(
            request,
            token,
            principal,
            status_code=400,
            error=translate(language, "web.password.mismatch"),
            form={"code": code},
        )
    try:
        async with read_unit_of_work(request) as db_session:
            opened = await redemption.open_link(db_session=db_session, token=token)
        check_password_strength(password, email=opened.invitation.email)
        # The slow hash only for the right code: a wrong one is counted, not hashed.
        password_hash = (
            await hash_password(password)
            if redemption.code_matches(settings, opened.invitation, code)
            else ""
        )
        async for attempt in request.app.state.database.attempts(retry_on=IntegrityError):
            async with attempt as db_session:
                opened = await redemption.accept_with_code(
                    db_session=db_session,
                    settings=settings,
                    actor=actor,
                    token=token,
                    code=code,
                    password_hash=password_hash,
                )
                issued = await _signed_in_as_guest(db_session, request, opened, actor, principal)
    except (InvitationLinkInvalid, InvitationLinkExpired):
        raise
    except TenantryError as error:
        return await _show(
            request,
            token,
            principal,
            status_code=error.status_code,
            error=error_text(language, error),
            form={"code": code},
        )
    return _redeemed(request, token, issued)
