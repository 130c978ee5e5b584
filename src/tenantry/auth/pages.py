"""Signing in and out of the web pages, and changing one's own password.

Sign-in counts towards the smart lockout and the `signin:` rate limit as the
API's does; a temporary password (set by an admin) sends the person to choose
their own first, and every other page sends them here until they have
(`web.rendering.change_password_first`).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from tenantry.auth import passwords as auth_passwords
from tenantry.auth import service as auth_service
from tenantry.auth import tenancy
from tenantry.auth.limits import limit_password_changes, limit_sign_ins
from tenantry.core.audit import Actor
from tenantry.core.errors import TenantryError
from tenantry.core.i18n import translate
from tenantry.dependencies import SESSION_COOKIE, Principal, actor_of, client_address, web_principal
from tenantry.directory import flows as directory_flows
from tenantry.partner import acting as partner_acting
from tenantry.web import session
from tenantry.web.dependencies import (
    Page,
    checked_form,
    signed_in_form,
    signed_in_page,
    text,
    unit_of_work,
)
from tenantry.web.rendering import (
    CHANGE_PASSWORD,
    SWITCH_TENANT,
    WebRoute,
    error_page,
    error_text,
    language_of,
    local_path,
    render,
    settings_of,
)
from tenantry.web.shell import redirect_with_notice, see_other

router = APIRouter(include_in_schema=False, route_class=WebRoute)


# --- sign-in ----------------------------------------------------------------------------


@router.get("/signin")
async def signin_page(
    request: Request,
    email: str = "",
    existing: bool = False,
    next_path: str = Query("/", alias="next"),
    principal: Principal | None = Depends(web_principal),
) -> Response:
    """The sign-in form."""
    if principal is not None:
        return see_other(local_path(next_path))
    notice = translate(language_of(request), "web.signin.existing") if existing else None
    return render(
        request,
        "auth/signin.html",
        notice=notice,
        form={"email": email[:320]},
        next_path=local_path(next_path),
    )


@router.post("/signin")
async def sign_in(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Check the address and password, then open a web session."""
    settings = settings_of(request)
    email = text(form, "email")
    next_path = local_path(text(form, "next"))
    actor = actor_of(request, None)
    previous = request.cookies.get(SESSION_COOKIE)
    try:
        await limit_sign_ins(request.app.state.database, settings, client_address(request))
        async with unit_of_work(request) as db_session:
            person = await auth_service.sign_in(
                database=request.app.state.database,
                db_session=db_session,
                settings=settings,
                actor=actor,
                username=email,
                password=text(form, "password", strip=False),
            )
            # The organization the person last chose to act in, while they still may.
            acting = await tenancy.choose(db_session=db_session, person=person, remembered=True)
            if previous:
                await auth_service.revoke(
                    db_session=db_session, token=previous, kind="web", actor=actor
                )
            issued = await auth_service.issue(
                db_session=db_session,
                user=acting.user,
                kind="web",
                ttl_seconds=settings.session_ttl_seconds,
                actor=actor,
                # The only partner account the person belongs to, if one (the partner
                # pages let them choose another: `partner.acting.choose`).
                partner_account_id=await partner_acting.for_sign_in(
                    db_session=db_session,
                    tenant_id=acting.user.tenant_id,
                    user_id=acting.user.id,
                    requested=None,
                    language=language_of(request),
                ),
            )
            must_change_password = person.must_change_password
    except TenantryError as error:
        return render(
            request,
            "auth/signin.html",
            status_code=error.status_code,
            error=error_text(language_of(request), error),
            form={"email": email},
            next_path=next_path,
        )
    if must_change_password:  # a temporary password: the person chooses their own first
        next_path = f"{CHANGE_PASSWORD}?{urlencode({'next': next_path})}"
    response = see_other(next_path)
    session.start(response, settings, issued.token)
    return response


