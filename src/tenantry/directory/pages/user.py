"""The admin center's page of one user: properties, sign-in, password, deletion, licenses.

Reading admits any admin role; changing the user takes User Administrator and
their licenses License or User Administrator, as `/v1/users/{id}` and
`/v1/users/{id}/assignLicense` do. A refused form shows the page again with the
reason in the page language; a reset password is shown once, on the answer.
Its paths (`/admin/users/{id}`) come after the fixed ones of `directory.pages.users`
and `directory.pages.user_import`, whose routers are registered first.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tenantry.auth import passwords as auth_passwords
from tenantry.catalog import Catalog
from tenantry.core.errors import TenantryError
from tenantry.core.i18n import translate
from tenantry.dependencies import Principal, actor_of, get_catalog
from tenantry.directory import events as directory_events
from tenantry.directory import flows as directory_flows
from tenantry.directory import groups as directory_groups
from tenantry.directory import passwords
from tenantry.directory import roles as directory_roles
from tenantry.directory import users as directory_users
from tenantry.directory.constants import DIRECTORY_READERS, USER_MANAGERS, Source
from tenantry.directory.pages.common import (
    MAX_NAME,
    MAX_PART_NAME,
    check_names,
    location_choices,
    sku_ids,
    user_of,
)
from tenantry.licensing import assignments as licensing_assignments
from tenantry.licensing import groups as group_licensing
from tenantry.licensing import pools as licensing_pools
from tenantry.licensing.constants import GROUP_LICENSE_ADMINS, LICENSE_ADMINS
from tenantry.licensing.models import CONSUMING_STATES, DISABLED
from tenantry.web.admin_views import (
    USERS,
    assignable_pools,
    chosen_sku,
    disabled_plans,
    format_date,
    format_time,
    group_path,
    plan_states,
    sku_name,
    user_path,
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


def _license_rows(
    language: str,
    catalog: Catalog,
    rows: list[Any],
    group_names: dict[uuid.UUID, str],
) -> list[dict[str, Any]]:
    """Each source of each license (Graph `licenseAssignmentStates`), for the table."""
    result = []
    for row in rows:
        sku = catalog.sku_by_id(row.sku_id)
        plans = plan_states(language, sku, row.disabled_plans or ())
        group = row.assigned_by_group
        result.append(
            {
                "sku_id": str(row.sku_id),
                "name": sku.display_name if sku else str(row.sku_id),
                "direct": group is None,
                "group": group_names.get(group, str(group)) if group else None,
                "group_path": group_path(group) if group else None,
                "plans": plans,
                "disabled": [plan["label"] for plan in plans if not plan["enabled"]],
                "state": row.state,
                "error": row.error if row.error and row.error != "None" else None,
            }
        )
    return result


async def _user_page(
    request: Request,
    admin: Principal,
    user_id: str,
    *,
    status_code: int = 200,
    template: str = "directory/user.html",
    **context: Any,
) -> Response:
    language = language_of(request)
    catalog = get_catalog(request)
    async with read_unit_of_work(request) as db_session:
        user = await user_of(db_session, admin, user_id)
        roles = await directory_roles.roles_of(
            db_session=db_session, tenant_id=admin.tenant.id, user_id=user.id
        )
        groups = await directory_groups.groups_of(
            db_session=db_session, tenant_id=admin.tenant.id, user_id=user.id
        )
        assignments, inactive = await group_licensing.license_states_of(
            db_session=db_session, tenant_id=admin.tenant.id, user_id=user.id
        )
        pools = await licensing_pools.get_pools(db_session=db_session, tenant_id=admin.tenant.id)
        owned = await directory_events.owned_properties(db_session=db_session, user=user)
    licenses = _license_rows(
        language, catalog, assignments, {group.id: group.display_name for group in groups}
    )
    for entry in licenses:
        # As Graph says it: a license of a suspended subscription gives no access now.
        if uuid.UUID(entry["sku_id"]) in inactive and entry["state"] in CONSUMING_STATES:
            entry["state"] = DISABLED
    direct = {entry["sku_id"] for entry in licenses if entry["direct"]}
    assignable = assignable_pools(language, catalog, pools, direct)
    held = await held_roles(request, admin)
    return render_admin(
        request,
        template,
        principal=admin,
        section="users",
        status_code=status_code,
        user=user_row(user)
        | {
            "given_name": user.given_name or "",
            "surname": user.surname or "",
            "created": format_date(language, user.created_at),
            "last_sign_in": format_time(language, user.last_sign_in_at),
            "must_change_password": user.must_change_password,
            "synced": user.source == Source.SYNCED.value,
            # The usage location the user's other directory sends is theirs to change.
            "location_synced": user.source == Source.SYNCED.value and "usageLocation" in owned,
        },
        user_roles=[translate(language, f"web.role.{role}") for role in roles],
        groups=[{"name": g.display_name, "path": group_path(g.id)} for g in groups],
        licenses=licenses,
        assignable=assignable,
        group_errors=any(not entry["direct"] and entry["error"] for entry in licenses),
        is_me=user.id == admin.user.id,
        can_manage=may(held, *USER_MANAGERS),
        can_license=may(held, *LICENSE_ADMINS),
        locations=location_choices(),
        **context,
    )


async def _refused(
    request: Request,
    admin: Principal,
    user_id: str,
    error: TenantryError,
    *,
    template: str = "directory/user.html",
    form: dict[str, Any] | None = None,
    **params: Any,
) -> Response:
    """The user's page again, saying why its form was refused; a user who is not there: 404."""
    if error.status_code == 404:
        raise error
    return await _user_page(
        request,
        admin,
        user_id,
        template=template,
        status_code=error.status_code,
        error=reason(language_of(request), error, **params),
        **({} if form is None else {"form": form}),
    )


