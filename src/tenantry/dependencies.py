"""Request-scoped dependencies shared by every router: the unit of work, the caller, roles."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.auth import service as auth_service
from tenantry.auth import tenancy
from tenantry.auth.models import API_TOKEN, WEB_SESSION
from tenantry.auth.tenancy import TenantChoice
from tenantry.catalog import Catalog
from tenantry.core.audit import Actor
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.errors import Forbidden, NotFound, Unauthorized
from tenantry.core.security import bearer_token_of
from tenantry.directory.constants import Role
from tenantry.directory.models import User
from tenantry.tenants.exceptions import TenantUnmanaged
from tenantry.tenants.models import MANAGED, Tenant

SESSION_COOKIE = "tenantry_session"


def get_settings(request: Request) -> Settings:
    """The server's settings."""
    return request.app.state.settings


def get_catalog(request: Request) -> Catalog:
    """The product catalog."""
    return request.app.state.catalog


def get_database(request: Request) -> Database:
    """The database."""
    return request.app.state.database


def no_store(response: Response) -> None:
    """Keep the answer out of every cache: it holds a credential (RFC 6749 §5.1 asks this of
    token answers; the same goes for temporary passwords and entitlement tokens)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


def client_address(request: Request) -> str | None:
    """The caller's address as the server saw it (behind a proxy named in
    TENANTRY_TRUSTED_PROXIES, the address that proxy forwards: app.py)."""
    return request.client.host if request.client else None


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed once when the handler returns, rolled back on
    error (except errors that keep their changes: `Database.unit_of_work`)."""
    async with request.app.state.database.unit_of_work() as db_session:
        yield db_session


async def get_read_db(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only unit of work (runs beside writers on SQLite)."""
    async with request.app.state.database.unit_of_work(readonly=True) as db_session:
        yield db_session


@dataclass(frozen=True)
class Principal:
    """The signed-in caller, with the admin roles they held when the request began."""

    user: User
    tenant: Tenant
    token: str
    via: str  # "bearer" (an API token) or "cookie" (a web session)
    # Pages only: the organizations the person may act in, for the header's switcher.
    choices: tuple[TenantChoice, ...] = ()
    roles: frozenset[str] = frozenset()

    @property
    def actor(self) -> Actor:
        return Actor(self.user.id, self.tenant.id, None)


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header, if any."""
    return bearer_token_of(request.headers.get("authorization", ""))


async def _principal_for(request: Request, token: str | None, via: str) -> Principal | None:
    if not token:
        return None
    # Each credential only where it belongs: a web session sent as a bearer token would
    # skip the forms' CSRF check; an API token sent as the cookie would carry a program's
    # credential, with its own lifetime, into the pages.
    kind = API_TOKEN if via == "bearer" else WEB_SESSION
    database: Database = request.app.state.database
    async with database.unit_of_work(readonly=True) as db_session:
        result = await auth_service.authenticate(db_session=db_session, token=token, kind=kind)
        if result is None:
            return None
        choices = ()
        if via == "cookie":
            choices = await tenancy.choices(db_session=db_session, user=result.user)
    return Principal(
        user=result.user,
        tenant=result.tenant,
        token=token,
        via=via,
        roles=result.roles,
        choices=choices,
    )


async def optional_principal(request: Request) -> Principal | None:
    """The caller signed in with a bearer token (the API takes no cookies: no CSRF), or None."""
    return await _principal_for(request, bearer_token(request), "bearer")


async def web_signed_in_principal(request: Request) -> Principal | None:
    """The person signed in to the pages, even one who must change a temporary password; or None.

    Only for the change-password page and error pages: every other page takes
    `web_principal`.
    """
    return await _principal_for(request, request.cookies.get(SESSION_COOKIE), "cookie")


async def web_principal(request: Request) -> Principal | None:
    """The person signed in to the web pages through the session cookie, or None.

    Like `current_principal`, 403 `passwordChangeRequired` after a reset, which
    the pages (`web.rendering.WebRoute`) turn into the change-password page.
    """
    principal = await web_signed_in_principal(request)
    if principal is not None and principal.user.must_change_password:
        raise auth_service.PasswordChangeRequired()
    return principal


async def signed_in_principal(
    principal: Principal | None = Depends(optional_principal),
) -> Principal:
    """The signed-in caller, even one who must change a temporary password first; 401 if none.

    Only for changing the password and signing out: every other route takes
    `current_principal`.
    """
    if principal is None:
        raise Unauthorized("Sign in to continue: the access token is missing, expired or revoked.")
    return principal


async def current_principal(
    principal: Principal = Depends(signed_in_principal),
) -> Principal:
    """The signed-in caller; 401 when there is none, 403 `passwordChangeRequired` after a reset."""
    if principal.user.must_change_password:
        raise auth_service.PasswordChangeRequired()
    return principal


async def resolve_principal(request: Request) -> Principal:
    """`current_principal` called directly, for a route whose hot path skips injection."""
    return await current_principal(await signed_in_principal(await optional_principal(request)))


def actor_of(request: Request, principal: Principal | None) -> Actor:
    """The audit actor for this request."""
    if principal is None:
        return Actor.anonymous(client_address(request))
    return Actor(principal.user.id, principal.tenant.id, client_address(request))


def ensure_role(principal: Principal, *roles: Role) -> None:
    """Refuse unless the caller is an admin of a managed tenant holding one of `roles`.

    Global Administrator is always admitted. Members of an unmanaged tenant get
    403 `tenantUnmanaged` with how to become the admin. The roles are those read with
    the caller's token (`auth.service.authenticate`), in the same statement.
    """
    allowed = {role.value for role in roles} | {Role.GLOBAL_ADMINISTRATOR.value}
    if principal.tenant.state != MANAGED:
        raise TenantUnmanaged()
    if not allowed.intersection(principal.roles):
        raise Forbidden(
            "You need one of these roles: "
            + ", ".join(sorted(allowed))
            + ". Ask a Global Administrator of your organization."
        )


def require_role(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting admins of a managed tenant who hold one of `roles` (`ensure_role`)."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        ensure_role(principal, *roles)
        return principal

    return dependency


def parse_id(value: str, *, what: str = "resource") -> uuid.UUID:
    """A UUID path parameter; anything else is simply not found."""
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise NotFound(f"The {what} does not exist.") from exc
