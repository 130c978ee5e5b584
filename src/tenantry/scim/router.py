"""`/v1/scimTokens` (provisioning tokens) and `/v1/auditLogs/provisioning` (its log)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.errors import InvalidRequest, NotFound
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import Principal, actor_of, get_db, get_read_db, no_store, require_role
from tenantry.directory.constants import DIRECTORY_READERS
from tenantry.scim import log, tokens
from tenantry.scim.constants import TOKEN_MANAGERS
from tenantry.scim.schemas import (
    CreatedScimTokenView,
    ProvisioningLogPage,
    ScimTokenCreate,
    ScimTokenList,
    token_view,
)
from tenantry.tenants.auditlog import as_utc

router = APIRouter(prefix="/v1", tags=["directory sync"], responses=ERROR_RESPONSES)


def _utc(value: datetime | None, target: str) -> datetime | None:
    if value is None:
        return None
    try:
        return as_utc(value)
    except OverflowError:
        raise InvalidRequest(f"{target} is out of range.", target=target) from None


@router.post("/scimTokens", status_code=201, response_model=CreatedScimTokenView)
async def create_token(
    body: ScimTokenCreate,
    request: Request,
    response: Response,
    principal: Principal = Depends(require_role(*TOKEN_MANAGERS)),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """A provisioning token for the organization's identity provider; `token` is shown only here."""
    no_store(response)
    created = await tokens.create(
        db_session=db_session,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        display_name=body.display_name,
        expires_at=_utc(body.expiration_date_time, "expirationDateTime"),
    )
    return {**token_view(created.row), "token": created.token}


@router.get("/scimTokens", response_model=ScimTokenList)
async def list_tokens(
    principal: Principal = Depends(require_role(*TOKEN_MANAGERS)),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """The organization's provisioning tokens, newest first (never their values)."""
    found = await tokens.get_all(db_session=db_session, tenant_id=principal.tenant.id)
    return {"value": [token_view(token) for token in found]}


@router.delete("/scimTokens/{token_id}", status_code=204)
async def revoke_token(
    token_id: str,
    request: Request,
    principal: Principal = Depends(require_role(*TOKEN_MANAGERS)),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> Response:
    """Revoke a token: the identity provider's next request with it is refused (401)."""
    try:
        wanted = uuid.UUID(token_id)
    except ValueError:
        raise NotFound(
            "The provisioning token does not exist.", code="tokenNotFound", target="id"
        ) from None
    await tokens.revoke(
        db_session=db_session,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        token_id=wanted,
    )
    return Response(status_code=204)


@router.get("/auditLogs/provisioning", response_model=ProvisioningLogPage)
async def provisioning_log(
    request: Request,
    since: datetime | None = Query(None, alias="from"),
    until: datetime | None = Query(None, alias="to"),
    status: str | None = Query(None, description="success or failure"),
    resource_type: str | None = Query(None, alias="resourceType", description="User or Group"),
    target_id: str | None = Query(None, alias="targetId", description="A user's or group's id."),
    top: int = Query(100, alias="$top", ge=1, le=log.MAX_TOP),
    skip_token: str | None = Query(None, alias="$skiptoken"),
    principal: Principal = Depends(require_role(*DIRECTORY_READERS)),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """Every request the identity provider made, newest first, with what it changed."""
    events, next_token = await log.search(
        db_session=db_session,
        tenant_id=principal.tenant.id,
        query=log.LogQuery(
            since=_utc(since, "from"),
            until=_utc(until, "to"),
            outcome=status,
            resource_type=resource_type,
            target_id=target_id,
            top=top,
            skip_token=skip_token,
        ),
    )
    body: dict[str, Any] = {"value": events}
    if next_token:
        params = dict(request.query_params) | {"$skiptoken": next_token}
        body["@odata.nextLink"] = str(request.url.replace_query_params(**params))
    return body
