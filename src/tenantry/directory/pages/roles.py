"""The admin center's Roles page: each admin role and its members; Global Administrators edit.

As `/v1/directoryRoles`: any admin role reads, only a Global Administrator adds
or removes members, and the organization's last Global Administrator who can
sign in keeps the role (the refusal is shown on the page).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tenantry.core.errors import NotFound, TenantryError
from tenantry.core.i18n import translate
from tenantry.dependencies import Principal, actor_of
from tenantry.directory import roles as directory_roles
from tenantry.directory import users as directory_users
from tenantry.directory.constants import DIRECTORY_READERS
from tenantry.directory.pages.common import user_of
from tenantry.web.admin_views import user_path
from tenantry.web.dependencies import (
    Page,
    admin_form,
    admin_page,
    read_unit_of_work,
    text,
    unit_of_work,
)
from tenantry.web.rendering import WebRoute
from tenantry.web.shell import held_roles, may, reason, redirect_with_notice, render_admin

router = APIRouter(include_in_schema=False, route_class=WebRoute)

ROLES = "/admin/roles"


async def _roles_page(
    request: Request, admin: Principal, *, status_code: int = 200, **context: Any
) -> Response:
    async with read_unit_of_work(request) as db_session:
        members = await directory_roles.role_members(
            db_session=db_session, tenant_id=admin.tenant.id
        )
    held = await held_roles(request, admin)
    return render_admin(
        request,
        "directory/roles.html",
        principal=admin,
        section="roles",
        status_code=status_code,
        roles=[
            {
                "key": role.value,
                "members": [
                    {
                        "id": str(user.id),
                        "name": user.display_name,
                        "address": user.user_principal_name,
                        "enabled": user.account_enabled,
                        "path": user_path(user.id),
                        "me": user.id == admin.user.id,
                    }
                    for user in users
                ],
            }
            for role, users in members.items()
        ],
        can_manage=may(held),
        **context,
    )


@router.get(ROLES)
async def roles_page(
    request: Request, page: Page = Depends(admin_page(*DIRECTORY_READERS))
) -> Response:
    """The admin roles, what each may do, and who holds it."""
    return await _roles_page(request, page.principal)


@router.post(ROLES + "/{role_id}/members")
async def add_member(
    role_id: str, request: Request, page: Page = Depends(admin_form())
) -> Response:
    """Give the role to a user of the organization, by sign-in address."""
    role = directory_roles.resolve_role(role_id)
    address = text(page.form, "address")[:320].lower()
    language = page.language
    try:
        async with unit_of_work(request) as db_session:
            user = await directory_users.get_by_principal_name(
                db_session=db_session, principal_name=address
            )
            if user is None or user.tenant_id != page.principal.tenant.id:
                raise NotFound("The user does not exist.", code="userNotFound")
            added = await directory_roles.add_role_member(
                db_session=db_session, actor=actor_of(request, page.principal), role=role, user=user
            )
            name = user.display_name
    except TenantryError as error:
        return await _roles_page(
            request,
            page.principal,
            status_code=error.status_code,
            error=reason(language, error, address=address),
            form={"role": role.value, "address": address},
        )
    key = "web.roles.added" if added else "web.roles.already"
    return redirect_with_notice(
        request, ROLES, key, name=name, role=translate(language, f"web.role.{role.value}")
    )


@router.post(ROLES + "/{role_id}/members/{user_id}/remove")
async def remove_member(
    role_id: str,
    user_id: str,
    request: Request,
    page: Page = Depends(admin_form()),
) -> Response:
    """Take the role from a user; never from the last Global Administrator."""
    role = directory_roles.resolve_role(role_id)
    language = page.language
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, page.principal, user_id)
            await directory_roles.remove_role_member(
                db_session=db_session, actor=actor_of(request, page.principal), role=role, user=user
            )
            name = user.display_name
    except TenantryError as error:
        if error.status_code == 404 and error.code == "notFound":
            raise
        return await _roles_page(
            request, page.principal, status_code=error.status_code, error=reason(language, error)
        )
    return redirect_with_notice(
        request,
        ROLES,
        "web.roles.removed",
        name=name,
        role=translate(language, f"web.role.{role.value}"),
    )
