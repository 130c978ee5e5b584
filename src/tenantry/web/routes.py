"""Web pages: sign-up, code entry, sign-in, home, password change, language, the dev mailbox.

The pages call the same services as the API and open the same unit of work
(`dependencies.get_db`: one commit, the outbox worker woken), but outside the
handler's dependencies, so that a refused form can be shown again with its
message after the transaction has been rolled back (or kept, for errors that
count an attempt).
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from tenantry.auth import service as auth_service
from tenantry.auth.limits import limit_password_changes, limit_sign_ins
from tenantry.catalog import Catalog
from tenantry.core.config import Settings
from tenantry.core.errors import NotFound, TenantryError
from tenantry.core.i18n import LANGUAGES, format_date, translate
from tenantry.core.mail import mailbox
from tenantry.dependencies import (
    SESSION_COOKIE,
    Principal,
    actor_of,
    client_address,
    get_db,
    get_read_db,
    parse_id,
    web_principal,
    web_signed_in_principal,
)
from tenantry.directory import flows as directory_flows
from tenantry.directory import service as directory_service
from tenantry.directory.constants import Role
from tenantry.domains import names
from tenantry.domains import service as domain_service
from tenantry.licensing import service as licensing_service
from tenantry.licensing.schemas import limit_label, limit_text
from tenantry.signup import flows
from tenantry.signup import service as signup_service
from tenantry.signup.exceptions import SignupAlreadyCompleted, SignupNotFound
from tenantry.signup.limits import limit_signups
from tenantry.signup.models import Signup
from tenantry.tenants.models import MANAGED
from tenantry.web import csrf
from tenantry.web.rendering import (
    CHANGE_PASSWORD,
    LANG_COOKIE,
    WebRoute,
    error_text,
    language_of,
    local_path,
    render,
    settings_of,
)
from tenantry.web.shell import redirect_with_notice, render_with_notice, sign_in_first

router = APIRouter(include_in_schema=False, route_class=WebRoute)

# The API's units of work, used as context managers inside the page handlers.
unit_of_work = asynccontextmanager(get_db)
read_unit_of_work = asynccontextmanager(get_read_db)

LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
MAX_DISPLAY_NAME = 256


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def text(form: FormData, name: str, *, strip: bool = True) -> str:
    """A text field of a posted form, stripped unless `strip` is False ("" when absent)."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value.strip() if strip else value


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token has been checked (403 page otherwise)."""
    form = await request.form()
    csrf.verify(request, form, settings_of(request), session_cookie=SESSION_COOKIE)
    return form


def _start_session(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )


# --- language ---------------------------------------------------------------------------


@router.get("/lang/{code}")
async def switch_language(
    code: str, request: Request, next_path: str = Query("/", alias="next")
) -> Response:
    """Remember the chosen language in the `lang` cookie and go back to the page."""
    response = _see_other(local_path(next_path))
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=LANG_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=settings_of(request).cookie_secure,
            path="/",
        )
    return response


# --- home -------------------------------------------------------------------------------


@router.get("/")
async def home(request: Request, principal: Principal | None = Depends(web_principal)) -> Response:
    """The signed-in person and their organization; a welcome page for everyone else."""
    if principal is None:
        return render(request, "welcome.html")
    catalog: Catalog = request.app.state.catalog
    language = language_of(request)
    async with read_unit_of_work(request) as db_session:
        entitlements = await licensing_service.entitlements_of(
            db_session=db_session, catalog=catalog, user_id=principal.user.id, with_changes=True
        )
        domains = await domain_service.get_all(db_session=db_session, tenant_id=principal.tenant.id)
        roles = await directory_service.roles_of(
            db_session=db_session, tenant_id=principal.tenant.id, user_id=principal.user.id
        )

    coming = {change.name: change for change in entitlements.changes}
    limits = [
        {
            "name": name,
            "label": limit_label(language, name),
            "value": limit_text(language, value),
            "change": translate(
                language,
                "web.home.entitlement_change",
                value=limit_text(language, coming[name].value),
                date=format_date(language, coming[name].effective_at),
            )
            if name in coming
            else None,
        }
        for name, value in entitlements.limits.items()
    ]
    offers = [
        offer.display_name
        for offer in (catalog.offer(part) for part in entitlements.sources)
        if offer is not None
    ]
    return render_with_notice(
        request,
        "home.html",
        principal=principal,
        limits=limits,
        offers=offers,
        domains=[
            {"name": names.display(d.name), "initial": d.is_initial, "verified": d.is_verified}
            for d in sorted(domains, key=lambda d: d.is_initial)  # its own domain first
        ],
        managed=principal.tenant.state == MANAGED,
        is_admin=Role.GLOBAL_ADMINISTRATOR.value in roles,
    )


# --- sign-up ----------------------------------------------------------------------------


@router.get("/signup")
async def signup_page(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """The sign-up form: a work email and a name."""
    return render(request, "signup.html", principal=principal)


@router.post("/signup")
async def start_signup(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Check the address and email it a code, then ask for the code."""
    form = await checked_form(request)
    settings = settings_of(request)
    language = language_of(request)
    entered = {"email": text(form, "email"), "display_name": text(form, "display_name")}
    if not entered["display_name"] or len(entered["display_name"]) > MAX_DISPLAY_NAME:
        return render(
            request,
            "signup.html",
            principal=principal,
            status_code=400,
            error=translate(language, "web.form.display_name_invalid", max=MAX_DISPLAY_NAME),
            form=entered,
        )
    try:
        await limit_signups(request.app.state.database, settings, client_address(request))
        async with unit_of_work(request) as db_session:
            signup = await signup_service.start(
                db_session=db_session,
                settings=settings,
                catalog=request.app.state.catalog,
                actor=actor_of(request, None),
                email=entered["email"],
                display_name=entered["display_name"],
                offer=None,
                language=language,
            )
    except TenantryError as error:
        domain = entered["email"].rpartition("@")[2].lower()
        return render(
            request,
            "signup.html",
            principal=principal,
            status_code=error.status_code,
            error=error_text(language, error, domain=domain),
            form=entered,
        )
    return _see_other(f"/signup/{signup.id}")