@router.get(USERS + "/{user_id}")
async def user_page(
    user_id: str, request: Request, page: Page = Depends(admin_page(*DIRECTORY_READERS))
) -> Response:
    """One user: properties, sign-in, password, groups, roles and licenses with their states."""
    return await _user_page(request, page.principal, user_id)


@router.post(USERS + "/{user_id}")
async def update_user(
    user_id: str, request: Request, page: Page = Depends(admin_form(*USER_MANAGERS))
) -> Response:
    """Change the names and the usage location."""
    language = page.language
    entered = {
        "display_name": text(page.form, "display_name")[: MAX_NAME + 1],
        "given_name": text(page.form, "given_name")[: MAX_PART_NAME + 1],
        "surname": text(page.form, "surname")[: MAX_PART_NAME + 1],
        "usage_location": text(page.form, "usage_location")[:8],
    }
    problem = check_names(language, entered)
    if problem is not None:
        return await _user_page(
            request, page.principal, user_id, status_code=400, error=problem, form=entered
        )
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, page.principal, user_id)
            await directory_users.update(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                user=user,
                display_name=entered["display_name"],
                given_name=entered["given_name"] or None,
                surname=entered["surname"] or None,
                usage_location=entered["usage_location"] or None,
            )
            name = user.display_name
    except TenantryError as error:
        return await _refused(
            request, page.principal, user_id, error, form=entered, value=entered["usage_location"]
        )
    return redirect_with_notice(request, user_path(user_id), "web.user.saved", name=name)


@router.post(USERS + "/{user_id}/signin")
async def change_sign_in(
    user_id: str, request: Request, page: Page = Depends(admin_form(*USER_MANAGERS))
) -> Response:
    """Block sign-in (every session ends at once) or allow it again."""
    enabled = text(page.form, "enabled") == "true"
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, page.principal, user_id)
            await directory_users.update(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                user=user,
                account_enabled=enabled,
            )
            name = user.display_name
    except TenantryError as error:
        return await _refused(request, page.principal, user_id, error)
    key = "web.user.unblocked" if enabled else "web.user.blocked"
    return redirect_with_notice(request, user_path(user_id), key, name=name)


@router.post(USERS + "/{user_id}/password")
async def reset_password(
    user_id: str, request: Request, page: Page = Depends(admin_form(*USER_MANAGERS))
) -> Response:
    """A temporary password, shown once on the answer; the user changes it at next sign-in."""
    temporary = passwords.generate()
    password_hash = await passwords.hash_generated(temporary)
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, page.principal, user_id)
            await auth_passwords.reset_password(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                user=user,
                password_hash=password_hash,
            )
    except TenantryError as error:
        return await _refused(request, page.principal, user_id, error)
    return await _user_page(request, page.principal, user_id, temporary_password=temporary)


