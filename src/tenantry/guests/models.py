"""The invitations table: one open invitation per guest, its redeem link and its code."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.db import Base, new_id

PENDING_ACCEPTANCE = "PendingAcceptance"
COMPLETED = "Completed"


class Invitation(Base):
    """Graph's invitation of a guest: who was invited where, by whom, and how the email read.

    The redeem link carries a random token of which only the digest is kept; inviting the
    same address again replaces the row, so the earlier link stops working. The code that
    proves the invited address (for a person without an account) is an HMAC bound to the
    invitation, as sign-up codes are.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        Index("ux_invitations_tenant_user", "tenant_id", "user_id", unique=True),
        Index("ux_invitations_token_digest", "token_digest", unique=True),
        Index("ix_invitations_expires_at", "expires_at"),  # housekeeping
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID]  # the guest
    invited_by_id: Mapped[uuid.UUID | None]
    email: Mapped[str] = mapped_column(String(320))
    redirect_url: Mapped[str] = mapped_column(String(2048))
    send_message: Mapped[bool]
    message_body: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    # [{"address": …, "name": …}], Graph's ccRecipients (one at most).
    cc_recipients: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(20), default=PENDING_ACCEPTANCE)
    token_digest: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    # The one-time code that proves the invited address (no account has it yet).
    code_digest: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None]
    code_attempts: Mapped[int] = mapped_column(default=0)
    code_sends: Mapped[int] = mapped_column(default=0)
    code_sent_at: Mapped[datetime | None]