@router.post(SWITCH_TENANT)
async def switch_tenant(request: Request, page: Page = Depends(signed_in_form())) -> Response:
    """Act in another organization the person belongs to (the header's switcher): the
    session is replaced by one in that organization, and the choice kept for next time."""
    settings = settings_of(request)
    next_path = local_path(text(page.form, "next"))
    actor = actor_of(request, page.principal)
    try:
        tenant_id = uuid.UUID(text(page.form, "tenant"))
    except ValueError:
        tenant_id = None
    try:
        async with unit_of_work(request) as db_session:
            if tenant_id is None:
                raise tenancy.NoTenantAccess()
            access = await tenancy.switch(
                db_session=db_session, user=page.principal.user, tenant_id=tenant_id
            )
            if access.tenant.id == page.principal.tenant.id:
                return see_other(next_path)
            await auth_service.revoke(
                db_session=db_session, token=page.principal.token, kind="web", actor=actor
            )
            issued = await auth_service.issue(
                db_session=db_session,
                user=access.user,
                kind="web",
                ttl_seconds=settings.session_ttl_seconds,
                actor=actor,
            )
    except TenantryError as error:
        return await error_page(request, error)
    # The page asked for may be another organization's object: start from its home.
    response = redirect_with_notice(
        request,
        "/" if next_path.startswith("/admin/") else next_path,
        "web.switch.done",
        organization=access.tenant.display_name,
    )
    session.start(response, settings, issued.token)
    return response


@router.post("/signout", dependencies=[Depends(checked_form)])
async def sign_out(request: Request) -> Response:
    """End the web session."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with unit_of_work(request) as db_session:
            await auth_service.revoke(
                db_session=db_session, token=token, kind="web", actor=actor_of(request, None)
            )
    response = see_other("/")
    session.end(response, settings_of(request))
    return response


# --- password ---------------------------------------------------------------------------


def _password_page(
    request: Request,
    principal: Principal,
    *,
    next_path: str,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    return render(
        request,
        "auth/password.html",
        principal=principal,
        status_code=status_code,
        error=error,
        next_path=next_path,
        required=principal.user.must_change_password,
    )


@router.get(CHANGE_PASSWORD)
async def password_page(
    request: Request,
    next_path: str = Query("/", alias="next"),
    page: Page = Depends(signed_in_page(temporary_password=True)),
) -> Response:
    """Choose a new password: required after an admin reset it, open to anyone signed in."""
    return _password_page(request, page.principal, next_path=local_path(next_path))


@router.post(CHANGE_PASSWORD)
async def change_password(
    request: Request, page: Page = Depends(signed_in_form(temporary_password=True))
) -> Response:
    """Check the current password and the new one typed twice, as `POST /v1/me/changePassword`
    does (and throttled alike); then on to where the person was going."""
    language = page.language
    next_path = local_path(text(page.form, "next"))
    current = text(page.form, "current_password", strip=False)
    new = text(page.form, "new_password", strip=False)
    problem = None
    if new != text(page.form, "confirm_password", strip=False):
        problem = "web.password.mismatch"
    elif new and new == current:
        problem = "web.password.same"
    if problem is not None:
        return _password_page(
            request,
            page.principal,
            next_path=next_path,
            status_code=400,
            error=translate(language, problem),
        )
    try:
        # A guest acting here changes the password of the account it signs in as.
        person = await tenancy.signed_in_person(
            database=request.app.state.database, user=page.principal.user
        )
        await limit_password_changes(
            request.app.state.database, settings_of(request), client_address(request), person.id
        )
        password_hash = await directory_flows.hash_new_password(
            user=person, current_password=current, new_password=new
        )
        async with unit_of_work(request) as db_session:
            await auth_passwords.change_password(
                db_session=db_session,
                actor=Actor(person.id, person.tenant_id, client_address(request)),
                tenant_id=person.tenant_id,
                user_id=person.id,
                password_hash=password_hash,
                keep_token=page.principal.token,
                replacing=person.password_hash,
            )
    except TenantryError as error:
        return _password_page(
            request,
            page.principal,
            next_path=next_path,
            status_code=error.status_code,
            error=error_text(language, error),
        )
    return redirect_with_notice(request, next_path, "web.password.changed")
