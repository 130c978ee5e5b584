"""The pages that belong to no domain: the language switch and the development mailbox."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tenantry.core.errors import NotFound
from tenantry.core.i18n import LANGUAGES
from tenantry.core.mail import mailbox
from tenantry.dependencies import Principal, web_principal
from tenantry.web.rendering import LANG_COOKIE, WebRoute, local_path, render, settings_of
from tenantry.web.shell import see_other

router = APIRouter(include_in_schema=False, route_class=WebRoute)

LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


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
