"""`/v1/directoryRoles`: the organization's admin roles and their members.

Reading takes any admin role; giving and taking roles takes Global Administrator.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import Principal, actor_of, get_db, get_read_db
from tenantry.directory import roles as directory_roles
from tenantry.directory import users as directory_users
from tenantry.directory.dependencies import manage_roles, read_directory
from tenantry.directory.exceptions import InvalidValue
from tenantry.directory.schemas import (
    DirectoryRolePage,
    DirectoryRoleView,
    RoleMemberAdd,
    role_view,
)

router = APIRouter(prefix="/v1", tags=["directory"], responses=ERROR_RESPONSES)


@router.get("/directoryRoles", response_model=DirectoryRolePage)
async def list_roles(
    principal: Principal = Depends(read_directory),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """The organization's admin roles with their members."""
    members = await directory_roles.role_members(
        db_session=db_session, tenant_id=principal.tenant.id
    )
    return {"value": [role_view(role, users) for role, users in members.items()]}


@router.get("/directoryRoles/{role_id}", response_model=DirectoryRoleView)
async def get_role(
    role_id: str,
    principal: Principal = Depends(read_directory),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """One admin role (by template id or name) with its members."""
    role = directory_roles.resolve_role(role_id)
    members = await directory_roles.role_members(
        db_session=db_session, tenant_id=principal.tenant.id
    )
    return role_view(role, members[role])


def _member_key(body: RoleMemberAdd) -> str:
    if body.user_id:
        return body.user_id
    if body.odata_id:
        return body.odata_id.rstrip("/").rsplit("/", 1)[-1]
    raise InvalidValue("Give the userId of the new member.", target="userId")


@router.post("/directoryRoles/{role_id}/members", status_code=204)
async def add_role_member(
    role_id: str,
    body: RoleMemberAdd,
    request: Request,
    principal: Principal = Depends(manage_roles),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> Response:
    """Give a user an admin role (Global Administrator only); giving it again changes nothing."""
    role = directory_roles.resolve_role(role_id)
    user = await directory_users.resolve(
        db_session=db_session, tenant_id=principal.tenant.id, key=_member_key(body)
    )
    await directory_roles.add_role_member(
        db_session=db_session, actor=actor_of(request, principal), role=role, user=user
    )
    return Response(status_code=204)


@router.delete("/directoryRoles/{role_id}/members/{user_id}", status_code=204)
async def remove_role_member(
    role_id: str,
    user_id: str,
    request: Request,
    principal: Principal = Depends(manage_roles),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> Response:
    """Take an admin role from a user; the last Global Administrator keeps theirs (409)."""
    role = directory_roles.resolve_role(role_id)
    user = await directory_users.resolve(
        db_session=db_session, tenant_id=principal.tenant.id, key=user_id
    )
    await directory_roles.remove_role_member(
        db_session=db_session, actor=actor_of(request, principal), role=role, user=user
    )
    return Response(status_code=204)
