"""Subscription and license shapes (Microsoft Graph names: subscribedSku, licenseDetails, …)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from tenantry.catalog import UNLIMITED, Catalog, EntitlementValue, Sku
from tenantry.core.i18n import has_message, translate
from tenantry.core.schemas import ApiModel
from tenantry.licensing.assignments import LicenseDetail
from tenantry.licensing.entitlements import Entitlements
from tenantry.licensing.models import (
    CONSUMING_STATES,
    ENABLED,
    WARNING,
    LicenseAssignment,
    SubscribedSku,
    Subscription,
)
from tenantry.licensing.pools import capability_status
from tenantry.licensing.subscriptions import MAX_QUANTITY

# --- requests -----------------------------------------------------------------------------


class SubscriptionCreate(ApiModel):
    sku_part_number: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class SubscriptionUpdate(ApiModel):
    auto_renew: bool


class LicenseQuantity(ApiModel):
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class AssignedLicenseInput(ApiModel):
    sku_id: uuid.UUID
    disabled_plans: list[uuid.UUID] = Field(default_factory=list, max_length=100)


class AssignLicenseRequest(ApiModel):
    add_licenses: list[AssignedLicenseInput] = Field(default_factory=list, max_length=100)
    remove_licenses: list[uuid.UUID] = Field(default_factory=list, max_length=100)


class EntitlementCheck(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    value: int | None = Field(default=None, ge=0)


def check_view(found: Entitlements, check: EntitlementCheck) -> dict[str, Any]:
    """The answer to an entitlement check: `{name, value, allowed, limit}` (limit null: no
    such entitlement)."""
    allowed, limit = found.check(check.name, check.value)
    return {"name": check.name, "value": check.value, "allowed": allowed, "limit": limit}


# --- responses ----------------------------------------------------------------------------


class SubscriptionView(ApiModel):
    id: uuid.UUID
    sku_id: uuid.UUID
    sku_part_number: str
    status: str
    total_licenses: int
    auto_renew: bool
    is_trial: bool
    created_date_time: datetime
    status_changed_date_time: datetime
    next_lifecycle_date_time: datetime | None


class PrepaidUnits(ApiModel):
    enabled: int
    warning: int
    suspended: int
    locked_out: int


class ServicePlanInfo(ApiModel):
    service_plan_id: uuid.UUID
    service_plan_name: str
    provisioning_status: str
    applies_to: str


class SubscribedSkuView(ApiModel):
    id: str
    sku_id: uuid.UUID
    sku_part_number: str
    applies_to: str
    capability_status: str
    consumed_units: int
    prepaid_units: PrepaidUnits
    service_plans: list[ServicePlanInfo]


class CollectionOf(ApiModel):
    value: list[Any]


class LicenseDetailsView(ApiModel):
    id: str
    sku_id: uuid.UUID
    sku_part_number: str
    service_plans: list[ServicePlanInfo]


class EntitlementChangeView(ApiModel):
    name: str
    value: int | str = Field(description="The value from `effectiveDateTime` on.")
    effective_date_time: datetime


class EntitlementsView(ApiModel):
    user_id: uuid.UUID
    entitlements: dict[str, int | str]
    entitlement_changes: list[EntitlementChangeView] = Field(
        description="Each entitlement's next change of value, soonest first: a self-service "
        "offer stepping down with time (an entitlement that will not change is not listed)."
    )
    service_plans: list[str]
    sources: list[str]


class EntitlementCheckResult(ApiModel):
    name: str
    value: int | None
    allowed: bool
    limit: int | str | None


class EntitlementTokenView(ApiModel):
    token: str
    token_type: str
    expires_in: int
    jwks_uri: str


def subscription_view(subscription: Subscription) -> dict[str, Any]:
    """Graph `companySubscription` JSON."""
    return {
        "id": str(subscription.id),
        "skuId": str(subscription.sku_id),
        "skuPartNumber": subscription.sku_part_number,
        "status": subscription.status,
        "totalLicenses": subscription.quantity,
        "autoRenew": subscription.auto_renew,
        "isTrial": False,
        "createdDateTime": subscription.created_at.isoformat(),
        "statusChangedDateTime": subscription.status_changed_at.isoformat(),
        "nextLifecycleDateTime": (
            subscription.next_lifecycle_at.isoformat() if subscription.next_lifecycle_at else None
        ),
    }


def _plan(plan_id: uuid.UUID, name: str, status: str) -> dict[str, Any]:
    return {
        "servicePlanId": str(plan_id),
        "servicePlanName": name,
        "provisioningStatus": status,
        "appliesTo": "User",
    }


def subscribed_sku_view(pool: SubscribedSku, catalog: Catalog) -> dict[str, Any]:
    """Graph `subscribedSku` JSON."""
    status = capability_status(pool)
    sku = catalog.sku_by_id(pool.sku_id)
    provisioning = "Success" if status in (ENABLED, WARNING) else "Disabled"
    return {
        "id": f"{pool.tenant_id}_{pool.sku_id}",
        "skuId": str(pool.sku_id),
        "skuPartNumber": pool.sku_part_number,
        "appliesTo": "User",
        "capabilityStatus": status,
        "consumedUnits": pool.consumed_units,
        "prepaidUnits": {
            "enabled": pool.enabled_units,
            "warning": pool.warning_units,
            "suspended": pool.suspended_units,
            "lockedOut": pool.locked_out_units,
        },
        "servicePlans": [
            _plan(plan.service_plan_id, plan.name, provisioning)
            for plan in (sku.service_plans if sku else ())
        ],
    }


def catalog_sku_view(sku: Sku) -> dict[str, Any]:
    """A product that can be bought: its plans, and what it entitles from the first day."""
    return {
        "skuId": str(sku.sku_id),
        "skuPartNumber": sku.part_number,
        "displayName": sku.display_name,
        "termDays": sku.term_days,
        "servicePlans": [
            {"servicePlanId": str(plan.service_plan_id), "servicePlanName": plan.name}
            for plan in sku.service_plans
        ],
        "entitlements": {item.name: item.value_at(0) for item in sku.entitlements},
    }


def license_details_view(user_id: uuid.UUID, detail: LicenseDetail) -> dict[str, Any]:
    """Graph `licenseDetails` JSON: each plan Success, or Disabled (switched off or no access)."""
    return {
        "id": f"{user_id}_{detail.sku.sku_id}",
        "skuId": str(detail.sku.sku_id),
        "skuPartNumber": detail.sku.part_number,
        "servicePlans": [
            _plan(
                plan.service_plan_id,
                plan.name,
                "Success"
                if detail.has_access and plan.service_plan_id in detail.enabled_plan_ids
                else "Disabled",
            )
            for plan in detail.sku.service_plans
        ],
    }


def license_states_view(rows: list[LicenseAssignment]) -> dict[str, Any]:
    """Graph user `assignedLicenses` (merged per SKU) and `licenseAssignmentStates` (per source)."""
    disabled_everywhere: dict[str, set[str]] = {}
    for row in rows:
        if row.state not in CONSUMING_STATES:
            continue
        plans = set(row.disabled_plans or ())
        key = str(row.sku_id)
        disabled_everywhere[key] = (
            disabled_everywhere[key] & plans if key in disabled_everywhere else plans
        )
    return {
        "assignedLicenses": [
            {"skuId": sku_id, "disabledPlans": sorted(plans)}
            for sku_id, plans in disabled_everywhere.items()
        ],
        "licenseAssignmentStates": [
            {
                "skuId": str(row.sku_id),
                "assignedByGroup": str(row.assigned_by_group) if row.assigned_by_group else None,
                "disabledPlans": list(row.disabled_plans or ()),
                "state": row.state,
                "error": row.error or "None",
                "lastUpdatedDateTime": row.updated_at.isoformat(),
            }
            for row in rows
        ],
    }


def entitlements_view(user_id: uuid.UUID, entitlements: Entitlements) -> dict[str, Any]:
    """A user's effective entitlements."""
    return {
        "userId": str(user_id),
        "entitlements": entitlements.limits,
        "entitlementChanges": entitlement_changes_view(entitlements),
        "servicePlans": entitlements.service_plans,
        "sources": entitlements.sources,
    }


def entitlement_changes_view(entitlements: Entitlements) -> list[dict[str, Any]]:
    """`entitlementChanges`: each limit's next value and from when."""
    return [
        {"name": change.name, "value": change.value, "effectiveDateTime": change.effective_at}
        for change in entitlements.changes
    ]


# --- words for people (pages, emails) ---------------------------------------------------


def limit_label(language: str, name: str) -> str:
    """An entitlement's name for people ("Participants per meeting"), else its own name."""
    key = f"web.entitlement.{name}"
    return translate(language, key) if has_message(key) else name


def limit_text(language: str, value: EntitlementValue) -> str:
    """An entitlement's value for people: the number, or "Unlimited" in `language`."""
    return translate(language, "web.unlimited") if value == UNLIMITED else str(value)
