"""The tenant's audit log, searchable (Graph `directoryAudit` shape), with keyset paging."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.audit import AuditEvent
from tenantry.core.errors import InvalidRequest
from tenantry.core.paging import decode_token, encode_token
from tenantry.directory import users as directory_users
from tenantry.directory.models import User

MAX_TOP = 999


class InvalidSkipToken(InvalidRequest):
    code = "invalidSkipToken"


@dataclass(frozen=True)
class AuditQuery:
    """What to look for: all optional, combined with AND."""

    actor: str | None = None  # a user id or sign-in address
    action: str | None = None  # exact activity name, or a prefix ending with *
    since: datetime | None = None
    until: datetime | None = None
    top: int = 100
    skip_token: str | None = None


def as_utc(value: datetime) -> datetime:
    """A time in UTC; one without a zone is taken as UTC. OverflowError when it has no UTC
    equivalent (year 1 east of Greenwich, year 9999 west of it)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _bound(value: datetime | None, target: str) -> datetime | None:
    """A `from`/`to` time of the query in UTC; 400 when it has none."""
    if value is None:
        return None
    try:
        return as_utc(value)
    except OverflowError as exc:
        raise InvalidRequest(
            f"{target} is out of range: give a time between the years 1 and 9999 in UTC.",
            target=target,
        ) from exc


def _decode(token: str) -> tuple[datetime, uuid.UUID]:
    payload = decode_token(token) or {}
    moment, event_id = payload.get("t"), payload.get("i")
    try:
        if not isinstance(moment, str) or not isinstance(event_id, str):
            raise ValueError("not a token of this list")
        return as_utc(datetime.fromisoformat(moment)), uuid.UUID(event_id)
    except (ValueError, OverflowError) as exc:
        raise InvalidSkipToken("The $skiptoken is not valid.", target="$skiptoken") from exc


def _encode(event: AuditEvent) -> str:
    return encode_token({"t": event.occurred_at.isoformat(), "i": str(event.id)})


async def search(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, query: AuditQuery
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first: one page of events (Graph JSON) and the next page's token (or None)."""
    found, next_token = await find(db_session=db_session, tenant_id=tenant_id, query=query)
    return [view(event, principal_name) for event, principal_name in found], next_token


async def find(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, query: AuditQuery
) -> tuple[list[tuple[AuditEvent, str | None]], str | None]:
    """Newest first: one page of events with their actor's address, and the next page's
    token (None at the end)."""
    statement = (
        select(AuditEvent, User.user_principal_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.tenant_id == tenant_id)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(query.top + 1)
    )
    if query.actor:
        try:
            statement = statement.where(AuditEvent.actor_id == uuid.UUID(query.actor))
        except ValueError:
            address = directory_users.principal_name_key(query.actor)
            if "\x00" in address:  # nobody's address; PostgreSQL cannot compare text holding it
                statement = statement.where(false())
            else:
                actor_ids = select(User.id).where(User.user_principal_name == address)
                statement = statement.where(AuditEvent.actor_id.in_(actor_ids))
    if query.action:
        if "\x00" in query.action:  # no activity is named so
            statement = statement.where(false())
        elif query.action.endswith("*"):
            statement = statement.where(AuditEvent.action.startswith(query.action[:-1]))
        else:
            statement = statement.where(AuditEvent.action == query.action)
    since, until = _bound(query.since, "from"), _bound(query.until, "to")
    if since is not None:
        statement = statement.where(AuditEvent.occurred_at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.occurred_at <= until)
    if query.skip_token:
        last_time, last_id = _decode(query.skip_token)
        statement = statement.where(
            or_(
                AuditEvent.occurred_at < last_time,
                and_(AuditEvent.occurred_at == last_time, AuditEvent.id < last_id),
            )
        )
    rows = (await db_session.execute(statement)).all()
    page = rows[: query.top]
    next_token = _encode(page[-1][0]) if len(rows) > query.top else None
    return [(event, principal_name) for event, principal_name in page], next_token


def detail_text(value: Any) -> str:
    """A detail as Graph's `additionalDetails` value, a string: text as it is, anything
    else as JSON (`true`, `["BUSINESS_ESSENTIALS"]`), never a Python repr."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))


def view(event: AuditEvent, actor_principal_name: str | None) -> dict[str, Any]:
    """The Graph `directoryAudit` JSON of an event."""
    if event.actor_type == "user" and event.actor_id is not None:
        initiated_by: dict[str, Any] = {
            "user": {
                "id": str(event.actor_id),
                "userPrincipalName": actor_principal_name,
                "ipAddress": event.client_address,
            }
        }
    else:
        initiated_by = {"app": {"displayName": f"Tenantry ({event.actor_type})"}}
    return {
        "id": str(event.id),
        "activityDateTime": event.occurred_at.isoformat(),
        "activityDisplayName": event.action,
        "category": event.target_type,
        "result": "success",
        "initiatedBy": initiated_by,
        "targetResources": [{"id": event.target_id, "type": event.target_type}],
        "additionalDetails": [
            {"key": k, "value": detail_text(v)} for k, v in event.details.items()
        ],
    }
