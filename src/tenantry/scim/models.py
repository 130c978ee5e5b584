"""Provisioning tokens, what a SCIM client said about users and groups, and the provisioning log.

Tenantry's own tables stay the truth of who a user is (`users`, `groups`,
`group_members`); these rows hold only what SCIM adds: the client's `externalId`,
the attributes it sent that Tenantry has no column for (kept as sent, so that a
client reads back what it wrote), and the state ETags are computed from.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.db import Base, new_id


class ScimToken(Base):
    """A tenant's provisioning token: its SHA-256 digest, never the token itself."""

    __tablename__ = "scim_tokens"
    __table_args__ = (Index("ix_scim_tokens_tenant", "tenant_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(256))
    # Whose rights the token acts with (adminProtected); NULL once that admin is deleted.
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ScimUser(Base):
    """What a SCIM client keeps on a user it provisions (one row per synced user)."""

    __tablename__ = "scim_users"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        # `filter=externalId eq "…"`: Entra and Okta match users by it.
        Index("ix_scim_users_tenant_external_id", "tenant_id", "external_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(256))
    # The attributes the client sent that have no column of their own (RFC 7643 names).
    attributes: Mapped[dict[str, Any]]
    # Whether `users.usage_location` came from the client's work address (then it owns it).
    usage_location_from_scim: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime]


class ScimGroup(Base):
    """What SCIM keeps on a group: the client's externalId and a counter of member changes."""

    __tablename__ = "scim_groups"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"],
            ["groups.tenant_id", "groups.id"],
            ondelete="CASCADE",
        ),
        Index("ix_scim_groups_tenant_external_id", "tenant_id", "external_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(256))
    # Bumped by every membership change, whoever makes it: part of the group's ETag.
    members_version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


class ProvisioningEvent(Base):
    """One SCIM request: who (which token) asked what, of which resource, and what came of it."""

    __tablename__ = "provisioning_events"
    __table_args__ = (
        Index("ix_provisioning_events_tenant_time", "tenant_id", "occurred_at", "id"),
        Index("ix_provisioning_events_occurred_at", "occurred_at"),  # housekeeping
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    token_id: Mapped[uuid.UUID | None]
    token_display_name: Mapped[str | None] = mapped_column(String(256))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(512))
    resource_type: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str | None] = mapped_column(String(64))
    target_display_name: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(10))
    changes: Mapped[list[Any]]
    error_type: Mapped[str | None] = mapped_column(String(40))
    error_detail: Mapped[str | None] = mapped_column(String(1024))
    duration_ms: Mapped[int]
    occurred_at: Mapped[datetime]
