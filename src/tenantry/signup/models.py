"""Pending sign-ups: the address, the hashed one-time code and its counters."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.db import Base, new_id


class Signup(Base):
    __tablename__ = "signups"
    __table_args__ = (
        Index("ix_signups_email_created", "email", "created_at"),
        # Housekeeping deletes abandoned sign-ups; not (status, …), which every verify
        # would have to update.
        Index("ix_signups_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))
    domain: Mapped[str] = mapped_column(String(253))
    display_name: Mapped[str] = mapped_column(String(256))
    offer: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")
    code_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    sends: Mapped[int] = mapped_column(default=1)
    last_sent_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    user_id: Mapped[uuid.UUID | None]
