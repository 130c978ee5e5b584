"""User and role-assignment tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.db import Base, new_id


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # Sign-in names are unique platform-wide: an address leads to one account.
        UniqueConstraint("user_principal_name"),
        UniqueConstraint("tenant_id", "id"),
        Index("ix_users_tenant_display_name", "tenant_id", "display_name"),
        Index("ix_users_tenant_mail", "tenant_id", "mail"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    user_principal_name: Mapped[str] = mapped_column(String(320))
    mail: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(256))
    given_name: Mapped[str | None] = mapped_column(String(128))
    surname: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(10), default="cloud")
    usage_location: Mapped[str | None] = mapped_column(String(2))
    account_enabled: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(default=False)
    preferred_language: Mapped[str | None] = mapped_column(String(8))
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]


class RoleAssignment(Base):
    __tablename__ = "role_assignments"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime]
