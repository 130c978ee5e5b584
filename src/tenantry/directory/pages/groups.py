"""The admin center's Groups pages: list and create, members (add several by address, remove).

Reading takes any admin role and changing takes Groups or User Administrator,
as `/v1/groups` does; the pages call `directory.groups` like the API.

A group's "Licenses" card is group-based licensing (`licensing.groups`, as
`/v1/groups/{id}/assignLicense`, `membersWithLicenseErrors` and
`reprocessLicenseAssignment`): what the group gives, its `licenseProcessingState`,
the members in error, and — for License or User Administrators — forms to give,
change and take back its licenses and to reprocess. Members are licensed in the
background: while the processing is not complete, the page reloads itself every
few seconds (a `<meta http-equiv="refresh">`, no script).
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tenantry.catalog import Catalog
from tenantry.core.errors import TenantryError
from tenantry.core.i18n import translate
from tenantry.dependencies import Principal, actor_of
from tenantry.directory import groups as directory_groups
from tenantry.directory import users as directory_users
from tenantry.directory.constants import DIRECTORY_READERS, GROUP_MANAGERS
from tenantry.directory.exceptions import NotAMember
from tenantry.directory.models import Group
from tenantry.directory.pages.common import user_of
from tenantry.directory.query import ListParams
from tenantry.licensing import groups as group_licensing
from tenantry.licensing import pools as licensing_pools
from tenantry.licensing.constants import GROUP_LICENSE_ADMINS
from tenantry.licensing.models import PROCESSING_COMPLETE
from tenantry.web.admin_views import (
    GROUPS,
    assignable_pools,
    chosen_sku,
    disabled_plans,
    format_date,
    group_path,
    plan_states,
    sku_name,
    user_row,
)
from tenantry.web.dependencies import (
    Page,
    admin_form,
    admin_page,
    read_unit_of_work,
    text,
    unit_of_work,
)
from tenantry.web.rendering import WebRoute, language_of
from tenantry.web.shell import held_roles, may, reason, redirect_with_notice, render_admin

router = APIRouter(include_in_schema=False, route_class=WebRoute)

PAGE_SIZE = 50
MAX_ADDRESSES = 200
ERRORS_SHOWN = 20
REFRESH_SECONDS = 2
_SEPARATORS = re.compile(r"[\s,;]+")


def _group_row(language: str, group: Group, members: int | None = None) -> dict[str, Any]:
    return {
        "id": str(group.id),
        "path": group_path(group.id),
        "name": group.display_name,
        "description": group.description or "",
        "nickname": group.mail_nickname,
        "created": format_date(language, group.created_at),
        "members": members,
    }


async def _groups_page(
    request: Request,
    admin: Principal,
    *,
    q: str = "",
    after: str = "",
    status_code: int = 200,
    **context: Any,
) -> Response:
    language = language_of(request)
    search = q.replace('"', " ").strip()[:200]
    rows: list[dict[str, Any]] = []
    next_path = None
    try:
        async with read_unit_of_work(request) as db_session:
            found = await directory_groups.list_groups(
                db_session=db_session,
                tenant_id=admin.tenant.id,
                params=ListParams(search=search or None, top=PAGE_SIZE, skip_token=after or None),
            )
            group_ids = [group.id for group in found.items]
            counts = await directory_groups.member_counts(
                db_session=db_session, tenant_id=admin.tenant.id, group_ids=group_ids
            )
            licensing = await group_licensing.licensing_of_groups(
                db_session=db_session, tenant_id=admin.tenant.id, group_ids=group_ids
            )
        catalog: Catalog = request.app.state.catalog
        rows = [
            _group_row(language, group, counts.get(group.id, 0))
            | {
                "licenses": [
                    sku_name(catalog, item.sku_id) for item in licensing[group.id].licenses
                ],
                "processing": licensing[group.id].processing_state,
                "errors": licensing[group.id].has_members_with_errors,
            }
            for group in found.items
        ]
        if found.next_skip_token:
            kept = {"q": search} if search else {}
            next_path = f"{GROUPS}?{urlencode(kept | {'after': found.next_skip_token})}"
    except TenantryError as error:
        context.setdefault("error", reason(language, error))
        status_code = error.status_code if status_code == 200 else status_code
    held = await held_roles(request, admin)
    return render_admin(
        request,
        "directory/groups.html",
        principal=admin,
        section="groups",
        status_code=status_code,
        groups=rows,
        search=search,
        next_path=next_path,
        first_path=(f"{GROUPS}?{urlencode({'q': search})}" if search else GROUPS)
        if after
        else None,
        can_manage=may(held, *GROUP_MANAGERS),
        **context,
    )


@router.get(GROUPS)
async def groups_page(
    request: Request,
    q: str = "",
    after: str = "",
    page: Page = Depends(admin_page(*DIRECTORY_READERS)),
) -> Response:
    """The organization's groups with their member counts, and the form to create one."""
    return await _groups_page(request, page.principal, q=q, after=after[:2000])


