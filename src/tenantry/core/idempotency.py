"""Idempotency keys: a retried POST answers like the first one instead of acting twice.

Contract of the `Idempotency-Key` header (after draft-ietf-httpapi-idempotency-key-header),
for every route that takes one (purchases; the become-the-admin completion):

- The client sends a key of its choosing (1–255 printable ASCII characters; a
  UUID is ideal) and keeps it for every retry of the same operation.
- The first request with a key acts, and its answer (status and JSON body) is
  stored under (tenant, scope, key) **in the same transaction** as the change:
  both are committed or neither is, so a crash never leaves a purchase without
  its key or a key without its purchase.
- A later request with the same key and the same body gets the stored answer
  again, with the header `Idempotent-Replayed: true`, and changes nothing.
- The same key with a different body: 422 `idempotencyKeyReused`.
- Two requests with the same key at the same time: the database decides through
  the primary key (tenant_id, scope, key). The second request's insert waits for
  the first transaction (PostgreSQL blocks on the conflicting row; SQLite runs
  one writer at a time), then sees the committed key and replays its answer. If
  the first request failed and rolled back, the second one acts.
- A request that fails (4xx) stores nothing: it changed nothing, so retrying it
  with the same key runs it again.
- Keys are kept at least `KEY_TTL` (24 hours), then purged by `purge_expired`
  (the scheduled job); a retry after that acts again.

A route uses it like this::

    key = idempotency.key_from_header(idempotency_key)
    stored = await idempotency.run_once(
        db_session=db_session, tenant_id=tenant.id, scope="POST /v1/subscriptions",
        key=key, fingerprint=idempotency.fingerprint(body.model_dump(mode="json")),
        action=act,  # an async callable returning (status_code, json_body)
    )
    return idempotency.response(stored)

Why `INSERT … ON CONFLICT DO NOTHING` rather than a savepoint around a plain
insert: it has the same waiting semantics on PostgreSQL, and no error path.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import Index, String, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.clock import clock
from tenantry.core.db import Base
from tenantry.core.errors import Conflict, InvalidRequest, TenantryError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires", "expires_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class IdempotencyKeyRequired(InvalidRequest):
    code = "idempotencyKeyRequired"


class IdempotencyKeyReused(TenantryError):
    status_code = 422
    code = "idempotencyKeyReused"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used for a different request. "
            "Use a new key for a new operation.",
            target=HEADER,
        )


@dataclass(frozen=True)
class StoredResponse:
    """The answer given to the first request with a key."""

    status_code: int
    body: dict[str, Any]
    replayed: bool


def key_from_header(value: str | None, *, required: bool = True) -> str | None:
    """The key from the `Idempotency-Key` header, validated; 400 when missing and required."""
    if value is None or not value.strip():
        if required:
            raise IdempotencyKeyRequired(
                "This request needs an Idempotency-Key header (for example a new UUID), "
                "so that retrying it never does the work twice.",
                target=HEADER,
            )
        return None
    value = value.strip()
    if len(value) > MAX_KEY_LENGTH or not value.isascii() or not value.isprintable():
        raise InvalidRequest(
            f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            code="invalidIdempotencyKey",
            target=HEADER,
        )
    return value


def fingerprint(*parts: Any) -> str:
    """A digest of what makes two requests the same (the JSON body, the target id, …)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def replay(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, scope: str, key: str, fingerprint: str
) -> StoredResponse | None:
    """The stored answer for this key, None when unknown; IdempotencyKeyReused on another body."""
    row = (
        await db_session.execute(
            select(
                IdempotencyKey.fingerprint,
                IdempotencyKey.status_code,
                IdempotencyKey.response_body,
            ).where(
                IdempotencyKey.tenant_id == tenant_id,
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
            )
        )
    ).first()
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return StoredResponse(
        status_code=row.status_code or 200, body=row.response_body or {}, replayed=True
    )


async def _claim(
    db_session: AsyncSession, *, tenant_id: uuid.UUID, scope: str, key: str, fingerprint: str
) -> bool:
    """Insert the key row; False when another transaction holds the key (after it committed)."""
    now = clock.now()
    dialect = db_session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(IdempotencyKey)
        .values(
            tenant_id=tenant_id,
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            created_at=now,
            expires_at=now + KEY_TTL,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "scope", "key"])
        .returning(IdempotencyKey.key)
    )
    return (await db_session.execute(statement)).first() is not None


async def run_once(
    *,
    db_session: AsyncSession,
    tenant_id: uuid.UUID,
    scope: str,
    key: str | None,
    fingerprint: str,
    action: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> StoredResponse:
    """Run `action` once per key and remember its answer in the current transaction.

    Without a key (an optional header left out) the action simply runs.
    """
    if key is None:
        status_code, body = await action()
        return StoredResponse(status_code=status_code, body=body, replayed=False)
    lookup = {"tenant_id": tenant_id, "scope": scope, "key": key, "fingerprint": fingerprint}
    stored = await replay(db_session=db_session, **lookup)
    if stored is not None:
        return stored
    if not await _claim(db_session, **lookup):
        stored = await replay(db_session=db_session, **lookup)
        if stored is not None:
            return stored
        raise Conflict(  # purged between the two statements: rare, and safe to retry
            "This request is being processed. Retry it in a moment.",
            code="idempotencyKeyInUse",
            target=HEADER,
        )
    status_code, body = await action()
    await db_session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.tenant_id == tenant_id,
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
        )
        .values(status_code=status_code, response_body=body)
    )
    return StoredResponse(status_code=status_code, body=body, replayed=False)


def response(stored: StoredResponse) -> JSONResponse:
    """The HTTP answer for a stored (or fresh) response."""
    headers = {REPLAYED_HEADER: "true"} if stored.replayed else None
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)


async def purge_expired(*, db_session: AsyncSession) -> int:
    """Forget keys past their time to live; returns how many."""
    result = await db_session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at < clock.now())
    )
    return result.rowcount or 0
