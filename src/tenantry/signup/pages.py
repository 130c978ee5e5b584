"""The sign-up pages: a work email and a name, then the emailed code and a password.

They call `signup.service` and `signup.flows` as `/v1/signups` does, throttled
alike (`signup:` and `verify:` buckets per client address). A refused address
or code shows the form again with the translated reason and the input kept.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from tenantry.auth import service as auth_service
from tenantry.core.errors import TenantryError
from tenantry.core.i18n import translate
from tenantry.dependencies import Principal, actor_of, client_address, parse_id, web_principal
from tenantry.signup import flows
from tenantry.signup import service as signup_service
from tenantry.signup.exceptions import SignupAlreadyCompleted, SignupNotFound
from tenantry.signup.limits import limit_signups
from tenantry.signup.models import Signup
from tenantry.web import session
from tenantry.web.dependencies import checked_form, read_unit_of_work, text, unit_of_work
from tenantry.web.rendering import WebRoute, error_text, language_of, render, settings_of
from tenantry.web.shell import see_other

router = APIRouter(include_in_schema=False, route_class=WebRoute)

MAX_DISPLAY_NAME = 256


@router.get("/signup")
async def signup_page(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """The sign-up form: a work email and a name."""
    return render(request, "signup/signup.html", principal=principal)


@router.post("/signup")
async def start_signup(
    request: Request,
    principal: Principal | None = Depends(web_principal),
    form: FormData = Depends(checked_form),
) -> Response:
    """Check the address and email it a code, then ask for the code."""
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


async def _signup_id(signup_id: str) -> uuid.UUID:
    """The sign-up the path names (a path that is no id names none: 404)."""
    return parse_id(signup_id, what="sign-up")


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
    return await _code_page(request, principal, await _signup_id(signup_id), notice=notice)


@router.post("/signup/{signup_id}")
async def complete_signup(
    request: Request,
    principal: Principal | None = Depends(web_principal),
    signup_uuid: uuid.UUID = Depends(_signup_id),
    form: FormData = Depends(checked_form),
) -> Response:
    """Accept the code and the password: the person lands in their tenant, signed in."""
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
    request: Request,
    principal: Principal | None = Depends(web_principal),
    signup_uuid: uuid.UUID = Depends(_signup_id),
    form: FormData = Depends(checked_form),  # only its CSRF token counts
) -> Response:
    """Email a new code (throttled like the API)."""
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
