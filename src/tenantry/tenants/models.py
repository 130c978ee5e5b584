"""Tenant table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.db import Base, new_id

UNMANAGED = "unmanaged"
MANAGED = "managed"
CLOSED = "closed"


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    display_name: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(20), default=UNMANAGED)
    # Graph authorizationPolicy settings.
    allow_email_verified_users_to_join: Mapped[bool] = mapped_column(default=True)
    allowed_to_sign_up_email_based_subscriptions: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    managed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # ISO 3166-1 alpha-2; users without a usage location take it for group licensing.
    country_letter_code: Mapped[str | None] = mapped_column(String(2))
    # Where a closed tenant went (external takeover).
    merged_into_id: Mapped[uuid.UUID | None]


class AdminClaim(Base):
    """A member's progress through "Become the admin" (internal takeover) of an unmanaged tenant."""

    __tablename__ = "admin_claims"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    entry_point: Mapped[str] = mapped_column(String(20))
    domain_name: Mapped[str] = mapped_column(String(253))
    # started → verified (the TXT record was found) → completed
    status: Mapped[str] = mapped_column(String(20), default="started")
    created_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
