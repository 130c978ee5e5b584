"""The admin center's Users pages: the list, adding a user, writing to everyone.

Each page admits the roles of the API route it stands for (`/v1/users`,
`/v1/organization/sendMessage`) and calls the same services and flows. A
refused form comes back with its input and the reason in the page language.
A new user's generated password is shown once, on the page that answers the
form, and never travels in a redirect or a cookie. One user's pages are in
`directory.pages.user`, the CSV import in `directory.pages.user_import`.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tenantry.core.errors import TenantryError
from tenantry.core.i18n import translate
from tenantry.dependencies import Principal, actor_of, get_catalog
from tenantry.directory import flows as directory_flows
from tenantry.directory import users as directory_users
from tenantry.directory.constants import DIRECTORY_READERS, USER_MANAGERS
from tenantry.directory.pages.common import (
    MAX_NAME,
    MAX_PART_NAME,
    check_names,
    location_choices,
    sku_ids,
)
from tenantry.directory.query import ListParams
from tenantry.directory.schemas import OrganizationMessage
from tenantry.domains import names
from tenantry.domains import service as domain_service
from tenantry.licensing import overview
from tenantry.licensing import pools as licensing_pools
from tenantry.signup.flows import check_password_strength
from tenantry.web.admin_views import USERS, pool_view, sku_name, user_row
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

PAGE_SIZE = 25
MESSAGE = USERS + "/message"
NEW = USERS + "/new"
STATUSES = ("all", "enabled", "blocked")


# --- the list -------------------------------------------------------------------------------


def _list_filter(status: str, location: str | None) -> str | None:
    """The `$filter` of the list's status and usage location choices."""
    conditions = []
    if status == "enabled":
        conditions.append("accountEnabled eq true")
    elif status == "blocked":
        conditions.append("accountEnabled eq false")
    if location:
        conditions.append(f"usageLocation eq '{location}'")
    return " and ".join(conditions) or None


def _list_query(**values: str) -> str:
    kept = {name: value for name, value in values.items() if value and value != "all"}
    return f"{USERS}?{urlencode(kept)}" if kept else USERS


@router.get(USERS)
async def users_page(
    request: Request,
    q: str = "",
    status: str = "all",
    location: str = "",
    after: str = "",
    page: Page = Depends(admin_page(*DIRECTORY_READERS)),
) -> Response:
    """The organization's users: search, filters by sign-in status and usage location, pages."""
    language = page.language
    catalog = get_catalog(request)
    search = q.replace('"', " ").strip()[:200]
    status = status if status in STATUSES else "all"
    location = location.strip()[:8]
    shown = {"q": search, "status": status, "location": location.upper()}
    rows: list[dict[str, Any]] = []
    next_path = None
    count = 0
    error = None
    status_code = 200
    try:
        code = directory_users.normalize_usage_location(location)
        params = ListParams(
            filter=_list_filter(status, code),
            search=search or None,
            top=PAGE_SIZE,
            skip_token=after[:2000] or None,
            count=True,
        )
        async with read_unit_of_work(request) as db_session:
            found = await directory_users.list_users(
                db_session=db_session, tenant_id=page.principal.tenant.id, params=params
            )
            held = await overview.skus_by_user(
                db_session=db_session,
                tenant_id=page.principal.tenant.id,
                user_ids=[user.id for user in found.items],
            )
        rows = [
            user_row(user, [sku_name(catalog, sku_id) for sku_id in held.get(user.id, [])])
            for user in found.items
        ]
        count = found.count or 0
        if found.next_skip_token:
            next_path = _list_query(**shown, after=found.next_skip_token)
    except TenantryError as exc:
        error = reason(language, exc, value=location)
        status_code = exc.status_code
    roles = await held_roles(request, page.principal)
    return render_admin(
        request,
        "directory/users.html",
        principal=page.principal,
        section="users",
        status_code=status_code,
        error=error,
        users=rows,
        count=count,
        filters=shown,
        filtered=bool(search or status != "all" or location),
        next_path=next_path,
        first_path=_list_query(**shown) if after else None,
        locations=location_choices(),
        can_manage=may(roles, *USER_MANAGERS),
    )


# --- add a user -----------------------------------------------------------------------------


async def _new_user_page(
    request: Request,
    admin: Principal,
    *,
    status_code: int = 200,
    form: dict[str, Any] | None = None,
    **context: Any,
) -> Response:
    catalog = get_catalog(request)
    async with read_unit_of_work(request) as db_session:
        domains = await domain_service.get_all(db_session=db_session, tenant_id=admin.tenant.id)
        pools = await licensing_pools.get_pools(db_session=db_session, tenant_id=admin.tenant.id)
    verified = [d for d in domains if d.is_verified]
    default = next((d.name for d in verified if d.is_default), verified[0].name if verified else "")
    entered = {
        "display_name": "",
        "given_name": "",
        "surname": "",
        "username": "",
        "domain": default,
        "usage_location": "",
        "password_mode": "generate",
        "force_change": True,
        "skus": [],
    }
    entered.update(form or {})
    return render_admin(
        request,
        "directory/user_new.html",
        principal=admin,
        section="users",
        status_code=status_code,
        form=entered,
        domains=[{"name": d.name, "display": names.display(d.name)} for d in verified],
        pools=[
            view
            for view in (pool_view(pool, catalog) for pool in pools)
            if view["status"] != "Deleted"
        ],
        locations=location_choices(),
        **context,
    )


