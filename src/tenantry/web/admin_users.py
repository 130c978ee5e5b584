"""The admin center's Users pages: list, add, details, licenses, CSV import, write to everyone.

Each page admits the roles of the API route it stands for (`/v1/users`,
`/v1/users/import`, `/v1/users/{id}/assignLicense`, `/v1/organization/sendMessage`)
and calls the same services and flows. A refused form comes back with its input
and the reason in the page language. Passwords the server generates (a new
user's, a reset, an import's) are shown once, on the page that answers the
form, and never travel in a redirect or a cookie.
"""

from __future__ import annotations

import base64
import csv
import io
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from tenantry.catalog import Catalog
from tenantry.core.bodylimit import allow_larger_body
from tenantry.core.errors import TenantryError
from tenantry.core.i18n import translate
from tenantry.dependencies import SESSION_COOKIE, Principal, actor_of, web_principal
from tenantry.directory import flows as directory_flows
from tenantry.directory import passwords
from tenantry.directory import service as directory_service
from tenantry.directory.constants import (
    DIRECTORY_READERS,
    MAX_IMPORT_BODY_BYTES,
    MAX_IMPORT_BYTES,
    USAGE_LOCATIONS,
    USER_MANAGERS,
    Source,
)
from tenantry.directory.exceptions import RequestTooLarge
from tenantry.directory.query import ListParams
from tenantry.directory.schemas import OrganizationMessage
from tenantry.domains import names
from tenantry.domains import service as domain_service
from tenantry.licensing import groups as group_licensing
from tenantry.licensing import overview
from tenantry.licensing import service as licensing_service
from tenantry.licensing.constants import GROUP_LICENSE_ADMINS, LICENSE_ADMINS
from tenantry.licensing.models import CONSUMING_STATES, DISABLED
from tenantry.signup.flows import check_password_strength
from tenantry.web import csrf
from tenantry.web.admin_views import (
    USERS,
    assignable_pools,
    chosen_sku,
    disabled_plans,
    format_date,
    format_time,
    group_path,
    plan_states,
    pool_view,
    sku_name,
    user_path,
    user_row,
)
from tenantry.web.rendering import WebRoute, language_of, settings_of
from tenantry.web.routes import checked_form, read_unit_of_work, text, unit_of_work
from tenantry.web.shell import (
    admin_gate,
    held_roles,
    may,
    reason,
    redirect_with_notice,
    render_admin,
    user_of,
)

router = APIRouter(include_in_schema=False, route_class=WebRoute)

PAGE_SIZE = 25
IMPORT = USERS + "/import"
MESSAGE = USERS + "/message"
NEW = USERS + "/new"
STATUSES = ("all", "enabled", "blocked")
TEMPLATE_COLUMNS = (
    "userPrincipalName",
    "displayName",
    "givenName",
    "surname",
    "usageLocation",
    "password",
    "accountEnabled",
)
MAX_NAME = 256
MAX_MEGABYTES = MAX_IMPORT_BYTES // 1024 // 1024
MAX_PART_NAME = 128


def _catalog(request: Request) -> Catalog:
    return request.app.state.catalog


