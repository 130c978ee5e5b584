"""The web session cookie: set when someone signs in or completes a sign-up, deleted on sign-out.

It carries a `web` token (`auth.service.issue`; only its digest is stored):
HttpOnly, SameSite=Lax, Secure behind HTTPS (`TENANTRY_COOKIE_SECURE`), and it
lasts as long as the session (`TENANTRY_SESSION_TTL_SECONDS`).
"""

from __future__ import annotations

from starlette.responses import Response

from tenantry.core.config import Settings
from tenantry.dependencies import SESSION_COOKIE


def start(response: Response, settings: Settings, token: str) -> None:
    """Make the browser hold the new session's token."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )


def end(response: Response, settings: Settings) -> None:
    """Make the browser forget the session."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure
    )
