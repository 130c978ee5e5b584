"""CSRF protection for the web forms: a signed double-submit token.

The browser holds a random nonce in the `csrf` cookie (HttpOnly, SameSite=Lax);
every form carries `HMAC(secret key, nonce + session cookie)` in a hidden field.
A POST is accepted only when the field matches what the server computes from the
cookies it received, compared in constant time. A page on another site can make
the browser send the cookies, but cannot read them or the token; signing with the
server's key and the session means a cookie planted from a sibling domain is not
enough either. The API takes no cookies (bearer tokens only), so it needs none of this.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from tenantry.core.config import Settings
from tenantry.core.errors import Forbidden
from tenantry.core.security import new_token

COOKIE = "csrf"
FIELD = "csrf_token"
# Session cookies are short-lived; the nonce outlives them so an open tab keeps working.
COOKIE_MAX_AGE = 30 * 24 * 3600
_NONCE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


class CsrfRejected(Forbidden):
    code = "csrfTokenInvalid"

    def __init__(self) -> None:
        super().__init__(
            "This form has expired or did not come from this site. Reload the page and try again."
        )


def _nonce(request: Request) -> str | None:
    cached: str | None = getattr(request.state, "csrf_nonce", None)
    if cached:
        return cached
    value = request.cookies.get(COOKIE, "")
    return value if _NONCE.match(value) else None


def _sign(secret: bytes, nonce: str, session: str) -> str:
    message = f"csrf:{nonce}:{session}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def token(request: Request, settings: Settings, *, session_cookie: str) -> str:
    """The hidden-field value for forms on this page (a new nonce is made when none is held)."""
    nonce = _nonce(request)
    if nonce is None:
        nonce = new_token()
        request.state.csrf_nonce = nonce
        request.state.csrf_new = True
    return _sign(settings.signing_secret, nonce, request.cookies.get(session_cookie, ""))


def set_cookie(request: Request, response: Response, settings: Settings) -> None:
    """Send the nonce cookie when `token` had to make a new one."""
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(
            COOKIE,
            request.state.csrf_nonce,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
            path="/",
        )


def verify(request: Request, form: FormData, settings: Settings, *, session_cookie: str) -> None:
    """Refuse (403 `csrfTokenInvalid`) a form whose token does not match the cookies sent."""
    nonce = request.cookies.get(COOKIE, "")
    sent = form.get(FIELD)
    if not _NONCE.match(nonce) or not isinstance(sent, str) or not sent:
        raise CsrfRejected()
    expected = _sign(settings.signing_secret, nonce, request.cookies.get(session_cookie, ""))
    if not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRejected()
