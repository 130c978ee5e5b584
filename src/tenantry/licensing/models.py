"""Self-service offers, subscriptions, per-SKU license pools and license assignments.

The seat invariant lives in `subscribed_skus`: one row per (tenant, SKU) holding
the prepaid units by state and `consumed_units`. A unit is taken only by a
conditional `UPDATE … SET consumed_units = consumed_units + n WHERE
consumed_units + n <= enabled_units + warning_units` (see `pools.take_seats`),
so the database, not Python, decides who gets the last seat.

`consumed_units` counts users, not assignment rows: a user who holds a SKU from
several sources (directly and from one or more groups) consumes one unit. A user
consumes a unit of a SKU exactly while at least one of their `license_assignments`
rows for it is in a consuming state (`Active`, `ActiveWithError`); services that
add or remove rows keep the counter in step in the same transaction, holding the
user's row lock (`assignments.lock_user`) so that two sources of one user never race.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.db import Base, new_id

# Subscription states (Graph `companySubscription.status`, `subscribedSku.capabilityStatus`).
ENABLED = "Enabled"
WARNING = "Warning"
SUSPENDED = "Suspended"
DELETED = "Deleted"
LOCKED_OUT = "LockedOut"

# License assignment states (Graph `licenseAssignmentState.state`).
ACTIVE = "Active"
ACTIVE_WITH_ERROR = "ActiveWithError"
DISABLED = "Disabled"
ERROR = "Error"
CONSUMING_STATES = (ACTIVE, ACTIVE_WITH_ERROR)

# License assignment errors (Graph `licenseAssignmentState.error`; "None" on the wire when null).
COUNT_VIOLATION = "CountViolation"
MUTUALLY_EXCLUSIVE_VIOLATION = "MutuallyExclusiveViolation"
DEPENDENCY_VIOLATION = "DependencyViolation"
PROHIBITED_IN_USAGE_LOCATION_VIOLATION = "ProhibitedInUsageLocationViolation"
UNIQUENESS_VIOLATION = "UniquenessViolation"
OTHER = "Other"

# A group's license processing (Graph `licenseProcessingState.state`).
QUEUED_FOR_PROCESSING = "QueuedForProcessing"
PROCESSING_IN_PROGRESS = "ProcessingInProgress"
PROCESSING_COMPLETE = "ProcessingComplete"


class OfferAssignment(Base):
    """A free self-service offer a person took when signing up; it applies to them alone."""

    __tablename__ = "offer_assignments"
    # The step-down notices look for offers whose next step is days away.
    __table_args__ = (Index("ix_offer_assignments_offer_started", "offer", "started_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    offer: Mapped[str] = mapped_column(String(64), primary_key=True)
    # active, or moved (carried to a paid subscription when the tenant became managed)
    status: Mapped[str] = mapped_column(String(20), default="active")
    started_at: Mapped[datetime]
    # The day of the offer's schedule (days since `started_at`) whose step down the person
    # was last told about by email (`offer_notices`), so that no step is announced twice.
    noticed_step_day: Mapped[int | None]


class Subscription(Base):
    """One purchase of a SKU by a tenant (Graph `companySubscription`)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_tenant_sku", "tenant_id", "sku_id"),
        Index("ix_subscriptions_due", "status", "next_lifecycle_at"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    sku_id: Mapped[uuid.UUID]
    sku_part_number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=ENABLED)
    quantity: Mapped[int]
    auto_renew: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None]
    # When the current state ends: term end (Enabled), end of grace (Warning), deletion (Suspended).
    next_lifecycle_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime]


class SubscribedSku(Base):
    """A tenant's license pool for one SKU: prepaid units by state, and units in use."""

    __tablename__ = "subscribed_skus"
    __table_args__ = (
        CheckConstraint(
            "enabled_units >= 0 AND warning_units >= 0 AND suspended_units >= 0"
            " AND locked_out_units >= 0 AND consumed_units >= 0",
            name="units_not_negative",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    sku_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sku_part_number: Mapped[str] = mapped_column(String(64))
    enabled_units: Mapped[int] = mapped_column(default=0)
    warning_units: Mapped[int] = mapped_column(default=0)
    suspended_units: Mapped[int] = mapped_column(default=0)
    locked_out_units: Mapped[int] = mapped_column(default=0)
    consumed_units: Mapped[int] = mapped_column(default=0)


class LicenseAssignment(Base):
    """A SKU given to a user by one source: directly (`assigned_by_group` null) or by a group.

    One row per (user, SKU, source), Graph's `licenseAssignmentStates` entries.
    `assigned_by_group` has no foreign key (adding one would rebuild this table
    on SQLite): a group cannot be deleted while rows of it remain
    (`groups.refuse_deleting_licensed_group`).
    """

    __tablename__ = "license_assignments"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "user_id",
            "sku_id",
            "assigned_by_group",
            name="uq_license_assignments_source",
        ),
        # NULLs are distinct in a unique constraint: one direct row per user and SKU.
        Index(
            "uq_license_assignments_direct",
            "tenant_id",
            "user_id",
            "sku_id",
            unique=True,
            sqlite_where=text("assigned_by_group IS NULL"),
            postgresql_where=text("assigned_by_group IS NULL"),
        ),
        Index("ix_license_assignments_user", "user_id", "sku_id"),
        Index("ix_license_assignments_tenant_sku", "tenant_id", "sku_id"),
        # A group's rows, its members in error first-class (group-based licensing).
        Index("ix_license_assignments_group", "tenant_id", "assigned_by_group", "state", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    # No cascade: deleting a user must go through `assignments.release_user` so the seats return.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    sku_id: Mapped[uuid.UUID]
    assigned_by_group: Mapped[uuid.UUID | None]
    # servicePlanIds (as strings) switched off for this user by this source.
    disabled_plans: Mapped[list[Any]]
    state: Mapped[str] = mapped_column(String(20), default=ACTIVE)
    error: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class GroupLicense(Base):
    """A SKU a group gives its direct members, with the service plans switched off."""

    __tablename__ = "group_licenses"
    __table_args__ = (
        # No cascade: a group that assigns licenses cannot be deleted.
        ForeignKeyConstraint(["tenant_id", "group_id"], ["groups.tenant_id", "groups.id"]),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sku_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    disabled_plans: Mapped[list[Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class GroupLicenseProcessing(Base):
    """Where a group's license processing stands (Graph `licenseProcessingState`).

    Its row is also the group's licensing lock: whoever changes the group's
    licenses, queues its processing or processes a chunk of it holds this row
    first. `requested` counts requests; a job that started at one count leaves
    the state QueuedForProcessing when another request came meanwhile.
    """

    __tablename__ = "group_license_processing"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"], ["groups.tenant_id", "groups.id"], ondelete="CASCADE"
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(30))
    requested: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class GroupLicenseRun(Base):
    """What one processing of a group's licenses (one job, over all its attempts) has done.

    A job killed mid-way (its lease expires and another worker runs it again) or retried
    after a failure resumes where its committed chunks stopped, and a rerun counts only
    what it writes itself: so each chunk adds its counts here, in its own transaction,
    and the finish event reports this row, the whole processing. The row is keyed by the
    job (`run_id`), not by the group: an apply and a reprocess of one group may run at
    the same time, each counting its own. It goes when the processing ends.
    """

    __tablename__ = "group_license_runs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"], ["groups.tenant_id", "groups.id"], ondelete="CASCADE"
        ),
        Index("ix_group_license_runs_group", "tenant_id", "group_id"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    group_id: Mapped[uuid.UUID]
    succeeded: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime]