@router.post(GROUPS)
async def create_group(
    request: Request, page: Page = Depends(admin_form(*GROUP_MANAGERS))
) -> Response:
    """Create a security group, then open it to add members."""
    entered = {
        "display_name": text(page.form, "display_name")[:300],
        "description": text(page.form, "description")[:1100],
    }
    try:
        async with unit_of_work(request) as db_session:
            group = await directory_groups.create_group(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                tenant_id=page.principal.tenant.id,
                display_name=entered["display_name"],
                description=entered["description"] or None,
            )
            group_id, name = group.id, group.display_name
    except TenantryError as error:
        return await _groups_page(
            request,
            page.principal,
            status_code=error.status_code,
            error=reason(page.language, error),
            form=entered,
        )
    return redirect_with_notice(request, group_path(group_id), "web.group.created", name=name)


# --- one group ------------------------------------------------------------------------------


async def _group_licensing(request: Request, group: Group, held: frozenset[str]) -> dict[str, Any]:
    """What the group gives, its processing state, its first members in error, and the
    organization's other products (to give), for the group's "Licenses" card."""
    language = language_of(request)
    catalog: Catalog = request.app.state.catalog
    async with read_unit_of_work(request) as db_session:
        licensing = await group_licensing.licensing_of_group(
            db_session=db_session, tenant_id=group.tenant_id, group_id=group.id
        )
        in_error, more = await group_licensing.members_with_errors(
            db_session=db_session, tenant_id=group.tenant_id, group_id=group.id, top=ERRORS_SHOWN
        )
        pools = await licensing_pools.get_pools(db_session=db_session, tenant_id=group.tenant_id)
    licenses = []
    for item in licensing.licenses:
        sku = catalog.sku_by_id(item.sku_id)
        licenses.append(
            {
                "sku_id": str(item.sku_id),
                "name": sku.display_name if sku else str(item.sku_id),
                "plans": plan_states(language, sku, item.disabled_plans),
            }
        )
    given = {entry["sku_id"] for entry in licenses}
    assignable = assignable_pools(language, catalog, pools, given)
    errors = [
        user_row(member.user)
        | {
            "problems": [
                {"name": sku_name(catalog, row.sku_id), "state": row.state, "error": row.error}
                for row in member.rows
                if row.state in group_licensing.ERROR_STATES
            ]
        }
        for member in in_error
    ]
    state = licensing.processing_state
    return {
        "licenses": licenses,
        "processing_state": state,
        "processing": state is not None and state != PROCESSING_COMPLETE,
        "errors": errors,
        "more_errors": more is not None,
        "assignable": assignable,
        "can_license": may(held, *GROUP_LICENSE_ADMINS),
    }


async def _group_page(
    request: Request,
    admin: Principal,
    group_id: str,
    *,
    after: str = "",
    status_code: int = 200,
    template: str = "directory/group.html",
    **context: Any,
) -> Response:
    async with read_unit_of_work(request) as db_session:
        group = await directory_groups.resolve_group(
            db_session=db_session, tenant_id=admin.tenant.id, key=group_id
        )
        members = await directory_groups.list_members(
            db_session=db_session,
            tenant_id=admin.tenant.id,
            group_id=group.id,
            params=ListParams(top=PAGE_SIZE, skip_token=after or None, count=True),
        )
    held = await held_roles(request, admin)
    path = group_path(group.id)
    licensing = await _group_licensing(request, group, held)
    return render_admin(
        request,
        template,
        principal=admin,
        section="groups",
        status_code=status_code,
        group=_group_row(language_of(request), group, members.count),
        members=[user_row(user) for user in members.items],
        next_path=(
            f"{path}?{urlencode({'after': members.next_skip_token})}"
            if members.next_skip_token
            else None
        ),
        first_path=path if after else None,
        licensing=licensing,
        refresh_seconds=REFRESH_SECONDS if licensing["processing"] else None,
        can_manage=may(held, *GROUP_MANAGERS),
        **context,
    )


