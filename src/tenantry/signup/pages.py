"""Web pages: sign-up, code entry, sign-in, home, password change, language, the dev mailbox.

The pages call the same services as the API and open the same unit of work
(`dependencies.get_db`: one commit, the outbox worker woken), but outside the
handler's dependencies, so that a refused form can be shown again with its
message after the transaction has been rolled back (or kept, for errors that
count an attempt).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.auth import service as auth_service
from tenantry.core.errors import NotFound, TenantryError
from tenantry.core.i18n import LANGUAGES, translate
from tenantry.core.mail import mailbox
from tenantry.dependencies import (
    Principal,
    actor_of,
    client_address,
    parse_id,
    web_principal,
)
from tenantry.signup import flows
from tenantry.signup import service as signup_service
from tenantry.signup.exceptions import SignupAlreadyCompleted, SignupNotFound
from tenantry.signup.limits import limit_signups
from tenantry.signup.models import Signup
from tenantry.web import session
from tenantry.web.dependencies import (
    checked_form,
    read_unit_of_work,
    text,
    unit_of_work,
)
from tenantry.web.rendering import (
    LANG_COOKIE,
    WebRoute,
    error_text,
    language_of,
    local_path,
    render,
    settings_of,
)
from tenantry.web.shell import see_other

router = APIRouter(include_in_schema=False, route_class=WebRoute)

LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
MAX_DISPLAY_NAME = 256


# --- language ---------------------------------------------------------------------------


@router.get("/lang/{code}")
async def switch_language(
    code: str, request: Request, next_path: str = Query("/", alias="next")
) -> Response:
    """Remember the chosen language in the `lang` cookie and go back to the page."""
    response = see_other(local_path(next_path))
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


# --- sign-up ----------------------------------------------------------------------------


@router.get("/signup")
async def signup_page(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """The sign-up form: a work email and a name."""
    return render(request, "signup/signup.html", principal=principal)


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
            "signup/signup.html",
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
            "signup/signup.html",
            principal=principal,
            status_code=error.status_code,
            error=error_text(language, error, domain=domain),
            form=entered,
        )
    return see_other(f"/signup/{signup.id}")


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
        "signup/verify.html",
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
        return see_other(f"/signin?{query}")
    response = see_other("/")
    session.start(response, settings, issued.token)
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
    return see_other(f"/signup/{signup_uuid}?resent=1")


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
