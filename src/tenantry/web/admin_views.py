"""What the admin center pages show of SKUs, license pools and users (plain dicts for templates),
and what their license forms choose."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData

from tenantry.catalog import Catalog, ServicePlan, Sku
from tenantry.core.i18n import format_date, has_message, translate
from tenantry.directory.models import User
from tenantry.licensing import pools as licensing_pools
from tenantry.licensing.models import DELETED, SubscribedSku

USERS = "/admin/users"
GROUPS = "/admin/groups"
BILLING = "/admin/billing"


def user_path(user_id: uuid.UUID | str, action: str = "") -> str:
    return f"{USERS}/{user_id}{action}"


def group_path(group_id: uuid.UUID | str, action: str = "") -> str:
    return f"{GROUPS}/{group_id}{action}"


def format_time(language: str, value: datetime | None) -> str:
    """A moment with its day and UTC time ("12 May 2026, 14:03 UTC")."""
    if value is None:
        return ""
    moment = value.astimezone(UTC) if value.tzinfo else value
    return translate(
        language, "web.date_time", date=format_date(language, moment), time=f"{moment:%H:%M}"
    )


def plan_label(language: str, plan: ServicePlan) -> str:
    """A service plan's name in the page language (its catalog name when not translated)."""
    key = f"web.plan.{plan.name}"
    return translate(language, key) if has_message(key) else plan.name


def sku_name(catalog: Catalog, sku_id: uuid.UUID) -> str:
    """The display name of a SKU, or its id when the catalog no longer has it."""
    sku = catalog.sku_by_id(sku_id)
    return sku.display_name if sku else str(sku_id)


def sku_plans(language: str, sku: Sku) -> list[dict[str, str]]:
    return [
        {"id": str(plan.service_plan_id), "name": plan.name, "label": plan_label(language, plan)}
        for plan in sku.service_plans
    ]


def plan_states(language: str, sku: Sku | None, disabled: Iterable[str]) -> list[dict[str, Any]]:
    """Each service plan of a license, on unless in `disabled` (its disabledPlans)."""
    off = set(disabled)
    return [
        {
            "id": str(plan.service_plan_id),
            "label": plan_label(language, plan),
            "enabled": str(plan.service_plan_id) not in off,
        }
        for plan in (sku.service_plans if sku else ())
    ]


def chosen_sku(catalog: Catalog, form: FormData) -> Sku | None:
    """The SKU whose id a license form's `sku` field carries; None when the catalog has none."""
    value = form.get("sku")
    try:
        return catalog.sku_by_id(uuid.UUID(value.strip())) if isinstance(value, str) else None
    except ValueError:
        return None


def disabled_plans(sku: Sku, form: FormData) -> list[str]:
    """The service plans of `sku` whose `plan` box the form left unticked (its disabledPlans)."""
    ticked = {str(value) for value in form.getlist("plan")}
    return [
        str(plan.service_plan_id)
        for plan in sku.service_plans
        if str(plan.service_plan_id) not in ticked
    ]


def assignable_pools(
    language: str, catalog: Catalog, pools: Iterable[SubscribedSku], given: set[str]
) -> list[dict[str, Any]]:
    """The license pools that can still be given (not in `given`, not deleted), with their apps."""
    assignable = []
    for pool in pools:
        view = pool_view(pool, catalog)
        sku = catalog.sku_by_id(pool.sku_id)
        if sku is not None and view["sku_id"] not in given and view["status"] != DELETED:
            assignable.append(view | {"plans": sku_plans(language, sku)})
    return assignable


def pool_view(pool: SubscribedSku, catalog: Catalog) -> dict[str, Any]:
    """A license pool as Graph's subscribedSku says it: units by state, used and free."""
    sku = catalog.sku_by_id(pool.sku_id)
    assignable = pool.enabled_units + pool.warning_units
    return {
        "sku_id": str(pool.sku_id),
        "part_number": pool.sku_part_number,
        "name": sku.display_name if sku else pool.sku_part_number,
        "status": licensing_pools.capability_status(pool),
        "enabled": pool.enabled_units,
        "warning": pool.warning_units,
        "suspended": pool.suspended_units,
        "total": assignable,
        "consumed": pool.consumed_units,
        "available": max(0, assignable - pool.consumed_units),
        "level": _level(pool.consumed_units, assignable),
    }


def _level(consumed: int, total: int) -> str:
    """How full a pool is, for the colour of its bar: ok, high (90 %) or full."""
    if total and consumed >= total:
        return "full"
    return "high" if total and consumed * 10 >= total * 9 else "ok"


def user_row(user: User, licenses: list[str] | None = None) -> dict[str, Any]:
    """A user as a row of a list."""
    return {
        "id": str(user.id),
        "path": user_path(user.id),
        "name": user.display_name,
        "address": user.user_principal_name,
        "location": user.usage_location or "",
        "enabled": user.account_enabled,
        "source": user.source,
        # A guest who has not accepted their invitation yet (Graph's PendingAcceptance).
        "pending": user.external_user_state == "PendingAcceptance",
        "licenses": licenses or [],
    }
