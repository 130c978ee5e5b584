"""Tables of engagements: programs and their roles, engagements, their audience, members and
access requests.

Races are settled here, by the database: one pending request per person and engagement is a
partial unique index (`ux_engagement_access_requests_pending`); one membership row per person
and engagement is the primary key; a decision is a conditional UPDATE of a pending row (see
`requests.decide`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.db import Base, new_id

# Program roles (Microsoft Collaborate's groups at program scope).
PROGRAM_OWNER = "owner"
ENGAGEMENT_CREATOR = "engagementCreator"
CONTENT_PUBLISHER = "contentPublisher"
PROGRAM_ROLES = (PROGRAM_OWNER, ENGAGEMENT_CREATOR, CONTENT_PUBLISHER)

# Engagement roles.
PARTICIPANT = "participant"
POWER_USER = "powerUser"
OWNER = "owner"
ENGAGEMENT_ROLES = (PARTICIPANT, POWER_USER, CONTENT_PUBLISHER, OWNER)
# Roles a partner organization's people hold; the others are the operator side's.
PARTNER_ROLES = (PARTICIPANT, POWER_USER)

# Join policies and engagement states.
OPEN = "open"
APPROVAL_REQUIRED = "approvalRequired"
ACTIVE = "active"
CLOSED = "closed"

# Access request states (Entra's accessPackageAssignmentRequest).
PENDING_APPROVAL = "pendingApproval"
DELIVERED = "delivered"
DENIED = "denied"
CANCELED = "canceled"
EXPIRED = "expired"
REQUEST_STATES = (PENDING_APPROVAL, DELIVERED, DENIED, CANCELED, EXPIRED)

_PENDING = text("state = 'pendingApproval'")


class Program(Base):
    """A set of engagements under one Program Owner's care."""

    __tablename__ = "programs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    display_name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text)
    created_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ProgramRole(Base):
    """An operator's role in a program: owner, engagement creator or content publisher."""

    __tablename__ = "program_roles"
    __table_args__ = (Index("ix_program_roles_user", "user_id", "role"),)

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    added_by: Mapped[uuid.UUID | None]
    added_at: Mapped[datetime]


class Engagement(Base):
    """Who may see and work with one collaboration's content and feedback."""

    __tablename__ = "engagements"
    __table_args__ = (
        Index("ix_engagements_program", "program_id"),
        Index("ix_engagements_open_to_all", "state", "all_partner_accounts"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    program_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("programs.id", ondelete="RESTRICT")
    )
    display_name: Mapped[str] = mapped_column(String(256))
    display_name_key: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text)
    # None: the default terms of use (`terms.default_terms`).
    terms_of_use: Mapped[str | None] = mapped_column(Text)
    # Counts the engagement's own terms: each change of them is a new version.
    terms_revision: Mapped[int] = mapped_column(default=0)
    join_policy: Mapped[str] = mapped_column(String(20))
    all_partner_accounts: Mapped[bool]
    request_timeout_days: Mapped[int]
    inactivity_days: Mapped[int]
    state: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class EngagementAudience(Base):
    """A partner account an engagement is open to (besides `all_partner_accounts`)."""

    __tablename__ = "engagement_audiences"
    __table_args__ = (Index("ix_engagement_audiences_account", "partner_account_id"),)

    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), primary_key=True
    )
    partner_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partner_accounts.id", ondelete="CASCADE"), primary_key=True
    )


class EngagementMember(Base):
    """A person's roles in one engagement, and when they last opened it.

    `partner_account_id` is the partner account they take part for (None on the operator's
    side: owners, content publishers); the membership counts only while that account is
    active. `inactivity_warning` is the last warning sent (30, 14 or 1 days before removal),
    cleared when the person opens the engagement again.
    """

    __tablename__ = "engagement_members"
    __table_args__ = (
        Index("ix_engagement_members_user", "user_id"),
        Index("ix_engagement_members_account", "engagement_id", "partner_account_id"),
        Index("ix_engagement_members_last_access", "engagement_id", "last_access_at"),
    )

    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    partner_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("partner_accounts.id", ondelete="CASCADE")
    )
    is_participant: Mapped[bool] = mapped_column(default=False)
    is_power_user: Mapped[bool] = mapped_column(default=False)
    is_content_publisher: Mapped[bool] = mapped_column(default=False)
    is_owner: Mapped[bool] = mapped_column(default=False)
    # The terms of use the person accepted (joining or requesting), and when.
    terms_version: Mapped[str | None] = mapped_column(String(60))
    terms_accepted_at: Mapped[datetime | None]
    added_by: Mapped[uuid.UUID | None]
    added_at: Mapped[datetime]
    last_access_at: Mapped[datetime]
    inactivity_warning: Mapped[int | None] = mapped_column(SmallInteger)
    inactivity_warned_at: Mapped[datetime | None]

    def roles(self) -> list[str]:
        """The roles held, in the API's words."""
        held = (
            (PARTICIPANT, self.is_participant),
            (POWER_USER, self.is_power_user),
            (CONTENT_PUBLISHER, self.is_content_publisher),
            (OWNER, self.is_owner),
        )
        return [role for role, flag in held if flag]


ROLE_COLUMNS = {
    PARTICIPANT: "is_participant",
    POWER_USER: "is_power_user",
    CONTENT_PUBLISHER: "is_content_publisher",
    OWNER: "is_owner",
}


class AccessRequest(Base):
    """A partner user's request to take part in an engagement that needs approval."""

    __tablename__ = "engagement_access_requests"
    __table_args__ = (
        # One pending request per person and engagement, whatever races.
        Index(
            "ux_engagement_access_requests_pending",
            "engagement_id",
            "requester_id",
            unique=True,
            sqlite_where=_PENDING,
            postgresql_where=_PENDING,
        ),
        # What deciders list, oldest first: an owner, by engagement; a Power User, by the
        # partner account they act for (which also finds an account's pending requests).
        Index("ix_engagement_access_requests_engagement", "engagement_id", "state", "created_at"),
        Index("ix_engagement_access_requests_account", "partner_account_id", "state", "created_at"),
        Index("ix_engagement_access_requests_requester", "requester_id", "created_at"),
        # The timed round: pending requests by deadline, and those still to be reminded.
        Index(
            "ix_engagement_access_requests_expiry",
            "expires_at",
            sqlite_where=_PENDING,
            postgresql_where=_PENDING,
        ),
        Index(
            "ix_engagement_access_requests_reminder",
            "remind_at",
            sqlite_where=text("state = 'pendingApproval' AND reminded_at IS NULL"),
            postgresql_where=text("state = 'pendingApproval' AND reminded_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE")
    )
    requester_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    partner_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partner_accounts.id", ondelete="CASCADE")
    )
    justification: Mapped[str] = mapped_column(Text)
    terms_version: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    remind_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None]
    decision_justification: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