@router.get(GROUPS + "/{group_id}")
async def group_page(
    group_id: str,
    request: Request,
    after: str = "",
    page: Page = Depends(admin_page(*DIRECTORY_READERS)),
) -> Response:
    """One group: its members (paged), the form to add several by address, its licenses."""
    return await _group_page(request, page.principal, group_id, after=after[:2000])


def addresses_of(text: str) -> list[str]:
    """The distinct addresses in a text typed or pasted with commas, semicolons or new lines."""
    return list(dict.fromkeys(part.lower() for part in _SEPARATORS.split(text) if part))


@router.post(GROUPS + "/{group_id}/members")
async def add_members(
    group_id: str, request: Request, page: Page = Depends(admin_form(*GROUP_MANAGERS))
) -> Response:
    """Add users by sign-in address; all or nothing, like `POST /v1/groups/{id}/members`."""
    language = page.language
    typed = text(page.form, "addresses")[:20_000]
    addresses = addresses_of(typed)
    problem = None
    if not addresses:
        problem = translate(language, "web.group.members.none_given")
    elif len(addresses) > MAX_ADDRESSES:
        problem = translate(language, "web.group.members.too_many", max=MAX_ADDRESSES)
    if problem is not None:
        return await _group_page(
            request,
            page.principal,
            group_id,
            status_code=400,
            error=problem,
            form={"addresses": typed},
        )
    async with unit_of_work(request) as db_session:
        group = await directory_groups.resolve_group(
            db_session=db_session, tenant_id=page.principal.tenant.id, key=group_id
        )
        found = await directory_users.get_many_by_principal_name(
            db_session=db_session, tenant_id=page.principal.tenant.id, principal_names=addresses
        )
        keys = {address: directory_users.principal_name_key(address) for address in addresses}
        unknown = [address for address in addresses if keys[address] not in found]
        added: list[uuid.UUID] = []
        if not unknown:
            added = await directory_groups.add_members(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                group=group,
                user_ids=[found[keys[address]].id for address in addresses],
            )
        name = group.display_name
    if unknown:
        return await _group_page(
            request,
            page.principal,
            group_id,
            status_code=404,
            error=translate(language, "web.group.members.unknown", addresses=", ".join(unknown)),
            form={"addresses": typed},
        )
    already = len(addresses) - len(added)
    key = "web.group.members.added" if not already else "web.group.members.added_some"
    return redirect_with_notice(
        request, group_path(group_id), key, name=name, added=len(added), already=already
    )


@router.post(GROUPS + "/{group_id}/members/{user_id}/remove")
async def remove_member(
    group_id: str,
    user_id: str,
    request: Request,
    page: Page = Depends(admin_form(*GROUP_MANAGERS)),
) -> Response:
    """Take a user out of the group."""
    try:
        async with unit_of_work(request) as db_session:
            group = await directory_groups.resolve_group(
                db_session=db_session, tenant_id=page.principal.tenant.id, key=group_id
            )
            user = await user_of(db_session, page.principal, user_id)
            await directory_groups.remove_member(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                group=group,
                user_id=user.id,
            )
            name, group_name = user.display_name, group.display_name
    except NotAMember as error:
        return await _group_page(
            request,
            page.principal,
            group_id,
            status_code=error.status_code,
            error=reason(page.language, error),
        )
    return redirect_with_notice(
        request, group_path(group_id), "web.group.members.removed", name=name, group=group_name
    )