@router.get(NEW)
async def new_user_page(
    request: Request, page: Page = Depends(admin_page(*USER_MANAGERS))
) -> Response:
    """The form to add a user: names, address on a verified domain, usage location, password."""
    return await _new_user_page(request, page.principal)


@router.post(USERS)
async def add_user(request: Request, page: Page = Depends(admin_form(*USER_MANAGERS))) -> Response:
    """Add a user (and the licenses ticked); the page then shows the temporary password once."""
    language = page.language
    entered: dict[str, Any] = {
        "display_name": text(page.form, "display_name")[: MAX_NAME + 1],
        "given_name": text(page.form, "given_name")[: MAX_PART_NAME + 1],
        "surname": text(page.form, "surname")[: MAX_PART_NAME + 1],
        "username": text(page.form, "username")[:320],
        "domain": text(page.form, "domain")[:253],
        "usage_location": text(page.form, "usage_location")[:8],
        "password_mode": "choose" if text(page.form, "password_mode") == "choose" else "generate",
        "force_change": text(page.form, "force_change") == "on",
        "skus": [str(sku_id) for sku_id in sku_ids(page.form.getlist("sku"))],
    }
    username = entered["username"]
    address = username if "@" in username else f"{username}@{entered['domain']}"
    password = None
    if entered["password_mode"] == "choose":
        password = text(page.form, "password", strip=False)[:256]
    problem = check_names(language, entered)
    if problem is None and password is not None and not password:
        problem = translate(language, "web.users.error.password_missing")
    if problem is not None:
        return await _new_user_page(
            request, page.principal, status_code=400, form=entered, error=problem
        )
    try:
        if password is not None:
            check_password_strength(password, email=address)
        password_hash, generated = await directory_flows.prepare_password(password)
        async with unit_of_work(request) as db_session:
            user = await directory_flows.create_user(
                db_session=db_session,
                catalog=get_catalog(request),
                actor=actor_of(request, page.principal),
                tenant_id=page.principal.tenant.id,
                principal_name=address,
                display_name=entered["display_name"],
                password_hash=password_hash,
                must_change_password=generated is not None or entered["force_change"],
                given_name=entered["given_name"] or None,
                surname=entered["surname"] or None,
                usage_location=entered["usage_location"] or None,
                licenses=[
                    directory_flows.LicenseRequest(sku_id=uuid.UUID(sku_id))
                    for sku_id in entered["skus"]
                ],
            )
            created = user_row(user)
            licensed = [sku_name(get_catalog(request), uuid.UUID(s)) for s in entered["skus"]]
    except TenantryError as error:
        return await _new_user_page(
            request,
            page.principal,
            status_code=error.status_code,
            form=entered,
            error=reason(language, error, address=address.lower(), value=entered["usage_location"]),
        )
    return render_admin(
        request,
        "directory/user_created.html",
        principal=page.principal,
        section="users",
        status_code=201,
        created=created,
        licenses=licensed,
        temporary_password=generated,
    )


# --- write to all users ---------------------------------------------------------------------


async def _message_page(
    request: Request, admin: Principal, *, status_code: int = 200, **context: Any
) -> Response:
    async with read_unit_of_work(request) as db_session:
        active = await directory_users.list_users(
            db_session=db_session,
            tenant_id=admin.tenant.id,
            params=ListParams(filter="accountEnabled eq true", top=1, count=True),
        )
    return render_admin(
        request,
        "directory/message.html",
        principal=admin,
        section="users",
        status_code=status_code,
        recipients=active.count or 0,
        **context,
    )


@router.get(MESSAGE)
async def message_page(
    request: Request, page: Page = Depends(admin_page(*USER_MANAGERS))
) -> Response:
    """The form to email everyone in the organization who can sign in."""
    return await _message_page(request, page.principal)


@router.post(MESSAGE)
async def send_message(
    request: Request, page: Page = Depends(admin_form(*USER_MANAGERS))
) -> Response:
    """Email every active user through the outbox, then back to the list with how many."""
    entered = {"subject": text(page.form, "subject"), "body": text(page.form, "body")}
    try:
        message = OrganizationMessage(subject=entered["subject"], body=entered["body"])
    except ValidationError:
        return await _message_page(
            request,
            page.principal,
            status_code=400,
            form=entered,
            error=translate(page.language, "web.message.invalid"),
        )
    async with unit_of_work(request) as db_session:
        count = await directory_flows.write_to_all_users(
            db_session=db_session,
            actor=actor_of(request, page.principal),
            organization=page.principal.tenant.display_name,
            sender=page.principal.user,
            subject=message.subject,
            body=message.body,
        )
    key = "web.message.sent.one" if count == 1 else "web.message.sent.other"
    return redirect_with_notice(request, USERS, key, count=count)
