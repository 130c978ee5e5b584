"""What page handlers depend on: the guards that admit the caller, the form, the units of work.

A page is guarded as an API route is (`tenantry.dependencies.require_role`): a
dependency runs before the handler and hands it a `Page`, who is signed in, the
form they posted and the page language. A form's CSRF token is checked first
(`csrf.CsrfRejected`, the 403 error page), then the caller: signed out, the
sign-in page; a member of an unmanaged organization, the page that says why and
how to become its admin; anyone else without one of the roles, the 403 page.
Those refusals are pages, raised as `PageRefused` and sent by `WebRoute`.

The handlers open their units of work themselves (`unit_of_work`,
`read_unit_of_work`: the API's, one commit, the outbox worker woken) instead of
taking one as a dependency, so that a refused form can be shown again with its
message after the transaction has been rolled back (or kept, for errors that
count an attempt).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Request
from starlette.datastructures import FormData

from tenantry.core.errors import Forbidden
from tenantry.core.i18n import translate
from tenantry.dependencies import (
    SESSION_COOKIE,
    Principal,
    ensure_role,
    get_db,
    get_read_db,
    web_principal,
    web_signed_in_principal,
)
from tenantry.directory.constants import Role
from tenantry.tenants.exceptions import TenantUnmanaged
from tenantry.web import csrf
from tenantry.web.rendering import PageRefused, error_text, language_of, render, settings_of
from tenantry.web.shell import sign_in_first

# The API's units of work, used as context managers inside the page handlers.
unit_of_work = asynccontextmanager(get_db)
read_unit_of_work = asynccontextmanager(get_read_db)


@dataclass(frozen=True)
class Page:
    """A request its guard admitted: who is signed in, the form they posted, the page language."""

    principal: Principal
    language: str
    form: FormData = field(default_factory=FormData)  # empty for a page that is only read


FormReader = Callable[[Request], Awaitable[FormData]]
Guard = Callable[..., Coroutine[Any, Any, Page]]


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


def _signed_in(request: Request, principal: Principal | None) -> Principal:
    """The signed-in person; a signed-out visitor is sent to sign in, then back here."""
    if principal is None:
        raise PageRefused(sign_in_first(request))
    return principal


async def _admitted(
    request: Request, principal: Principal | None, roles: tuple[Role, ...]
) -> Principal:
    """The admin, once `dependencies.ensure_role` admits them (Global Administrator always).

    A member of an unmanaged organization gets why nobody can manage it yet,
    with the way to become its admin (403); anyone else without one of `roles`
    the 403 page.
    """
    admin = _signed_in(request, principal)
    try:
        ensure_role(admin, *roles)
    except TenantUnmanaged as error:
        raise PageRefused(
            render(
                request,
                "admin/unmanaged.html",
                principal=admin,
                status_code=error.status_code,
                reason=error_text(language_of(request), error),
            )
        ) from error
    except Forbidden as error:
        raise PageRefused(
            render(
                request,
                "error.html",
                principal=admin,
                status_code=403,
                error_message=translate(language_of(request), "web.admin.denied"),
                error_status=403,
            )
        ) from error
    return admin


def _source(temporary_password: bool) -> Callable[[Request], Awaitable[Principal | None]]:
    """Who is signed in: `web_principal` sends someone who must change a temporary password
    to do so first; only the change-password page admits them (`web_signed_in_principal`)."""
    return web_signed_in_principal if temporary_password else web_principal


def signed_in_page(*, temporary_password: bool = False) -> Guard:
    """A guard for a page anyone signed in may see."""

    async def guard(
        request: Request, principal: Principal | None = Depends(_source(temporary_password))
    ) -> Page:
        return Page(_signed_in(request, principal), language_of(request))

    return guard


def signed_in_form(*, temporary_password: bool = False) -> Guard:
    """A guard for a form anyone signed in may post: its CSRF token first, then who posts it."""

    async def guard(
        request: Request, principal: Principal | None = Depends(_source(temporary_password))
    ) -> Page:
        form = await checked_form(request)
        return Page(_signed_in(request, principal), language_of(request), form)

    return guard


def admin_page(*roles: Role) -> Guard:
    """A guard for an admin center page: admins holding one of `roles` (Global Administrator
    always, and alone when `roles` is empty), as the API route the page stands for."""

    async def guard(request: Request, principal: Principal | None = Depends(web_principal)) -> Page:
        return Page(await _admitted(request, principal, roles), language_of(request))

    return guard


def admin_form(*roles: Role, read: FormReader = checked_form) -> Guard:
    """A guard for an admin center form: the form read by `read` (CSRF checked) first, then
    the admin as `admin_page` admits them."""

    async def guard(request: Request, principal: Principal | None = Depends(web_principal)) -> Page:
        form = await read(request)
        return Page(await _admitted(request, principal, roles), language_of(request), form)

    return guard
