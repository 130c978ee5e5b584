"""The admin center's frame: its left navigation, how its pages are rendered, their notices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tenantry.core.errors import TenantryError
from tenantry.core.i18n import has_message, translate
from tenantry.dependencies import Principal
from tenantry.directory import roles as directory_roles
from tenantry.directory.constants import Role
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
    NavItem("sync", "/admin/sync"),
    NavItem("audit", "/admin/audit"),
)


def see_other(path: str) -> RedirectResponse:
    """The redirect after a form (303: the browser follows with a GET)."""
    return RedirectResponse(path, status_code=303)


def sign_in_first(request: Request) -> RedirectResponse:
    """Send a signed-out visitor to sign in, then back here."""
    here = local_path(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return see_other("/signin?" + urlencode({"next": here}))


async def held_roles(request: Request, principal: Principal) -> frozenset[str]:
    """The admin roles the signed-in person holds (to show only the forms they may use)."""
    database = request.app.state.database
    async with database.unit_of_work(readonly=True) as db_session:
        roles = await directory_roles.roles_of(
            db_session=db_session, tenant_id=principal.tenant.id, user_id=principal.user.id
        )
    return frozenset(roles)


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