@router.get(GROUPS + "/{group_id}/delete")
async def delete_page(
    group_id: str, request: Request, page: Page = Depends(admin_page(*GROUP_MANAGERS))
) -> Response:
    """Ask before deleting a group (its members stay)."""
    return await _group_page(
        request, page.principal, group_id, template="directory/group_delete.html"
    )


@router.post(GROUPS + "/{group_id}/delete")
async def delete_group(
    group_id: str, request: Request, page: Page = Depends(admin_form(*GROUP_MANAGERS))
) -> Response:
    """Delete the group and its memberships; a group that gives licenses is refused."""
    try:
        async with unit_of_work(request) as db_session:
            group = await directory_groups.resolve_group(
                db_session=db_session, tenant_id=page.principal.tenant.id, key=group_id
            )
            name = group.display_name
            await directory_groups.delete_group(
                db_session=db_session, actor=actor_of(request, page.principal), group=group
            )
    except TenantryError as error:
        if error.status_code == 404:
            raise
        return await _group_page(
            request,
            page.principal,
            group_id,
            template="directory/group_delete.html",
            status_code=error.status_code,
            error=reason(page.language, error),
        )
    return redirect_with_notice(request, GROUPS, "web.group.deleted", name=name)


# --- the group's licenses -------------------------------------------------------------------


async def _change_licensing(
    request: Request,
    page: Page,
    group_id: str,
    change: str,
) -> Response:
    """Give a license to the group (or change its apps), take one back, or reprocess."""
    language = page.language
    catalog: Catalog = request.app.state.catalog
    sku = None
    if change != "reprocess":
        sku = chosen_sku(catalog, page.form)
        if sku is None:
            return await _group_page(
                request,
                page.principal,
                group_id,
                status_code=400,
                error=translate(language, "web.user.license.choose"),
            )
    try:
        async with unit_of_work(request) as db_session:
            group = await directory_groups.resolve_group(
                db_session=db_session, tenant_id=page.principal.tenant.id, key=group_id
            )
            name = group.display_name
            actor = actor_of(request, page.principal)
            if sku is None:
                await group_licensing.reprocess_group(
                    db_session=db_session, actor=actor, group=group
                )
            elif change == "add":
                await group_licensing.set_licenses(
                    db_session=db_session,
                    catalog=catalog,
                    actor=actor,
                    group=group,
                    add=[(sku.sku_id, disabled_plans(sku, page.form))],
                    remove=[],
                )
            else:
                await group_licensing.set_licenses(
                    db_session=db_session,
                    catalog=catalog,
                    actor=actor,
                    group=group,
                    add=[],
                    remove=[sku.sku_id],
                )
    except TenantryError as error:
        if error.status_code == 404 and error.code == "notFound":
            raise
        return await _group_page(
            request,
            page.principal,
            group_id,
            status_code=error.status_code,
            error=reason(language, error, sku=sku.display_name if sku else ""),
        )
    if sku is None:
        return redirect_with_notice(
            request, group_path(group_id), "web.group.licenses.reprocessed", name=name
        )
    key = "web.group.licenses.assigned" if change == "add" else "web.group.licenses.removed"
    return redirect_with_notice(request, group_path(group_id), key, name=name, sku=sku.display_name)


@router.post(GROUPS + "/{group_id}/licenses")
async def assign_group_license(
    group_id: str, request: Request, page: Page = Depends(admin_form(*GROUP_LICENSE_ADMINS))
) -> Response:
    """Give the group's members a license (or change its apps), as the group's assignLicense."""
    return await _change_licensing(request, page, group_id, "add")


@router.post(GROUPS + "/{group_id}/licenses/remove")
async def remove_group_license(
    group_id: str, request: Request, page: Page = Depends(admin_form(*GROUP_LICENSE_ADMINS))
) -> Response:
    """Take a license back from the group: its members lose it unless they hold it otherwise."""
    return await _change_licensing(request, page, group_id, "remove")


@router.post(GROUPS + "/{group_id}/reprocess")
async def reprocess_group(
    group_id: str, request: Request, page: Page = Depends(admin_form(*GROUP_LICENSE_ADMINS))
) -> Response:
    """Process the group's licenses again for every member, retrying the errors."""
    return await _change_licensing(request, page, group_id, "reprocess")
