"""`/v1/groups`: the organization's security groups and their members.

Reading takes any admin role; changing takes Groups or User Administrator. The
licenses a group gives are `licensing.group_router`'s (`/v1/groups/{id}/assignLicense`, …).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import Principal, actor_of, get_db, get_read_db
from tenantry.directory import groups as directory_groups
from tenantry.directory import users as directory_users
from tenantry.directory.dependencies import (
    list_params,
    manage_groups,
    next_link,
    page_response,
    read_directory,
    user_page,
)
from tenantry.directory.exceptions import InvalidValue
from tenantry.directory.query import ListParams
from tenantry.directory.schemas import (
    GroupCreate,
    GroupMembersAdd,
    GroupMembersAdded,
    GroupPage,
    GroupUpdate,
    GroupView,
    UserPage,
    group_view,
    page_view,
)
from tenantry.licensing import groups as group_licensing
from tenantry.licensing.group_schemas import GroupLicensesView, group_licensing_view

router = APIRouter(prefix="/v1", tags=["directory"], responses=ERROR_RESPONSES)


@router.get("/groups", response_model=None, responses={200: {"model": GroupPage}})
async def list_groups(
    request: Request,
    params: ListParams = Depends(list_params),
    principal: Principal = Depends(read_directory),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> JSONResponse:
    """The organization's groups: `$filter`, `$search`, `$orderby`, `$top`, `@odata.nextLink`."""
    found = await directory_groups.list_groups(
        db_session=db_session, tenant_id=principal.tenant.id, params=params
    )
    return page_response(
        page_view(
            [group_view(group) for group in found.items],
            next_link=next_link(request, found.next_skip_token),
            count=found.count,
        )
    )


@router.post("/groups", status_code=201, response_model=GroupView)
async def create_group(
    body: GroupCreate,
    request: Request,
    principal: Principal = Depends(manage_groups),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """Create a security group."""
    if body.mail_enabled or not body.security_enabled or body.group_types:
        raise InvalidValue(
            "Only security groups are supported: mailEnabled false, securityEnabled true, "
            "groupTypes empty.",
            target="groupTypes",
        )
    group = await directory_groups.create_group(
        db_session=db_session,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        display_name=body.display_name,
        description=body.description,
        mail_nickname=body.mail_nickname,
    )
    return group_view(group)


@router.get("/groups/{group_id}", response_model=GroupLicensesView)
async def get_group(
    group_id: str,
    principal: Principal = Depends(read_directory),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """A group of the organization, with the licenses it gives (`assignedLicenses`) and
    their `licenseProcessingState`."""
    group = await directory_groups.resolve_group(
        db_session=db_session, tenant_id=principal.tenant.id, key=group_id
    )
    licensing = await group_licensing.licensing_of_group(
        db_session=db_session, tenant_id=group.tenant_id, group_id=group.id
    )
    return group_view(group) | group_licensing_view(licensing)


@router.patch("/groups/{group_id}", response_model=GroupView)
async def update_group(
    group_id: str,
    body: GroupUpdate,
    request: Request,
    principal: Principal = Depends(manage_groups),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """Rename a group or change its description or mail nickname."""
    group = await directory_groups.resolve_group(
        db_session=db_session, tenant_id=principal.tenant.id, key=group_id
    )
    given = body.model_fields_set
    if {"display_name", "mail_nickname"} & given and (
        ("display_name" in given and body.display_name is None)
        or ("mail_nickname" in given and body.mail_nickname is None)
    ):
        raise InvalidValue("displayName and mailNickname cannot be empty.", target="displayName")
    unset = directory_users.UNSET
    await directory_groups.update_group(
        db_session=db_session,
        actor=actor_of(request, principal),
        group=group,
        display_name=body.display_name if "display_name" in given else unset,  # type: ignore[arg-type]
        description=body.description if "description" in given else unset,
        mail_nickname=body.mail_nickname if "mail_nickname" in given else unset,  # type: ignore[arg-type]
    )
    return group_view(group)


@router.delete("/groups/{group_id}", status_code=204)
async def delete_group(
    group_id: str,
    request: Request,
    principal: Principal = Depends(manage_groups),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> Response:
    """Delete a group and its memberships."""
    group = await directory_groups.resolve_group(
        db_session=db_session, tenant_id=principal.tenant.id, key=group_id
    )
    await directory_groups.delete_group(
        db_session=db_session, actor=actor_of(request, principal), group=group
    )
    return Response(status_code=204)


@router.get("/groups/{group_id}/members", response_model=None, responses={200: {"model": UserPage}})
async def list_group_members(
    group_id: str,
    request: Request,
    params: ListParams = Depends(list_params),
    principal: Principal = Depends(read_directory),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> JSONResponse:
    """A group's members, with the same options as the user list."""
    group = await directory_groups.resolve_group(
        db_session=db_session, tenant_id=principal.tenant.id, key=group_id
    )
    found = await directory_groups.list_members(
        db_session=db_session, tenant_id=principal.tenant.id, group_id=group.id, params=params
    )
    return page_response(user_page(request, found))


@router.post("/groups/{group_id}/members", response_model=GroupMembersAdded)
async def add_group_members(
    group_id: str,
    body: GroupMembersAdd,
    request: Request,
    principal: Principal = Depends(manage_groups),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """Add users to a group by id (up to 5,000 at once); current members are left as they are."""
    group = await directory_groups.resolve_group(
        db_session=db_session, tenant_id=principal.tenant.id, key=group_id
    )
    user_ids = directory_groups.parse_user_ids(body.user_ids)
    added = await directory_groups.add_members(
        db_session=db_session, actor=actor_of(request, principal), group=group, user_ids=user_ids
    )
    return {"added": len(added), "alreadyMembers": len(user_ids) - len(added)}


@router.delete("/groups/{group_id}/members/{user_id}", status_code=204)
async def remove_group_member(
    group_id: str,
    user_id: str,
    request: Request,
    principal: Principal = Depends(manage_groups),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> Response:
    """Take a user out of a group."""
    group = await directory_groups.resolve_group(
        db_session=db_session, tenant_id=principal.tenant.id, key=group_id
    )
    user = await directory_users.resolve(
        db_session=db_session, tenant_id=principal.tenant.id, key=user_id
    )
    await directory_groups.remove_member(
        db_session=db_session, actor=actor_of(request, principal), group=group, user_id=user.id
    )
    return Response(status_code=204)
