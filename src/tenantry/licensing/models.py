"""Self-service offer assignments."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.db import Base


class OfferAssignment(Base):
    """A free self-service offer a person took when signing up; it applies to them alone."""

    __tablename__ = "offer_assignments"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    offer: Mapped[str] = mapped_column(String(64), primary_key=True)
    # active, or moved (carried to a paid subscription when the tenant became managed)
    status: Mapped[str] = mapped_column(String(20), default="active")
    started_at: Mapped[datetime]
