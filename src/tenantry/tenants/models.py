"""Tenant table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
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
    # Where a closed tenant went (external takeover).
    merged_into_id: Mapped[uuid.UUID | None]
