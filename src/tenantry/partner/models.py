"""Tables of the partner program: platform operators, agreement texts, reserved publisher names.

The Operator role is the platform's, not a tenant's: it lives in a table of its own, so
no tenant role (Global Administrator included) ever grants it and no tenant's admins can
see or change it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.db import Base


class PlatformOperator(Base):
    __tablename__ = "platform_operators"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime]


class PartnerAgreement(Base):
    """One language of one published version of the Collaboration agreement."""

    __tablename__ = "partner_agreements"

    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    language: Mapped[str] = mapped_column(String(2), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime]


class ReservedPublisherName(Base):
    """A publisher display name no partner account may take (nor anything that looks like it)."""

    __tablename__ = "reserved_publisher_names"

    # `service.publisher_name_key` of the name: equal for look-alikes, so the primary key
    # refuses a second reservation of the same name in another spelling.
    name_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime]
