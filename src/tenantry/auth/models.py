"""Access tokens and web sessions (stored as SHA-256 digests), and sign-in lockouts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.db import Base

# What a credential is, and so where it is accepted: a bearer token only in
# `Authorization`, a web session only as the page cookie (guarded by CSRF on forms).
API_TOKEN = "api"
WEB_SESSION = "web"


class AccessToken(Base):
    __tablename__ = "access_tokens"
    __table_args__ = (
        Index("ix_access_tokens_user", "user_id"),
        Index("ix_access_tokens_expires_at", "expires_at"),  # housekeeping
    )

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(10))  # API_TOKEN or WEB_SESSION
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    client_address: Mapped[str | None] = mapped_column(String(64))
    # The partner account the holder acts for (at most one), checked again at each use:
    # a membership lost since leaves the token acting for none (partner.acting).
    partner_account_id: Mapped[uuid.UUID | None]


class SignInLockout(Base):
    """Failed password sign-ins of a user from one origin (an IPv4 address or an IPv6 /64),
    or from every origin together (`origin` "*", the account-wide backstop)."""

    __tablename__ = "sign_in_lockouts"
    __table_args__ = (Index("ix_sign_in_lockouts_updated_at", "updated_at"),)  # housekeeping

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    origin: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int]
    locked_until: Mapped[datetime | None]
    lockouts: Mapped[int]  # how often this origin (or the account) was locked: doubles the next
    updated_at: Mapped[datetime]  # the last failure counted
    # Keyed hashes of the last wrong passwords from this origin, space-separated: the same
    # wrong password again is not counted (Entra's smart lockout keeps the last three).
    recent_passwords: Mapped[str | None] = mapped_column(String(120))
