"""The provisioning log: every SCIM request, with what it changed or why it failed; 30 days.

A request that succeeds writes its row in its own unit of work, so the row commits with
the change; one that fails writes it afterwards, in a unit of work of its own (the
change rolled back, the refusal is still recorded). Housekeeping deletes rows older
than 30 days (`LOG_RETENTION`). Shaped after Graph's provisioning logs
(`/auditLogs/provisioning`): `activityDateTime`, `provisioningAction`,
`provisioningStatusInfo`, `modifiedProperties`, `targetIdentity`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Delete, and_, delete, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.clock import clock
from tenantry.core.db import Database
from tenantry.core.errors import InvalidRequest
from tenantry.core.housekeeping import pruner
from tenantry.core.paging import decode_token
from tenantry.scim import tokens
from tenantry.scim.constants import LOG_RETENTION
from tenantry.scim.models import ProvisioningEvent
from tenantry.scim.tokens import Caller

log_ = logging.getLogger("tenantry.scim")

MAX_TOP = 500
OUTCOMES = ("success", "failure")


@dataclass
class Entry:
    """One request (or one operation of a Bulk request) as the log keeps it."""

    method: str
    path: str
    resource_type: str | None
    action: str
    status: int = 200
    target_id: str | None = None
    target_name: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    error_type: str | None = None
    error_detail: str | None = None
    duration_ms: int = 0

    @property
    def outcome(self) -> str:
        return "success" if self.status < 400 else "failure"


def action_of(method: str, status: int) -> str:
    """Graph's provisioningAction for a request."""
    return {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}.get(
        method, "other"
    )


def _text(value: str | None, size: int) -> str | None:
    """A text as the log keeps it: cut to its column, U+0000 spelled out (PostgreSQL text
    cannot hold it, and a request's path or a refusal's detail may)."""
    return None if value is None else value.replace("\x00", "\\x00")[:size]


def _row(caller: Caller, entry: Entry, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": caller.tenant_id,
        "token_id": caller.token_id,
        "token_display_name": caller.token_display_name,
        "method": _text(entry.method, 10),
        "path": _text(entry.path, 512),
        "resource_type": entry.resource_type,
        "action": entry.action,
        "target_id": entry.target_id,
        "target_display_name": _text(entry.target_name or None, 320),
        "status": entry.status,
        "outcome": entry.outcome,
        "changes": _bounded(entry.changes),
        "error_type": _text(entry.error_type, 40),
        "error_detail": _text(entry.error_detail or None, 1024),
        "duration_ms": entry.duration_ms,
        "occurred_at": now,
    }


def _bounded(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Changes as the log keeps them: values cut to a readable size."""
    kept = []
    for change in changes[:50]:
        text = json.dumps(change, default=str)
        kept.append(
            change if len(text) <= 2000 else {"name": change.get("name"), "truncated": True}
        )
    return kept


async def record(db_session: AsyncSession, caller: Caller, entries: list[Entry]) -> None:
    """Add log rows to the unit of work (one statement, however many)."""
    if not entries:
        return
    now = clock.now()
    await db_session.execute(
        ProvisioningEvent.__table__.insert(), [_row(caller, entry, now) for entry in entries]
    )


class GroupCommit:
    """Log rows of reads (and refusals), written by as few write transactions as possible.

    A read runs in a read-only unit of work (beside writers on SQLite); its row then waits
    for the next write of the log, which carries every row that arrived meanwhile, and the
    uses of the tokens that carried them (`tokens.touch`). The request answers once its
    row is committed, so the log never lags behind what a client saw.
    """

    def __init__(self, database: Database, gate: asyncio.Lock | None = None) -> None:
        self.database = database
        self.gate = gate  # SQLite: the writers' turn (provider_router._writing)
        self.pending: list[tuple[Caller, Entry, asyncio.Future[None]]] = []
        self.draining: asyncio.Task[None] | None = None

    async def record(self, caller: Caller, entry: Entry) -> None:
        """Write the row (with others); never raises: a lost log row fails no request."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((caller, entry, done))
        if self.draining is None or self.draining.done():
            self.draining = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                now = clock.now()
                async with contextlib.AsyncExitStack() as stack:
                    if self.gate is not None:
                        await stack.enter_async_context(self.gate)
                    db_session = await stack.enter_async_context(self.database.unit_of_work())
                    await db_session.execute(
                        ProvisioningEvent.__table__.insert(),
                        [_row(caller, entry, now) for caller, entry, _ in batch],
                    )
                    await tokens.touch(
                        db_session, {caller.token_id for caller, _, _ in batch if caller.touch_due}
                    )
            except Exception:
                log_.exception("could not write %d provisioning log rows", len(batch))
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)


