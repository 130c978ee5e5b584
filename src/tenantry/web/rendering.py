"""Page rendering: the language of a request, templates, translated errors, error pages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any
from urllib.parse import urlencode

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tenantry.auth.service import PasswordChangeRequired
from tenantry.core.config import Settings
from tenantry.core.errors import (
    DatabaseUnavailable,
    InvalidRequest,
    TenantryError,
    database_unavailable,
    from_http_exception,
)
from tenantry.core.i18n import LANGUAGES, has_message, negotiate, translate
from tenantry.dependencies import SESSION_COOKIE, Principal, web_signed_in_principal
from tenantry.web import csrf

log = logging.getLogger("tenantry.web")

LANG_COOKIE = "lang"
# Where a person who signed in with a temporary password chooses their own (auth/pages.py).
CHANGE_PASSWORD = "/account/password"
# Where the header's switcher posts the organization to act in (auth/pages.py).
SWITCH_TENANT = "/account/tenant"

# Pages carry personal data and form tokens: never cached, never framed, no scripts at all.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

# Django's layout: a domain's pages keep their templates beside them, in
# `<domain>/templates/<domain>/<name>.html`, rendered by name as "<domain>/<name>.html".
# web's own folder holds what every page shares: the layout, the admin center's
# frame, the error pages, the partials of more than one domain.
TEMPLATE_PACKAGES = (
    "tenantry.web",
    "tenantry.auth",
    "tenantry.signup",
    "tenantry.tenants",
    "tenantry.domains",
    "tenantry.directory",
    "tenantry.licensing",
    "tenantry.guests",
    "tenantry.partner",
    "tenantry.scim",
)

templates = Jinja2Templates(
    env=Environment(
        loader=ChoiceLoader([PackageLoader(package, "templates") for package in TEMPLATE_PACKAGES]),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
)


def language_of(request: Request) -> str:
    """The page language: the `lang` cookie set by the switch, else Accept-Language."""
    return negotiate(request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE))


def local_path(target: str | None, default: str = "/") -> str:
    """`target` when it is a path on this site, else `default` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(char) < 32 for char in target) or "\\" in target:
        return default
    return target


def error_text(language: str, error: TenantryError, **params: Any) -> str:
    """The error's message in `language` when `error.<message_key or code>` is translated,
    else its own."""
    key = f"error.{error.message_key or error.code}"
    if not has_message(key):
        return error.message
    try:
        return translate(language, key).format_map({**error.details, **params})
    except (KeyError, IndexError, ValueError):
        return error.message


def settings_of(request: Request) -> Settings:
    """The server's settings."""
    return request.app.state.settings


def render(
    request: Request,
    template: str,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page in the request's language, with the CSRF token its forms need."""
    settings = settings_of(request)
    language = language_of(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    page: dict[str, Any] = {
        "lang": language,
        "t": partial(translate, language),
        "languages": LANGUAGES,
        "principal": principal,
        "csrf_field": csrf.FIELD,
        "csrf_token": csrf.token(request, settings, session_cookie=SESSION_COOKIE),
        "here": local_path(here),
        "switch_tenant": SWITCH_TENANT,
        "dev_mailbox": settings.dev_mailbox_enabled,
        "dev_mode": settings.dev_mode,
        "notice": None,
        "error": None,
        "form": {},
    }
    page.update(context)
    response = templates.TemplateResponse(
        request, template, page, status_code=status_code, headers=PAGE_HEADERS
    )
    csrf.set_cookie(request, response, settings)
    return response


async def error_page(
    request: Request, error: TenantryError, *, show_principal: bool = True
) -> Response:
    """A page that says what went wrong, in the page language (never a stack trace).

    `show_principal=False` skips reading who is signed in (a database read), for refusals
    that must cost nothing, such as shedding load."""
    principal = None
    try:
        if show_principal:
            principal = await web_signed_in_principal(request)
    except Exception:  # the page must render even when the database does not answer
        principal = None
    response = render(
        request,
        "error.html",
        principal=principal,
        status_code=error.status_code,
        error_message=error_text(language_of(request), error),
        error_status=error.status_code,
    )
    for name, value in (error.headers or {}).items():
        if name.lower() != "www-authenticate":
            response.headers[name] = value
    return response


class PageRefused(Exception):
    """A page guard's refusal (`web.dependencies`): `WebRoute` sends `response` instead of the page.

    The sign-in page for a signed-out visitor, the unmanaged organization's page,
    the 403 page for someone without the role: pages, not errors, so they are
    built where the refusal is decided and sent as they are.
    """

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def change_password_first(request: Request) -> Response:
    """Send someone who must change a temporary password to do so, then on where they were going.

    A form posted meanwhile is not replayed: they go on to the home page.
    """
    here = "/"
    if request.method in ("GET", "HEAD"):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = urlencode({"next": local_path(here)})
    return RedirectResponse(f"{CHANGE_PASSWORD}?{query}", status_code=303)


class WebRoute(APIRoute):
    """A page route: errors become HTML pages instead of the API's JSON.

    A guard's `PageRefused` sends the page it carries. `passwordChangeRequired`
    (`dependencies.web_principal` after a reset) sends the person to the
    change-password page instead, as the API refuses them.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except PageRefused as refused:
                return refused.response
            except PasswordChangeRequired:
                return change_password_first(request)
            except TenantryError as error:
                return await error_page(request, error)
            except RequestValidationError:
                return await error_page(request, InvalidRequest("The request is not valid."))
            except StarletteHTTPException as exc:  # request.form() on a malformed multipart body
                return await error_page(request, from_http_exception(exc))
            except Exception as exc:
                if database_unavailable(exc):
                    log.warning("database unavailable: %s", exc)
                    return await error_page(request, DatabaseUnavailable())
                log.exception("unhandled error on a web page", exc_info=exc)
                internal = TenantryError(
                    "Something went wrong on our side.", code="internalError", status_code=500
                )
                return render(
                    request,
                    "error.html",
                    status_code=500,
                    error_message=error_text(language_of(request), internal),
                    error_status=500,
                )

        return page_handler


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not an API client): outside /v1/ and HTML accepted
    before anything else in the Accept header."""
    if request.url.path.startswith(("/v1/", "/openapi.json")):
        return False
    accept = request.headers.get("accept", "")
    return accept.split(",", 1)[0].strip().startswith("text/html")


def install_page_errors(app: Any) -> None:
    """An unknown address or a method a page does not take: the styled, translated error
    page for a browser, the one JSON error shape (core.errors) for everyone else."""
    json_answer = app.exception_handlers[StarletteHTTPException]

    async def page_or_json(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (404, 405) and wants_page(request):
            return await error_page(request, from_http_exception(exc))
        return await json_answer(request, exc)

    app.add_exception_handler(StarletteHTTPException, page_or_json)
