"""The admin center's frame: who may enter, its left navigation, how its pages are rendered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tenantry.core.errors import Forbidden, TenantryError
from tenantry.core.i18n import has_message, translate
from tenantry.dependencies import Principal, ensure_role, parse_id
from tenantry.directory import roles as directory_roles
from tenantry.directory import users as directory_users
from tenantry.directory.constants import Role
from tenantry.directory.models import User
from tenantry.tenants.exceptions import TenantUnmanaged
from tenantry.web import flash
from tenantry.web.rendering import error_text, language_of, local_path, render, settings_of


@dataclass(frozen=True)
class NavItem:
    """A section of the admin center; `path` None until its pages exist (shown as coming soon)."""

    key: str
    path: str | None


# A section without a path is shown as coming soon, never as a broken link.
NAVIGATION = (
    NavItem("home", "/admin"),
    NavItem("users", "/admin/users"),
    NavItem("groups", "/admin/groups"),
    NavItem("billing", "/admin/billing"),
    NavItem("domains", "/admin/domains"),
    NavItem("roles", "/admin/roles"),
    NavItem("audit", "/admin/audit"),
)


def see_other(path: str) -> RedirectResponse:
    """The redirect after a form (303: the browser follows with a GET)."""
    return RedirectResponse(path, status_code=303)


def sign_in_first(request: Request) -> RedirectResponse:
    """Send a signed-out visitor to sign in, then back here."""
    here = local_path(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return see_other("/signin?" + urlencode({"next": here}))


async def admin_gate(
    request: Request, principal: Principal | None, *roles: Role
) -> Principal | Response:
    """The admin, or the page to show instead of an admin page.

    Signed out: the sign-in page. A member of an unmanaged organization: why
    nobody can manage it yet, with the way to become its admin (403). Anyone
    else without one of `roles` (Global Administrator is always admitted): 403.
    """
    if principal is None:
        return sign_in_first(request)
    try:
        await ensure_role(request, principal, *roles)
    except TenantUnmanaged as error:
        return render(
            request,
            "admin/unmanaged.html",
            principal=principal,
            status_code=error.status_code,
            reason=error_text(language_of(request), error),
        )
    except Forbidden:
        return render(
            request,
            "error.html",
            principal=principal,
            status_code=403,
            error_message=translate(language_of(request), "web.admin.denied"),
            error_status=403,
        )
    return principal


async def held_roles(request: Request, principal: Principal) -> frozenset[str]:
    """The admin roles the signed-in person holds (to show only the forms they may use)."""
    database = request.app.state.database
    async with database.unit_of_work(readonly=True) as db_session:
        roles = await directory_roles.roles_of(
            db_session=db_session, tenant_id=principal.tenant.id, user_id=principal.user.id
        )
    return frozenset(roles)


async def user_of(db_session: AsyncSession, admin: Principal, user_id: str) -> User:
    """The user of the admin's organization whose id the page's path carries (404 otherwise)."""
    return await directory_users.get(
        db_session=db_session, tenant_id=admin.tenant.id, user_id=parse_id(user_id, what="user")
    )


def may(held: frozenset[str], *roles: Role) -> bool:
    """Whether someone holding `held` passes `ensure_role(*roles)` (Global Administrator always)."""
    return bool(held & ({role.value for role in roles} | {Role.GLOBAL_ADMINISTRATOR.value}))


def reason(language: str, error: TenantryError, **params: Any) -> str:
    """Why an admin center form was refused, in the page language.

    `web.admin.error.<code>` when the admin center words it its own way, else the
    API's `error.<code>` (`error_text`), else the error's own message; `params`
    and the error's details fill the placeholders.
    """
    key = f"web.admin.error.{error.code}"
    if not has_message(key):
        return error_text(language, error, **params)
    try:
        return translate(language, key).format_map({**error.details, **params})
    except (KeyError, IndexError, ValueError):
        return error.message


def _notice(request: Request, given: str | None) -> str | None:
    """The page's notice: the one given, else the one the previous request left."""
    pending = flash.take(request, settings_of(request))
    if given is None and pending is not None:
        return translate(language_of(request), pending.key, **pending.params)
    return given


def render_with_notice(
    request: Request,
    template: str,
    *,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page that also shows the notice the previous request left (`redirect_with_notice`)."""
    context["notice"] = _notice(request, context.get("notice"))
    response = render(request, template, principal=principal, status_code=status_code, **context)
    flash.clear(request, response, settings_of(request))
    return response


def render_admin(
    request: Request,
    template: str,
    *,
    principal: Principal,
    section: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """An admin center page, with the navigation and `section` marked as the current one."""
    # The notice and the error show in the page's own column (admin/layout.html), not
    # above the navigation as base.html would put them.
    response = render(
        request,
        template,
        principal=principal,
        status_code=status_code,
        navigation=NAVIGATION,
        section=section,
        admin_notice=_notice(request, context.pop("notice", None)),
        admin_error=context.pop("error", None),
        **context,
    )
    flash.clear(request, response, settings_of(request))
    return response


def redirect_with_notice(request: Request, path: str, key: str, **params: Any) -> Response:
    """Go to `path`, which will say `key` (a `web.` message) once."""
    response = see_other(path)
    flash.put(response, settings_of(request), flash.Notice(key=key, params=params))
    return response
