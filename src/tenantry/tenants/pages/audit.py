"""The admin center's Audit log page: who did what, filtered by actor, activity and dates.

Any admin role reads it, as `/v1/auditLogs/directoryAudits`. The activity box
matches the start of the activity name ("Add" finds "Add user" and "Add group");
dates are whole days in UTC, both ends included; pages follow the log's keyset.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tenantry.core.errors import TenantryError
from tenantry.core.i18n import translate
from tenantry.tenants import auditlog
from tenantry.tenants.constants import AUDIT_LOG_READERS
from tenantry.tenants.pages.audit_rows import Names, event_row
from tenantry.web.dependencies import Page, admin_page, read_unit_of_work
from tenantry.web.rendering import WebRoute
from tenantry.web.shell import reason, render_admin

router = APIRouter(include_in_schema=False, route_class=WebRoute)

AUDIT = "/admin/audit"
PAGE_SIZE = 50


def _day(value: str) -> date | None:
    """A `YYYY-MM-DD` date from the form; ValueError when it is not one."""
    return date.fromisoformat(value) if value else None


@router.get(AUDIT)
async def audit_page(
    request: Request,
    actor: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    after: str = "",
    page: Page = Depends(admin_page(*AUDIT_LOG_READERS)),
) -> Response:
    """The organization's audit log, newest first."""
    language = page.language
    shown = {
        "actor": actor.strip()[:320],
        "action": action.strip()[:100],
        "since": since.strip()[:10],
        "until": until.strip()[:10],
    }
    events: list[dict[str, Any]] = []
    next_path = None
    error = None
    status_code = 200
    try:
        first, last = _day(shown["since"]), _day(shown["until"])
    except ValueError:
        first = last = None
        error, status_code = translate(language, "web.audit.bad_date"), 400
    if error is None:
        prefix = shown["action"].rstrip("*")
        query = auditlog.AuditQuery(
            actor=shown["actor"] or None,
            action=f"{prefix}*" if prefix else None,
            since=datetime.combine(first, time.min, UTC) if first else None,
            until=datetime.combine(last, time.max, UTC) if last else None,
            top=PAGE_SIZE,
            skip_token=after[:500] or None,
        )
        try:
            tenant_id = page.principal.tenant.id
            async with read_unit_of_work(request) as db_session:
                found, next_token = await auditlog.find(
                    db_session=db_session, tenant_id=tenant_id, query=query
                )
                names = await Names.of(
                    db_session, tenant_id, [event for event, _ in found], request.app.state.catalog
                )
            events = [event_row(language, event, actor, names) for event, actor in found]
            if next_token:
                kept = {name: value for name, value in shown.items() if value}
                next_path = f"{AUDIT}?{urlencode(kept | {'after': next_token})}"
        except TenantryError as exc:
            error, status_code = reason(language, exc), exc.status_code
    kept = {name: value for name, value in shown.items() if value}
    return render_admin(
        request,
        "tenants/audit.html",
        principal=page.principal,
        section="audit",
        status_code=status_code,
        error=error,
        events=events,
        filters=shown,
        filtered=bool(kept),
        next_path=next_path,
        first_path=(f"{AUDIT}?{urlencode(kept)}" if kept else AUDIT) if after else None,
    )
