"""The audit log: who did what to which object, in which tenant, when and from where."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.clock import clock
from tenantry.core.db import Base, new_id


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_tenant_time", "tenant_id", "occurred_at"),
        Index("ix_audit_events_tenant_action", "tenant_id", "action"),
        Index("ix_audit_events_actor", "actor_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID | None]
    actor_id: Mapped[uuid.UUID | None]
    actor_type: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(120))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(320))
    details: Mapped[dict[str, Any]]
    client_address: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime]


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user (or the system, or an anonymous person) and from where."""

    user_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None
    client_address: str | None = None
    kind: str = "user"

    @classmethod
    def system(cls) -> Actor:
        """Tenantry itself (jobs, the worker)."""
        return cls(kind="system")

    @classmethod
    def anonymous(cls, client_address: str | None) -> Actor:
        """A person not signed in yet."""
        return cls(kind="anonymous", client_address=client_address)


def record(
    db_session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object | None = None,
    tenant_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the current unit of work (it commits with the change)."""
    event = AuditEvent(
        tenant_id=tenant_id if tenant_id is not None else actor.tenant_id,
        actor_id=actor.user_id,
        actor_type=actor.kind,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details or {},
        client_address=actor.client_address,
        occurred_at=clock.now(),
    )
    db_session.add(event)
    return event