@dataclass
class LogQuery:
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None
    resource_type: str | None = None
    target_id: str | None = None
    top: int = 100
    skip_token: str | None = None


def _encode(event: ProvisioningEvent) -> str:
    payload = {"t": event.occurred_at.isoformat(), "i": str(event.id)}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode(token: str) -> tuple[datetime, uuid.UUID]:
    payload = decode_token(token)
    try:
        assert payload is not None
        return datetime.fromisoformat(payload["t"]), uuid.UUID(payload["i"])
    except (AssertionError, KeyError, TypeError, ValueError):
        raise InvalidRequest(
            "The $skiptoken is not one this server gave.", code="invalidSkipToken"
        ) from None


async def search(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, query: LogQuery
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first: one page of the tenant's provisioning log and the next page's token."""
    statement = (
        select(ProvisioningEvent)
        .where(ProvisioningEvent.tenant_id == tenant_id)
        .order_by(ProvisioningEvent.occurred_at.desc(), ProvisioningEvent.id.desc())
        .limit(query.top + 1)
    )
    if query.since is not None:
        statement = statement.where(ProvisioningEvent.occurred_at >= query.since)
    if query.until is not None:
        statement = statement.where(ProvisioningEvent.occurred_at <= query.until)
    if query.outcome is not None:
        if query.outcome not in OUTCOMES:
            raise InvalidRequest("status is success or failure.", target="status")
        statement = statement.where(ProvisioningEvent.outcome == query.outcome)
    for column, value, size in (
        (ProvisioningEvent.resource_type, query.resource_type, 40),
        (ProvisioningEvent.target_id, query.target_id, 64),
    ):
        if value:
            # No row holds U+0000, and PostgreSQL cannot compare text holding it.
            statement = statement.where(false() if "\x00" in value else column == value[:size])
    if query.skip_token:
        last_time, last_id = _decode(query.skip_token)
        statement = statement.where(
            or_(
                ProvisioningEvent.occurred_at < last_time,
                and_(ProvisioningEvent.occurred_at == last_time, ProvisioningEvent.id < last_id),
            )
        )
    rows = list((await db_session.scalars(statement)).all())
    page = rows[: query.top]
    next_token = _encode(page[-1]) if len(rows) > query.top else None
    return [view(event) for event in page], next_token


async def last_activity(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> datetime | None:
    """When the tenant's identity provider last called."""
    return await db_session.scalar(
        select(func.max(ProvisioningEvent.occurred_at)).where(
            ProvisioningEvent.tenant_id == tenant_id
        )
    )


def view(event: ProvisioningEvent) -> dict[str, Any]:
    """A log row as the API returns it (Graph's provisioningObjectSummary, trimmed)."""
    status: dict[str, Any] = {"status": event.outcome, "statusCode": event.status}
    if event.outcome == "failure":
        status["errorInformation"] = {"errorCode": event.error_type, "reason": event.error_detail}
    return {
        "id": str(event.id),
        "activityDateTime": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "provisioningAction": event.action,
        "httpMethod": event.method,
        "path": event.path,
        "resourceType": event.resource_type,
        "targetIdentity": {"id": event.target_id, "displayName": event.target_display_name},
        "token": {
            "id": str(event.token_id) if event.token_id else None,
            "displayName": event.token_display_name,
        },
        "provisioningStatusInfo": status,
        "modifiedProperties": event.changes or [],
        "durationInMilliseconds": event.duration_ms,
    }


@pruner("provisioningLog")
def prune_log(now: datetime) -> Delete:
    """Delete provisioning log rows after 30 days."""
    return delete(ProvisioningEvent).where(ProvisioningEvent.occurred_at < now - LOG_RETENTION)
