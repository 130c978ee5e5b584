"""The admin center's CSV import of users: the upload form, its template, the report.

It admits User Administrators, as `POST /v1/users/import`, and runs the same
flow (`directory.flows`: read, check each row, hash the passwords before the
transaction, one savepoint per row). The report is the answer to the upload:
the temporary passwords it shows are shown nowhere else.
"""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from tenantry.core.bodylimit import allow_larger_body
from tenantry.core.errors import TenantryError
from tenantry.core.i18n import translate
from tenantry.dependencies import SESSION_COOKIE, Principal, actor_of
from tenantry.directory import flows as directory_flows
from tenantry.directory.constants import MAX_IMPORT_BODY_BYTES, MAX_IMPORT_BYTES, USER_MANAGERS
from tenantry.directory.exceptions import RequestTooLarge
from tenantry.domains import service as domain_service
from tenantry.web import csrf
from tenantry.web.admin_views import USERS, user_path
from tenantry.web.dependencies import Page, admin_form, admin_page, read_unit_of_work, unit_of_work
from tenantry.web.rendering import WebRoute, settings_of
from tenantry.web.shell import reason, render_admin

router = APIRouter(include_in_schema=False, route_class=WebRoute)

IMPORT = USERS + "/import"
TEMPLATE_COLUMNS = (
    "userPrincipalName",
    "displayName",
    "givenName",
    "surname",
    "usageLocation",
    "password",
    "accountEnabled",
)
MAX_MEGABYTES = MAX_IMPORT_BYTES // 1024 // 1024


def _import_page(
    request: Request, admin: Principal, *, status_code: int = 200, error: str | None = None
) -> Response:
    return render_admin(
        request,
        "directory/import.html",
        principal=admin,
        section="users",
        status_code=status_code,
        error=error,
        columns=TEMPLATE_COLUMNS,
        max_megabytes=MAX_MEGABYTES,
    )


@router.get(IMPORT)
async def import_page(
    request: Request, page: Page = Depends(admin_page(*USER_MANAGERS))
) -> Response:
    """Upload a CSV file of users (the columns of `POST /v1/users/import`)."""
    return _import_page(request, page.principal)


@router.get(IMPORT + "/template.csv")
async def import_template(
    request: Request, page: Page = Depends(admin_page(*USER_MANAGERS))
) -> Response:
    """A CSV file with the import's header and two example rows."""
    async with read_unit_of_work(request) as db_session:
        domains = await domain_service.get_all(
            db_session=db_session, tenant_id=page.principal.tenant.id
        )
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
        cells = [
            entry["row"],
            entry["address"],
            "created" if entry["created"] else "failed",
            entry["code"],
            entry["message"],
            entry["password"] or "",
        ]
        writer.writerow([directory_flows.spreadsheet_cell(cell) for cell in cells])
    encoded = base64.b64encode(buffer.getvalue().encode("utf-8-sig")).decode()
    return f"data:text/csv;charset=utf-8;base64,{encoded}"


@router.post(IMPORT)
async def import_users(
    request: Request, page: Page = Depends(admin_form(*USER_MANAGERS, read=_import_form))
) -> Response:
    """Add the file's users: each row's outcome in a table, a bad row stops nothing."""
    language = page.language
    data = await _uploaded(page.form)
    if data is None:
        return _import_page(
            request,
            page.principal,
            status_code=400,
            error=translate(language, "web.import.no_file"),
        )
    try:
        rows = directory_flows.read_csv(data)
        for row in rows:
            directory_flows.check_row(row)
        await directory_flows.hash_rows(rows)  # before the transaction: no lock waits on argon2
        async with unit_of_work(request) as db_session:
            done = await directory_flows.import_users(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                tenant_id=page.principal.tenant.id,
                rows=rows,
            )
    except TenantryError as error:
        return _import_page(
            request,
            page.principal,
            status_code=error.status_code,
            error=reason(language, error, max=MAX_MEGABYTES),
        )
    report = _report_rows(language, done)
    created = sum(1 for entry in report if entry["created"])
    return render_admin(
        request,
        "directory/import_report.html",
        principal=page.principal,
        section="users",
        report=report,
        total=len(report),
        created=created,
        failed=len(report) - created,
        passwords=any(entry["password"] for entry in report),
        download=_report_download(report),
    )