def _location_choices() -> list[str]:
    return sorted(USAGE_LOCATIONS)


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
    principal: Principal | None = Depends(web_principal),
) -> Response:
    """The organization's users: search, filters by sign-in status and usage location, pages."""
    admin = await admin_gate(request, principal, *DIRECTORY_READERS)
    if isinstance(admin, Response):
        return admin
    language = language_of(request)
    catalog = _catalog(request)
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
        code = directory_service.normalize_usage_location(location)
        params = ListParams(
            filter=_list_filter(status, code),
            search=search or None,
            top=PAGE_SIZE,
            skip_token=after[:2000] or None,
            count=True,
        )
        async with read_unit_of_work(request) as db_session:
            found = await directory_service.list_users(
                db_session=db_session, tenant_id=admin.tenant.id, params=params
            )
            held = await overview.skus_by_user(
                db_session=db_session,
                tenant_id=admin.tenant.id,
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
    roles = await held_roles(request, admin)
    return render_admin(
        request,
        "admin/users.html",
        principal=admin,
        section="users",
        status_code=status_code,
        error=error,
        users=rows,
        count=count,
        filters=shown,
        filtered=bool(search or status != "all" or location),
        next_path=next_path,
        first_path=_list_query(**shown) if after else None,
        locations=_location_choices(),
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
    catalog = _catalog(request)
    async with read_unit_of_work(request) as db_session:
        domains = await domain_service.get_all(db_session=db_session, tenant_id=admin.tenant.id)
        pools = await licensing_service.get_pools(db_session=db_session, tenant_id=admin.tenant.id)
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
        "admin/user_new.html",
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
        locations=_location_choices(),
        **context,
    )


@router.get(NEW)
async def new_user_page(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """The form to add a user: names, address on a verified domain, usage location, password."""
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    return await _new_user_page(request, admin)


def _sku_ids(values: list[Any]) -> list[uuid.UUID]:
    chosen: list[uuid.UUID] = []
    for value in values[:20]:
        try:
            sku_id = uuid.UUID(str(value))
        except ValueError:
            continue
        if sku_id not in chosen:
            chosen.append(sku_id)
    return chosen


def _check_names(language: str, entered: dict[str, Any]) -> str | None:
    """Why the names cannot be used, or None."""
    if not entered["display_name"] or len(entered["display_name"]) > MAX_NAME:
        return translate(language, "web.users.error.display_name", max=MAX_NAME)
    if len(entered["given_name"]) > MAX_PART_NAME or len(entered["surname"]) > MAX_PART_NAME:
        return translate(language, "web.users.error.name_too_long", max=MAX_PART_NAME)
    return None


@router.post(USERS)
async def add_user(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Add a user (and the licenses ticked); the page then shows the temporary password once."""
    form = await checked_form(request)
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    language = language_of(request)
    entered: dict[str, Any] = {
        "display_name": text(form, "display_name")[: MAX_NAME + 1],
        "given_name": text(form, "given_name")[: MAX_PART_NAME + 1],
        "surname": text(form, "surname")[: MAX_PART_NAME + 1],
        "username": text(form, "username")[:320],
        "domain": text(form, "domain")[:253],
        "usage_location": text(form, "usage_location")[:8],
        "password_mode": "choose" if text(form, "password_mode") == "choose" else "generate",
        "force_change": text(form, "force_change") == "on",
        "skus": [str(sku_id) for sku_id in _sku_ids(form.getlist("sku"))],
    }
    username = entered["username"]
    address = username if "@" in username else f"{username}@{entered['domain']}"
    password = None
    if entered["password_mode"] == "choose":
        password = text(form, "password", strip=False)[:256]
    problem = _check_names(language, entered)
    if problem is None and password is not None and not password:
        problem = translate(language, "web.users.error.password_missing")
    if problem is not None:
        return await _new_user_page(request, admin, status_code=400, form=entered, error=problem)
    try:
        if password is not None:
            check_password_strength(password, email=address)
        password_hash, generated = await directory_flows.prepare_password(password)
        async with unit_of_work(request) as db_session:
            user = await directory_flows.create_user(
                db_session=db_session,
                catalog=_catalog(request),
                actor=actor_of(request, admin),
                tenant_id=admin.tenant.id,
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
            licensed = [sku_name(_catalog(request), uuid.UUID(s)) for s in entered["skus"]]
    except TenantryError as error:
        return await _new_user_page(
            request,
            admin,
            status_code=error.status_code,
            form=entered,
            error=reason(language, error, address=address.lower(), value=entered["usage_location"]),
        )
    return render_admin(
        request,
        "admin/user_created.html",
        principal=admin,
        section="users",
        status_code=201,
        created=created,
        licenses=licensed,
        temporary_password=generated,
    )


# --- CSV import -----------------------------------------------------------------------------


def _import_page(
    request: Request, admin: Principal, *, status_code: int = 200, error: str | None = None
) -> Response:
    return render_admin(
        request,
        "admin/import.html",
        principal=admin,
        section="users",
        status_code=status_code,
        error=error,
        columns=TEMPLATE_COLUMNS,
        max_megabytes=MAX_MEGABYTES,
    )


@router.get(IMPORT)
async def import_page(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Upload a CSV file of users (the columns of `POST /v1/users/import`)."""
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    return _import_page(request, admin)


@router.get(IMPORT + "/template.csv")
async def import_template(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """A CSV file with the import's header and two example rows."""
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    async with read_unit_of_work(request) as db_session:
        domains = await domain_service.get_all(db_session=db_session, tenant_id=admin.tenant.id)
    domain = next((d.name for d in domains if d.is_default), "contoso.com")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(TEMPLATE_COLUMNS)
    writer.writerow([f"alain@{domain}", "Alain Martin", "Alain", "Martin", "FR", "", "Yes"])
    writer.writerow([f"chloe@{domain}", "Chloé Dubois", "Chloé", "Dubois", "BE", "", "Yes"])
    return Response(
        buffer.getvalue().encode("utf-8-sig"),  # with a BOM, so Excel reads the accents
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="tenantry-users.csv"',
            "Cache-Control": "no-store",
        },
    )


async def _import_form(request: Request) -> FormData:
    """The upload form, size-capped, once its CSRF token has been checked."""
    allow_larger_body(request.scope, MAX_IMPORT_BODY_BYTES)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES + 64 * 1024:
        raise RequestTooLarge(f"The file is larger than {MAX_MEGABYTES} MB.")
    form = await request.form(max_files=1, max_fields=10)
    csrf.verify(request, form, settings_of(request), session_cookie=SESSION_COOKIE)
    return form


async def _uploaded(form: FormData) -> bytes | None:
    """The uploaded file's bytes; None when no file was chosen."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(MAX_IMPORT_BYTES + 1)
    await form.close()
    if len(data) > MAX_IMPORT_BYTES:
        raise RequestTooLarge(f"The file is larger than {MAX_MEGABYTES} MB.")
    return data


def _report_rows(language: str, rows: list[directory_flows.ImportRow]) -> list[dict[str, Any]]:
    report = []
    for row in rows:
        created = row.user is not None
        report.append(
            {
                "row": row.row,
                "address": row.principal_name or "",
                "name": row.values.get("displayName", ""),
                "created": created,
                "path": user_path(row.user.id) if row.user is not None else None,
                "password": row.generated_password if created else None,
                "code": row.error.code if row.error is not None and not created else "",
                "message": (
                    reason(
                        language,
                        row.error,
                        address=row.principal_name or "",
                        value=row.values.get("usageLocation", ""),
                    )
                    if row.error is not None and not created
                    else ""
                ),
            }
        )
    return report


def _report_download(report: list[dict[str, Any]]) -> str:
    """The report as a CSV `data:` link: the temporary passwords exist only on this page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["row", "userPrincipalName", "status", "error", "message", "temporaryPassword"])
    for entry in report:
        writer.writerow(
            [
                entry["row"],
                entry["address"],
                "created" if entry["created"] else "failed",
                entry["code"],
                entry["message"],
                entry["password"] or "",
            ]
        )
    encoded = base64.b64encode(buffer.getvalue().encode("utf-8-sig")).decode()
    return f"data:text/csv;charset=utf-8;base64,{encoded}"


@router.post(IMPORT)
async def import_users(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Add the file's users: each row's outcome in a table, a bad row stops nothing."""
    form = await _import_form(request)
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    language = language_of(request)
    data = await _uploaded(form)
    if data is None:
        return _import_page(
            request, admin, status_code=400, error=translate(language, "web.import.no_file")
        )
    try:
        rows = directory_flows.read_csv(data)
        for row in rows:
            directory_flows.check_row(row)
        await directory_flows.hash_rows(rows)  # before the transaction: no lock waits on argon2
        async with unit_of_work(request) as db_session:
            done = await directory_flows.import_users(
                db_session=db_session,
                actor=actor_of(request, admin),
                tenant_id=admin.tenant.id,
                rows=rows,
            )
    except TenantryError as error:
        return _import_page(
            request,
            admin,
            status_code=error.status_code,
            error=reason(language, error, max=MAX_MEGABYTES),
        )
    report = _report_rows(language, done)
    created = sum(1 for entry in report if entry["created"])
    return render_admin(
        request,
        "admin/import_report.html",
        principal=admin,
        section="users",
        report=report,
        total=len(report),
        created=created,
        failed=len(report) - created,
        passwords=any(entry["password"] for entry in report),
        download=_report_download(report),
    )


# --- write to all users ---------------------------------------------------------------------


async def _message_page(
    request: Request, admin: Principal, *, status_code: int = 200, **context: Any
) -> Response:
    async with read_unit_of_work(request) as db_session:
        active = await directory_service.list_users(
            db_session=db_session,
            tenant_id=admin.tenant.id,
            params=ListParams(filter="accountEnabled eq true", top=1, count=True),
        )
    return render_admin(
        request,
        "admin/message.html",
        principal=admin,
        section="users",
        status_code=status_code,
        recipients=active.count or 0,
        **context,
    )


@router.get(MESSAGE)
async def message_page(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """The form to email everyone in the organization who can sign in."""
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    return await _message_page(request, admin)


@router.post(MESSAGE)
async def send_message(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Email every active user through the outbox, then back to the list with how many."""
    form = await checked_form(request)
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    entered = {"subject": text(form, "subject"), "body": text(form, "body")}
    try:
        message = OrganizationMessage(subject=entered["subject"], body=entered["body"])
    except ValidationError:
        return await _message_page(
            request,
            admin,
            status_code=400,
            form=entered,
            error=translate(language_of(request), "web.message.invalid"),
        )
    async with unit_of_work(request) as db_session:
        count = await directory_flows.write_to_all_users(
            db_session=db_session,
            actor=actor_of(request, admin),
            organization=admin.tenant.display_name,
            sender=admin.user,
            subject=message.subject,
            body=message.body,
        )
    key = "web.message.sent.one" if count == 1 else "web.message.sent.other"
    return redirect_with_notice(request, USERS, key, count=count)


# --- one user -------------------------------------------------------------------------------


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
    template: str = "admin/user.html",
    **context: Any,
) -> Response:
    language = language_of(request)
    catalog = _catalog(request)
    async with read_unit_of_work(request) as db_session:
        user = await user_of(db_session, admin, user_id)
        roles = await directory_service.roles_of(
            db_session=db_session, tenant_id=admin.tenant.id, user_id=user.id
        )
        groups = await directory_service.groups_of(
            db_session=db_session, tenant_id=admin.tenant.id, user_id=user.id
        )
        assignments, inactive = await group_licensing.license_states_of(
            db_session=db_session, tenant_id=admin.tenant.id, user_id=user.id
        )
        pools = await licensing_service.get_pools(db_session=db_session, tenant_id=admin.tenant.id)
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
        },
        user_roles=[translate(language, f"web.role.{role}") for role in roles],
        groups=[{"name": g.display_name, "path": group_path(g.id)} for g in groups],
        licenses=licenses,
        assignable=assignable,
        group_errors=any(not entry["direct"] and entry["error"] for entry in licenses),
        is_me=user.id == admin.user.id,
        can_manage=may(held, *USER_MANAGERS),
        can_license=may(held, *LICENSE_ADMINS),
        locations=_location_choices(),
        **context,
    )


