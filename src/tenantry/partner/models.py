"""Tables of the partner program: operators, agreements, reserved names, accounts and members.

The Operator role is the platform's, not a tenant's: it lives in a table of its own, so
no tenant role (Global Administrator included) ever grants it and no tenant's admins can
see or change it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.db import Base, new_id


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


PENDING_APPROVAL = "pendingApproval"
ACTIVE = "active"
REJECTED = "rejected"
SUSPENDED = "suspended"


class PartnerAccount(Base):
    """An organization's account in the partner program, enrolled by a Global Administrator.

    Two unique indexes settle the races of enrollment in the database: one account per
    tenant, and one account per publisher name, compared by `publisher_name_key` (so two
    look-alike names are one).
    """

    __tablename__ = "partner_accounts"
    __table_args__ = (
        Index("ux_partner_accounts_tenant_id", "tenant_id", unique=True),
        Index("ux_partner_accounts_publisher_name_key", "publisher_name_key", unique=True),
        Index("ix_partner_accounts_approval_token_digest", "approval_token_digest"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    country_or_region: Mapped[str] = mapped_column(String(2))
    account_type: Mapped[str] = mapped_column(String(20))
    publisher_display_name: Mapped[str] = mapped_column(String(50))
    publisher_name_key: Mapped[str] = mapped_column(String(64))
    contact_name: Mapped[str] = mapped_column(String(256))
    contact_email: Mapped[str] = mapped_column(String(320))
    contact_phone: Mapped[str] = mapped_column(String(20))
    approver_name: Mapped[str] = mapped_column(String(256))
    approver_email: Mapped[str] = mapped_column(String(320))
    approver_phone: Mapped[str] = mapped_column(String(20))
    # The acceptance of the Collaboration agreement: which text, when, by whom, from where.
    agreement_version: Mapped[str] = mapped_column(String(40))
    agreement_accepted_at: Mapped[datetime]
    agreement_accepted_by: Mapped[uuid.UUID]
    agreement_client_address: Mapped[str | None] = mapped_column(String(64))
    # The approver's link: a digest of its random token (the token is only in the email).
    approval_token_digest: Mapped[str | None] = mapped_column(String(64))
    approval_expires_at: Mapped[datetime | None]
    # The language of the account's emails: the enrolling administrator's.
    language: Mapped[str] = mapped_column(String(2))
    created_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PartnerAccountTenant(Base):
    """A tenant linked to a partner account (seed 003: "the tenant id is added to the account").

    The enrolling tenant is linked at enrollment and stays linked. Linking changes nothing
    in the tenant's directory; its users and groups may then become the account's members.
    The primary key settles two links of one tenant made at once.
    """

    __tablename__ = "partner_account_tenants"
    __table_args__ = (
        # The accounts a tenant is linked to (a person's accounts in their tenant).
        Index("ix_partner_account_tenants_tenant_id", "tenant_id"),
    )

    partner_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partner_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    linked_by: Mapped[uuid.UUID | None]
    linked_at: Mapped[datetime]


class PartnerAccountMember(Base):
    """A user or a group of a linked tenant given roles in a partner account.

    Exactly one of `user_id` and `group_id` is set. Its foreign keys carry the tenant: to
    the link (unlinking a tenant removes its members with it), and to the user or group
    (deleting them in the directory removes their membership; nothing here ever changes
    the directory). One membership per user or group and account: the unique constraints
    (NULLs are distinct in both databases, so users and groups do not meet).
    """

    __tablename__ = "partner_account_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["partner_account_id", "tenant_id"],
            ["partner_account_tenants.partner_account_id", "partner_account_tenants.tenant_id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "group_id"], ["groups.tenant_id", "groups.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("partner_account_id", "user_id"),
        UniqueConstraint("partner_account_id", "group_id"),
        CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="one_principal"),
        # The member list in the order members were added, whole or for one tenant.
        Index("ix_partner_account_members_account_added", "partner_account_id", "created_at", "id"),
        Index(
            "ix_partner_account_members_account_tenant",
            "partner_account_id",
            "tenant_id",
            "created_at",
            "id",
        ),
        # A person's memberships (and their groups'), in their tenant.
        Index("ix_partner_account_members_user", "tenant_id", "user_id"),
        Index("ix_partner_account_members_group", "tenant_id", "group_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    partner_account_id: Mapped[uuid.UUID]
    tenant_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None]
    group_id: Mapped[uuid.UUID | None]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]


class PartnerMemberRole(Base):
    """One role of one member (a member holds one or more)."""

    __tablename__ = "partner_member_roles"
    __table_args__ = (
        # Who holds a role in an account: the last Owner's check, the list's role filter.
        Index("ix_partner_member_roles_account_role", "partner_account_id", "role", "member_id"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partner_account_members.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(30), primary_key=True)
    partner_account_id: Mapped[uuid.UUID]
