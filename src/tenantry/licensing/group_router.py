"""Group-based licensing routes: a group's licenses, its members in error, reprocessing.

Who may call what (Global Administrator always may, in a managed tenant), as
in Entra: giving a group licenses and reprocessing take License Administrator
or User Administrator (Groups Administrator manages members, not licenses);
reading a group's members in error takes any admin role.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core.errors import InvalidRequest
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import (
    Principal,
    actor_of,
    get_catalog,
    get_db,
    get_read_db,
    require_role,
)
from tenantry.directory import groups as directory_groups
from tenantry.directory import users as directory_users
from tenantry.directory.constants import DIRECTORY_READERS
from tenantry.directory.models import Group
from tenantry.directory.schemas import group_view
from tenantry.licensing import groups
from tenantry.licensing.constants import GROUP_LICENSE_ADMINS
from tenantry.licensing.group_schemas import (
    GroupLicensesView,
    MembersWithLicenseErrorsPage,
    UserLicensesView,
    group_licensing_view,
    member_with_errors_view,
    user_licenses_view,
)
from tenantry.licensing.schemas import AssignLicenseRequest

router = APIRouter(prefix="/v1", tags=["licensing"], responses=ERROR_RESPONSES)
manage_licenses = require_role(*GROUP_LICENSE_ADMINS)
read_directory = require_role(*DIRECTORY_READERS)


async def group_with_licenses(db_session: AsyncSession, group: Group) -> dict[str, Any]:
    """A group's JSON with its licenses and processing state."""
    licensing = await groups.licensing_of_group(
        db_session=db_session, tenant_id=group.tenant_id, group_id=group.id
    )
    return group_view(group) | group_licensing_view(licensing)


@router.post("/groups/{group_id}/assignLicense", status_code=202, response_model=GroupLicensesView)
async def assign_group_license(
    group_id: str,
    body: AssignLicenseRequest,
    request: Request,
    principal: Principal = Depends(manage_licenses),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Add and remove a group's licenses (all or nothing); 202 with the group: its members
    are licensed in the background (`licenseProcessingState`)."""
    group = await directory_groups.resolve_group(
        db_session=db_session, tenant_id=principal.tenant.id, key=group_id
    )
    await groups.set_licenses(
        db_session=db_session,
        catalog=catalog,
        actor=actor_of(request, principal),
        group=group,
        add=[(item.sku_id, item.disabled_plans) for item in body.add_licenses],
        remove=body.remove_licenses,
    )
    return await group_with_licenses(db_session, group)


@router.post(
    "/groups/{group_id}/reprocessLicenseAssignment",
    status_code=202,
    response_model=GroupLicensesView,
)
async def reprocess_group(
    group_id: str,
    request: Request,
    principal: Principal = Depends(manage_licenses),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """Process the group's licenses again for every member, retrying errors (e.g. after
    buying more licenses); 202 with the group."""
    group = await directory_groups.resolve_group(
        db_session=db_session, tenant_id=principal.tenant.id, key=group_id
    )
    await groups.reprocess_group(
        db_session=db_session, actor=actor_of(request, principal), group=group
    )
    return await group_with_licenses(db_session, group)


@router.get(
    "/groups/{group_id}/membersWithLicenseErrors", response_model=MembersWithLicenseErrorsPage
)
async def members_with_license_errors(
    group_id: str,
    request: Request,
    top: int = Query(100, alias="$top", ge=1, le=999),
    skiptoken: str | None = Query(None, alias="$skiptoken", max_length=100),
    principal: Principal = Depends(read_directory),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """The members whose licenses from this group are in error, with those licenses' states."""
    group = await directory_groups.resolve_group(
        db_session=db_session, tenant_id=principal.tenant.id, key=group_id
    )
    after = None
    if skiptoken is not None:
        try:
            after = uuid.UUID(skiptoken)
        except ValueError as exc:
            raise InvalidRequest(
                "The $skiptoken is not one this list gave.", code="invalidSkipToken"
            ) from exc
    page, next_after = await groups.members_with_errors(
        db_session=db_session, tenant_id=group.tenant_id, group_id=group.id, top=top, after=after
    )
    body: dict[str, Any] = {"value": [member_with_errors_view(member) for member in page]}
    if next_after is not None:
        query = urlencode({"$top": top, "$skiptoken": str(next_after)}, quote_via=quote, safe="$")
        body["@odata.nextLink"] = str(request.url.replace(query=query))
    return body


@router.post("/users/{user_id}/reprocessLicenseAssignment", response_model=UserLicensesView)
async def reprocess_user(
    user_id: str,
    request: Request,
    principal: Principal = Depends(manage_licenses),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Apply the user's group licenses again now (errors retried); 200 with the user and the
    state of each of their licenses."""
    user = await directory_users.resolve(
        db_session=db_session, tenant_id=principal.tenant.id, key=user_id
    )
    await groups.reprocess_user(
        db_session=db_session, catalog=catalog, actor=actor_of(request, principal), user=user
    )
    rows, inactive = await groups.license_states_of(
        db_session=db_session, tenant_id=user.tenant_id, user_id=user.id
    )
    return user_licenses_view(user, rows, inactive)