async def _pending_signup(request: Request, signup_id: uuid.UUID) -> Signup:
    async with read_unit_of_work(request) as db_session:
        signup = await db_session.get(Signup, signup_id)
    if signup is None:
        raise SignupNotFound()
    if signup.status != signup_service.PENDING:
        raise SignupAlreadyCompleted()
    return signup


async def _code_page(
    request: Request,
    principal: Principal | None,
    signup_id: uuid.UUID,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    signup = await _pending_signup(request, signup_id)
    return render(
        request,
        "verify.html",
        principal=principal,
        status_code=status_code,
        signup=signup,
        minutes=settings_of(request).signup_code_ttl_seconds // 60,
        **context,
    )


@router.get("/signup/{signup_id}")
async def code_page(
    signup_id: str,
    request: Request,
    resent: bool = False,
    principal: Principal | None = Depends(web_principal),
) -> Response:
    """Where the person enters the emailed code and chooses a password."""
    notice = translate(language_of(request), "web.verify.resent") if resent else None
    return await _code_page(request, principal, parse_id(signup_id, what="sign-up"), notice=notice)


@router.post("/signup/{signup_id}")
async def complete_signup(
    signup_id: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Accept the code and the password: the person lands in their tenant, signed in."""
    signup_uuid = parse_id(signup_id, what="sign-up")
    form = await checked_form(request)
    settings = settings_of(request)
    language = language_of(request)
    code = text(form, "code")
    password = text(form, "password", strip=False)
    actor = actor_of(request, None)
    signup: Signup | None = None
    try:
        signup = await _pending_signup(request, signup_uuid)
        flows.check_password_strength(password, email=signup.email)
        password_hash = await flows.hash_if_code_matches(settings, signup, code, password)

        async def start_session(
            db_session: AsyncSession, result: flows.SignupResult
        ) -> auth_service.IssuedToken | None:
            if not result.created:
                return None
            return await auth_service.issue(
                db_session=db_session,
                user=result.user,
                kind="web",
                ttl_seconds=settings.session_ttl_seconds,
                actor=actor,
            )

        result, issued = await flows.complete(
            database=request.app.state.database,
            settings=settings,
            catalog=request.app.state.catalog,
            actor=actor,
            signup_id=signup_uuid,
            code=code,
            password_hash=password_hash,
            then=start_session,
        )
    except (SignupNotFound, SignupAlreadyCompleted):
        raise
    except TenantryError as error:
        return await _code_page(
            request,
            principal,
            signup_uuid,
            status_code=error.status_code,
            error=error_text(language, error, domain=signup.domain if signup else ""),
            form={"code": code},
        )
    if issued is None:
        # An existing account got the offer; the code proves the address, not the
        # password typed here, so the person signs in with their own password.
        query = urlencode({"existing": 1, "email": result.user.user_principal_name})
        return _see_other(f"/signin?{query}")
    response = _see_other("/")
    _start_session(response, settings, issued.token)
    return response


@router.post("/signup/{signup_id}/resend")
async def resend_code(
    signup_id: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Email a new code (throttled like the API)."""
    signup_uuid = parse_id(signup_id, what="sign-up")
    await checked_form(request)
    try:
        async with unit_of_work(request) as db_session:
            await signup_service.resend(
                db_session=db_session,
                settings=settings_of(request),
                actor=actor_of(request, None),
                signup_id=signup_uuid,
            )
    except (SignupNotFound, SignupAlreadyCompleted):
        raise
    except TenantryError as error:
        return await _code_page(
            request,
            principal,
            signup_uuid,
            status_code=error.status_code,
            error=error_text(language_of(request), error),
        )
    return _see_other(f"/signup/{signup_uuid}?resent=1")


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
        return _see_other(local_path(next_path))
    notice = translate(language_of(request), "web.signin.existing") if existing else None
    return render(
        request,
        "signin.html",
        notice=notice,
        form={"email": email[:320]},
        next_path=local_path(next_path),
    )


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    """Check the address and password, then open a web session."""
    form = await checked_form(request)
    settings = settings_of(request)
    email = text(form, "email")
    next_path = local_path(text(form, "next"))
    actor = actor_of(request, None)
    previous = request.cookies.get(SESSION_COOKIE)
    try:
        await limit_sign_ins(request.app.state.database, settings, client_address(request))
        async with unit_of_work(request) as db_session:
            user = await auth_service.sign_in(
                database=request.app.state.database,
                db_session=db_session,
                settings=settings,
                actor=actor,
                username=email,
                password=text(form, "password", strip=False),
            )
            if previous:
                await auth_service.revoke(
                    db_session=db_session, token=previous, kind="web", actor=actor
                )
            issued = await auth_service.issue(
                db_session=db_session,
                user=user,
                kind="web",
                ttl_seconds=settings.session_ttl_seconds,
                actor=actor,
            )
            must_change_password = user.must_change_password
    except TenantryError as error:
        return render(
            request,
            "signin.html",
            status_code=error.status_code,
            error=error_text(language_of(request), error),
            form={"email": email},
            next_path=next_path,
        )
    if must_change_password:  # a temporary password: the person chooses their own first
        next_path = f"{CHANGE_PASSWORD}?{urlencode({'next': next_path})}"
    response = _see_other(next_path)
    _start_session(response, settings, issued.token)
    return response


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    """End the web session."""
    await checked_form(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with unit_of_work(request) as db_session:
            await auth_service.revoke(
                db_session=db_session, token=token, kind="web", actor=actor_of(request, None)
            )
    response = _see_other("/")
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings_of(request).cookie_secure,
    )
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
        "password.html",
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
    principal: Principal | None = Depends(web_signed_in_principal),
) -> Response:
    """Choose a new password: required after an admin reset it, open to anyone signed in."""
    if principal is None:
        return sign_in_first(request)
    return _password_page(request, principal, next_path=local_path(next_path))


@router.post(CHANGE_PASSWORD)
async def change_password(
    request: Request, principal: Principal | None = Depends(web_signed_in_principal)
) -> Response:
    """Check the current password and the new one typed twice, as `POST /v1/me/changePassword`
    does (and throttled alike); then on to where the person was going."""
    form = await checked_form(request)
    if principal is None:
        return sign_in_first(request)
    language = language_of(request)
    next_path = local_path(text(form, "next"))
    current = text(form, "current_password", strip=False)
    new = text(form, "new_password", strip=False)
    problem = None
    if new != text(form, "confirm_password", strip=False):
        problem = "web.password.mismatch"
    elif new and new == current:
        problem = "web.password.same"
    if problem is not None:
        return _password_page(
            request,
            principal,
            next_path=next_path,
            status_code=400,
            error=translate(language, problem),
        )
    try:
        await limit_password_changes(
            request.app.state.database,
            settings_of(request),
            client_address(request),
            principal.user.id,
        )
        password_hash = await directory_flows.hash_new_password(
            user=principal.user, current_password=current, new_password=new
        )
        async with unit_of_work(request) as db_session:
            await directory_service.change_password(
                db_session=db_session,
                actor=actor_of(request, principal),
                tenant_id=principal.tenant.id,
                user_id=principal.user.id,
                password_hash=password_hash,
                keep_token=principal.token,
                replacing=principal.user.password_hash,
            )
    except TenantryError as error:
        return _password_page(
            request,
            principal,
            next_path=next_path,
            status_code=error.status_code,
            error=error_text(language, error),
        )
    return redirect_with_notice(request, next_path, "web.password.changed")


# --- development mailbox ----------------------------------------------------------------


@router.get("/dev/mailbox")
async def dev_mailbox(
    request: Request,
    to: str = "",
    principal: Principal | None = Depends(web_principal),
) -> Response:
    """The emails Tenantry sent, newest first (only when the development mailbox is on)."""
    if not settings_of(request).dev_mailbox_enabled:
        raise NotFound("The resource does not exist.")
    recipient = to.strip()[:320]
    messages = await mailbox(request.app.state.database, recipient=recipient or None, limit=100)
    return render(
        request, "mailbox.html", principal=principal, messages=messages, recipient=recipient
    )