@router.get(USERS + "/{user_id}/delete")
async def delete_page(
    user_id: str, request: Request, page: Page = Depends(admin_page(*USER_MANAGERS))
) -> Response:
    """Ask before deleting a user."""
    return await _user_page(request, page.principal, user_id, template="directory/user_delete.html")


@router.post(USERS + "/{user_id}/delete")
async def delete_user(
    user_id: str, request: Request, page: Page = Depends(admin_form(*USER_MANAGERS))
) -> Response:
    """Delete the user for good: their licenses return to the pool."""
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, page.principal, user_id)
            name = user.display_name
            await directory_flows.delete_user(
                db_session=db_session, actor=actor_of(request, page.principal), user=user
            )
    except TenantryError as error:
        return await _refused(
            request, page.principal, user_id, error, template="directory/user_delete.html"
        )
    return redirect_with_notice(request, USERS, "web.user.deleted", name=name)


@router.post(USERS + "/{user_id}/licenses")
async def assign_license(
    user_id: str, request: Request, page: Page = Depends(admin_form(*LICENSE_ADMINS))
) -> Response:
    """Give a license directly, or change which of its service plans are on (`assignLicense`)."""
    catalog = get_catalog(request)
    sku = chosen_sku(catalog, page.form)
    if sku is None:
        return await _user_page(
            request,
            page.principal,
            user_id,
            status_code=400,
            error=translate(page.language, "web.user.license.choose"),
        )
    disabled = disabled_plans(sku, page.form)
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, page.principal, user_id)
            await licensing_assignments.change_licenses(
                db_session=db_session,
                catalog=catalog,
                actor=actor_of(request, page.principal),
                tenant_id=page.principal.tenant.id,
                user=user,
                add=[(sku.sku_id, disabled)],
                remove=[],
            )
            name = user.display_name
    except TenantryError as error:
        return await _refused(request, page.principal, user_id, error, sku=sku.display_name)
    return redirect_with_notice(
        request, user_path(user_id), "web.user.license.assigned", name=name, sku=sku.display_name
    )


@router.post(USERS + "/{user_id}/licenses/remove")
async def remove_license(
    user_id: str, request: Request, page: Page = Depends(admin_form(*LICENSE_ADMINS))
) -> Response:
    """Take a direct license away (inherited ones go with the group)."""
    catalog = get_catalog(request)
    chosen = sku_ids([text(page.form, "sku")])
    if not chosen:
        return await _user_page(
            request,
            page.principal,
            user_id,
            status_code=400,
            error=translate(page.language, "web.user.license.choose"),
        )
    shown = sku_name(catalog, chosen[0])
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, page.principal, user_id)
            await licensing_assignments.change_licenses(
                db_session=db_session,
                catalog=catalog,
                actor=actor_of(request, page.principal),
                tenant_id=page.principal.tenant.id,
                user=user,
                add=[],
                remove=chosen,
            )
            name = user.display_name
    except TenantryError as error:
        return await _refused(request, page.principal, user_id, error, sku=shown)
    return redirect_with_notice(
        request, user_path(user_id), "web.user.license.removed", name=name, sku=shown
    )


@router.post(USERS + "/{user_id}/reprocess")
async def reprocess_user(
    user_id: str, request: Request, page: Page = Depends(admin_form(*GROUP_LICENSE_ADMINS))
) -> Response:
    """Apply the user's group licenses again now (errors retried, e.g. after buying more)."""
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, page.principal, user_id)
            tally = await group_licensing.reprocess_user(
                db_session=db_session,
                catalog=get_catalog(request),
                actor=actor_of(request, page.principal),
                user=user,
            )
            name = user.display_name
    except TenantryError as error:
        return await _refused(request, page.principal, user_id, error)
    key = "web.user.license.reprocessed_errors" if tally.failed else "web.user.license.reprocessed"
    return redirect_with_notice(request, user_path(user_id), key, name=name)
