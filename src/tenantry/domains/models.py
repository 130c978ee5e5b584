"""Domain table.

A verified name belongs to one tenant platform-wide, and a name forms at most
one unmanaged ("viral") tenant: both are partial unique indexes, so the
database settles races between sign-ups and takeovers.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenantry.core.db import Base

if TYPE_CHECKING:
    from tenantry.tenants.models import Tenant


class Domain(Base):
    __tablename__ = "domains"
    __table_args__ = (
        Index(
            "uq_domains_verified_name",
            "name",
            unique=True,
            sqlite_where=text("is_verified"),
            postgresql_where=text("is_verified"),
        ),
        Index(
            "uq_domains_viral_name",
            "name",
            unique=True,
            sqlite_where=text("is_viral"),
            postgresql_where=text("is_viral"),
        ),
        Index("ix_domains_name", "name"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(253), primary_key=True)
    is_verified: Mapped[bool] = mapped_column(default=False)
    is_default: Mapped[bool] = mapped_column(default=False)
    is_initial: Mapped[bool] = mapped_column(default=False)
    is_root: Mapped[bool] = mapped_column(default=True)
    # The domain a self-service (unmanaged) tenant was formed from.
    is_viral: Mapped[bool] = mapped_column(default=False)
    verification_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    # Never loaded (set `tenant_id`): it tells the unit of work to insert the tenant
    # first, so a new tenant and its domains go in one flush.
    tenant: Mapped[Tenant] = relationship(lazy="raise")