async def _refused(
    request: Request,
    admin: Principal,
    user_id: str,
    error: TenantryError,
    *,
    template: str = "admin/user.html",
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
    user_id: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """One user: properties, sign-in, password, groups, roles and licenses with their states."""
    admin = await admin_gate(request, principal, *DIRECTORY_READERS)
    if isinstance(admin, Response):
        return admin
    return await _user_page(request, admin, user_id)


@router.post(USERS + "/{user_id}")
async def update_user(
    user_id: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Change the names and the usage location."""
    form = await checked_form(request)
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    language = language_of(request)
    entered = {
        "display_name": text(form, "display_name")[: MAX_NAME + 1],
        "given_name": text(form, "given_name")[: MAX_PART_NAME + 1],
        "surname": text(form, "surname")[: MAX_PART_NAME + 1],
        "usage_location": text(form, "usage_location")[:8],
    }
    problem = _check_names(language, entered)
    if problem is not None:
        return await _user_page(
            request, admin, user_id, status_code=400, error=problem, form=entered
        )
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, admin, user_id)
            await directory_service.update(
                db_session=db_session,
                actor=actor_of(request, admin),
                user=user,
                display_name=entered["display_name"],
                given_name=entered["given_name"] or None,
                surname=entered["surname"] or None,
                usage_location=entered["usage_location"] or None,
            )
            name = user.display_name
    except TenantryError as error:
        return await _refused(
            request, admin, user_id, error, form=entered, value=entered["usage_location"]
        )
    return redirect_with_notice(request, user_path(user_id), "web.user.saved", name=name)


@router.post(USERS + "/{user_id}/signin")
async def change_sign_in(
    user_id: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Block sign-in (every session ends at once) or allow it again."""
    form = await checked_form(request)
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    enabled = text(form, "enabled") == "true"
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, admin, user_id)
            await directory_service.update(
                db_session=db_session,
                actor=actor_of(request, admin),
                user=user,
                account_enabled=enabled,
            )
            name = user.display_name
    except TenantryError as error:
        return await _refused(request, admin, user_id, error)
    key = "web.user.unblocked" if enabled else "web.user.blocked"
    return redirect_with_notice(request, user_path(user_id), key, name=name)


@router.post(USERS + "/{user_id}/password")
async def reset_password(
    user_id: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """A temporary password, shown once on the answer; the user changes it at next sign-in."""
    await checked_form(request)
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    temporary = passwords.generate()
    password_hash = await passwords.hash_generated(temporary)
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, admin, user_id)
            await directory_service.reset_password(
                db_session=db_session,
                actor=actor_of(request, admin),
                user=user,
                password_hash=password_hash,
            )
    except TenantryError as error:
        return await _refused(request, admin, user_id, error)
    return await _user_page(request, admin, user_id, temporary_password=temporary)


@router.get(USERS + "/{user_id}/delete")
async def delete_page(
    user_id: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Ask before deleting a user."""
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    return await _user_page(request, admin, user_id, template="admin/user_delete.html")


@router.post(USERS + "/{user_id}/delete")
async def delete_user(
    user_id: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Delete the user for good: their licenses return to the pool."""
    await checked_form(request)
    admin = await admin_gate(request, principal, *USER_MANAGERS)
    if isinstance(admin, Response):
        return admin
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, admin, user_id)
            name = user.display_name
            await directory_flows.delete_user(
                db_session=db_session, actor=actor_of(request, admin), user=user
            )
    except TenantryError as error:
        return await _refused(request, admin, user_id, error, template="admin/user_delete.html")
    return redirect_with_notice(request, USERS, "web.user.deleted", name=name)


@router.post(USERS + "/{user_id}/licenses")
async def assign_license(
    user_id: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Give a license directly, or change which of its service plans are on (`assignLicense`)."""
    form = await checked_form(request)
    admin = await admin_gate(request, principal, *LICENSE_ADMINS)
    if isinstance(admin, Response):
        return admin
    catalog = _catalog(request)
    sku = chosen_sku(catalog, form)
    if sku is None:
        return await _user_page(
            request,
            admin,
            user_id,
            status_code=400,
            error=translate(language_of(request), "web.user.license.choose"),
        )
    disabled = disabled_plans(sku, form)
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, admin, user_id)
            await licensing_service.change_licenses(
                db_session=db_session,
                catalog=catalog,
                actor=actor_of(request, admin),
                tenant_id=admin.tenant.id,
                user=user,
                add=[(sku.sku_id, disabled)],
                remove=[],
            )
            name = user.display_name
    except TenantryError as error:
        return await _refused(request, admin, user_id, error, sku=sku.display_name)
    return redirect_with_notice(
        request, user_path(user_id), "web.user.license.assigned", name=name, sku=sku.display_name
    )


@router.post(USERS + "/{user_id}/licenses/remove")
async def remove_license(
    user_id: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Take a direct license away (inherited ones go with the group)."""
    form = await checked_form(request)
    admin = await admin_gate(request, principal, *LICENSE_ADMINS)
    if isinstance(admin, Response):
        return admin
    catalog = _catalog(request)
    chosen = _sku_ids([text(form, "sku")])
    if not chosen:
        return await _user_page(
            request,
            admin,
            user_id,
            status_code=400,
            error=translate(language_of(request), "web.user.license.choose"),
        )
    shown = sku_name(catalog, chosen[0])
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, admin, user_id)
            await licensing_service.change_licenses(
                db_session=db_session,
                catalog=catalog,
                actor=actor_of(request, admin),
                tenant_id=admin.tenant.id,
                user=user,
                add=[],
                remove=chosen,
            )
            name = user.display_name
    except TenantryError as error:
        return await _refused(request, admin, user_id, error, sku=shown)
    return redirect_with_notice(
        request, user_path(user_id), "web.user.license.removed", name=name, sku=shown
    )


@router.post(USERS + "/{user_id}/reprocess")
async def reprocess_user(
    user_id: str, request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Apply the user's group licenses again now (errors retried, e.g. after buying more)."""
    await checked_form(request)
    admin = await admin_gate(request, principal, *GROUP_LICENSE_ADMINS)
    if isinstance(admin, Response):
        return admin
    try:
        async with unit_of_work(request) as db_session:
            user = await user_of(db_session, admin, user_id)
            tally = await group_licensing.reprocess_user(
                db_session=db_session,
                catalog=_catalog(request),
                actor=actor_of(request, admin),
                user=user,
            )
            name = user.display_name
    except TenantryError as error:
        return await _refused(request, admin, user_id, error)
    key = "web.user.license.reprocessed_errors" if tally.failed else "web.user.license.reprocessed"
    return redirect_with_notice(request, user_path(user_id), key, name=name)
