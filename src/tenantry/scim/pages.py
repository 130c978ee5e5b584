"""The admin center's Directory sync page: the SCIM URL, provisioning tokens, the log.

As the API: any admin role reads the page and the provisioning log; Global and User
Administrators create and revoke tokens (`/v1/scimTokens`). A new token is shown once,
on the page that answers its creation (never carried in a redirect or a cookie).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from datetime import date as Date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tenantry.core.errors import NotFound, TenantryError
from tenantry.core.i18n import translate
from tenantry.dependencies import Principal, actor_of
from tenantry.directory.constants import DIRECTORY_READERS
from tenantry.scim import log, tokens
from tenantry.scim.constants import SCIM_PATH, TOKEN_MANAGERS
from tenantry.web.admin_views import format_time
from tenantry.web.dependencies import (
    Page,
    admin_form,
    admin_page,
    read_unit_of_work,
    text,
    unit_of_work,
)
from tenantry.web.rendering import WebRoute, settings_of
from tenantry.web.shell import held_roles, may, reason, redirect_with_notice, render_admin

router = APIRouter(include_in_schema=False, route_class=WebRoute)

SYNC = "/admin/sync"
LOG_ROWS = 25


def _log_row(language: str, row: dict[str, Any]) -> dict[str, Any]:
    status = row["provisioningStatusInfo"]
    changed = [change.get("name", "") for change in row["modifiedProperties"]]
    return {
        "at": format_time(language, datetime.fromisoformat(row["activityDateTime"])),
        "token": row["token"]["displayName"] or "",
        "request": f"{row['httpMethod']} {row['path']}",
        "target": row["targetIdentity"]["displayName"] or row["targetIdentity"]["id"] or "",
        "ok": status["status"] == "success",
        "status": status["statusCode"],
        "changed": ", ".join(name for name in changed if name)[:200],
        "error": ((status.get("errorInformation") or {}).get("reason") or "")[:200],
    }


async def _sync_page(
    request: Request,
    admin: Principal,
    *,
    status_code: int = 200,
    failures: bool = False,
    after: str | None = None,
    **context: Any,
) -> Response:
    language = context.pop("language", None) or "en"
    held = await held_roles(request, admin)
    manages = may(held, *TOKEN_MANAGERS)
    query = log.LogQuery(
        outcome="failure" if failures else None, top=LOG_ROWS, skip_token=after or None
    )
    async with read_unit_of_work(request) as db_session:
        found = (
            await tokens.get_all(db_session=db_session, tenant_id=admin.tenant.id)
            if manages
            else []
        )
        last = await log.last_activity(db_session=db_session, tenant_id=admin.tenant.id)
        rows, next_token = await log.search(
            db_session=db_session, tenant_id=admin.tenant.id, query=query
        )
    kept = {"status": "failure"} if failures else {}
    return render_admin(
        request,
        "scim/sync.html",
        principal=admin,
        section="sync",
        status_code=status_code,
        scim_url=settings_of(request).base_url.rstrip("/") + SCIM_PATH,
        last_activity=format_time(language, last) if last else None,
        can_manage=manages,
        tokens=[
            {
                "id": str(token.id),
                "name": token.display_name,
                "created": format_time(language, token.created_at),
                "expires": format_time(language, token.expires_at) if token.expires_at else None,
                "last_used": format_time(language, token.last_used_at)
                if token.last_used_at
                else None,
            }
            for token in found
        ],
        log=[_log_row(language, row) for row in rows],
        failures=failures,
        next_path=f"{SYNC}?{urlencode(kept | {'after': next_token})}" if next_token else None,
        **context,
    )


@router.get(SYNC)
async def sync_page(
    request: Request,
    status: str = "",
    after: str = "",
    page: Page = Depends(admin_page(*DIRECTORY_READERS)),
) -> Response:
    """The SCIM URL, the provisioning tokens and the latest requests of the provider."""
    try:
        return await _sync_page(
            request,
            page.principal,
            failures=status == "failure",
            after=after[:500],
            language=page.language,
        )
    except TenantryError as error:  # a $skiptoken that is not one of ours
        return await _sync_page(
            request,
            page.principal,
            status_code=error.status_code,
            error=reason(page.language, error),
            language=page.language,
        )


@router.post(SYNC + "/tokens")
async def create_token(
    request: Request, page: Page = Depends(admin_form(*TOKEN_MANAGERS))
) -> Response:
    """Create a token and show it, this once."""
    name = text(page.form, "display_name")[:256]
    expires = text(page.form, "expires")[:10]
    language = page.language
    try:
        expires_at = None
        if expires:
            try:
                expires_at = datetime.combine(Date.fromisoformat(expires), time.max, UTC)
            except ValueError:
                raise TenantryError(
                    translate(language, "web.sync.bad_date"), code="invalidDate"
                ) from None
        async with unit_of_work(request) as db_session:
            created = await tokens.create(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                tenant_id=page.principal.tenant.id,
                display_name=name,
                expires_at=expires_at,
            )
            shown = {"name": created.row.display_name, "token": created.token}
    except TenantryError as error:
        return await _sync_page(
            request,
            page.principal,
            status_code=error.status_code,
            error=reason(language, error),
            form={"display_name": name, "expires": expires},
            language=language,
        )
    return await _sync_page(
        request,
        page.principal,
        created=shown,
        notice=translate(language, "web.sync.created", name=shown["name"]),
        language=language,
    )


@router.post(SYNC + "/tokens/{token_id}/revoke")
async def revoke_token(
    token_id: str, request: Request, page: Page = Depends(admin_form(*TOKEN_MANAGERS))
) -> Response:
    """Revoke a token at once."""
    try:
        wanted = uuid.UUID(token_id)
    except ValueError:
        raise NotFound("The provisioning token does not exist.", code="tokenNotFound") from None
    try:
        async with unit_of_work(request) as db_session:
            await tokens.revoke(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                tenant_id=page.principal.tenant.id,
                token_id=wanted,
            )
    except TenantryError as error:
        return await _sync_page(
            request,
            page.principal,
            status_code=error.status_code,
            error=reason(page.language, error),
            language=page.language,
        )
    return redirect_with_notice(request, SYNC, "web.sync.revoked")
