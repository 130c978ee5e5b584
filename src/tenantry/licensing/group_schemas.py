"""Shapes of group-based licensing: a group's licenses and processing state, license states."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from tenantry.core.schemas import ApiModel
from tenantry.directory.models import User
from tenantry.directory.schemas import GroupView, UserView, user_view
from tenantry.licensing.groups import GroupLicensing, MemberInError
from tenantry.licensing.models import CONSUMING_STATES, DISABLED, LicenseAssignment
from tenantry.licensing.schemas import license_states_view


class AssignedLicenseView(ApiModel):
    sku_id: uuid.UUID
    disabled_plans: list[str]


class LicenseAssignmentStateView(ApiModel):
    sku_id: uuid.UUID
    assigned_by_group: uuid.UUID | None
    disabled_plans: list[str]
    state: str = Field(description="Active, ActiveWithError, Disabled or Error.")
    error: str = Field(
        description="CountViolation, MutuallyExclusiveViolation, DependencyViolation, "
        "ProhibitedInUsageLocationViolation, UniquenessViolation, Other, or None."
    )
    last_updated_date_time: datetime


class UserLicensesView(UserView):
    assigned_licenses: list[AssignedLicenseView]
    license_assignment_states: list[LicenseAssignmentStateView]


class LicenseProcessingStateView(ApiModel):
    state: str = Field(description="QueuedForProcessing, ProcessingInProgress, ProcessingComplete.")


class GroupLicensesView(GroupView):
    assigned_licenses: list[AssignedLicenseView]
    license_processing_state: LicenseProcessingStateView | None = Field(
        description="null when the group never gave licenses."
    )
    has_members_with_license_errors: bool


class MemberWithLicenseErrorsView(UserView):
    license_assignment_states: list[LicenseAssignmentStateView] = Field(
        description="The user's licenses from this group."
    )


class MembersWithLicenseErrorsPage(ApiModel):
    value: list[MemberWithLicenseErrorsView]
    odata_next_link: str | None = Field(default=None, alias="@odata.nextLink")


def license_states(rows: list[LicenseAssignment], inactive_skus: set[uuid.UUID]) -> dict[str, Any]:
    """A user's `assignedLicenses` and `licenseAssignmentStates`; a license in effect whose
    subscription is suspended shows `Disabled` (it gives no access until reactivation)."""
    view = license_states_view(rows)
    inactive = {str(sku_id) for sku_id in inactive_skus}
    for state in view["licenseAssignmentStates"]:
        if state["skuId"] in inactive and state["state"] in CONSUMING_STATES:
            state["state"] = DISABLED
    return view


def user_licenses_view(
    user: User, rows: list[LicenseAssignment], inactive_skus: set[uuid.UUID]
) -> dict[str, Any]:
    """A user with their licenses and the state of each license source."""
    return user_view(user) | license_states(rows, inactive_skus)


def group_licensing_view(licensing: GroupLicensing) -> dict[str, Any]:
    """Graph group `assignedLicenses`, `licenseProcessingState`, `hasMembersWithLicenseErrors`."""
    return {
        "assignedLicenses": [
            {"skuId": str(item.sku_id), "disabledPlans": list(item.disabled_plans)}
            for item in licensing.licenses
        ],
        "licenseProcessingState": (
            {"state": licensing.processing_state} if licensing.processing_state else None
        ),
        "hasMembersWithLicenseErrors": licensing.has_members_with_errors,
    }


def member_with_errors_view(member: MemberInError) -> dict[str, Any]:
    """A member in error with their licenses from the group."""
    return user_view(member.user) | {
        "licenseAssignmentStates": license_states_view(member.rows)["licenseAssignmentStates"]
    }
