"""One-shot notices carried across a redirect (post, redirect, get) in a signed cookie.

A page that changed something redirects, and the next page says what happened
("fabrikam.com is now the default domain"). The notice travels in the `flash`
cookie as a translation key and its parameters, signed with the server's key so
that neither another site nor a sibling domain can make a page say something
Tenantry did not; the page that shows it deletes it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tenantry.core.config import Settings

COOKIE = "flash"
MAX_AGE = 300


@dataclass(frozen=True)
class Notice:
    """A translation key (`web.…`) and its parameters."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


def _sign(settings: Settings, payload: bytes) -> str:
    return hmac.new(settings.signing_secret, b"flash:" + payload, hashlib.sha256).hexdigest()


def put(response: Response, settings: Settings, notice: Notice) -> None:
    """Make the next page show `notice`."""
    payload = json.dumps({"k": notice.key, "p": notice.params}, separators=(",", ":")).encode()
    value = base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(settings, payload)
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )


def take(request: Request, settings: Settings) -> Notice | None:
    """The notice the previous request left, if it is genuine (see `clear`)."""
    value = request.cookies.get(COOKIE, "")
    encoded, _, signature = value.partition(".")
    if not encoded or not signature:
        return None
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(_sign(settings, payload).encode(), signature.encode()):
        return None
    try:
        data = json.loads(payload)
        return Notice(key=str(data["k"]), params=dict(data["p"]))
    except (ValueError, KeyError, TypeError):
        return None


def clear(request: Request, response: Response, settings: Settings) -> None:
    """Delete the notice once a page has shown it."""
    if COOKIE in request.cookies:
        response.delete_cookie(
            COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure
        )
