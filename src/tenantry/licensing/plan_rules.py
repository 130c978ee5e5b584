"""The catalog's service-plan rules (mutually exclusive plans, plans that depend on others) and
the SQL that checks a user's license rows against them.

One implementation serves both ways of licensing: group processing asks the
probes below for every member of a chunk at once (`group_chunks`), direct
assignment asks them for one user (`breaches`), after writing the request's
changes in its unit of work, so that what is checked is what the user would
hold. A plan is held when one of the user's rows of a SKU with that plan is in
a consuming state (`Active`, `ActiveWithError`) and does not disable it;
sources merge (a plan disabled by one source and enabled by another is held).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, case, cast, exists, false, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from tenantry.catalog import Catalog, Sku
from tenantry.licensing.models import (
    CONSUMING_STATES,
    DEPENDENCY_VIOLATION,
    MUTUALLY_EXCLUSIVE_VIOLATION,
    PROHIBITED_IN_USAGE_LOCATION_VIOLATION,
    LicenseAssignment,
)


@dataclass(frozen=True)
class GroupSku:
    """A SKU as a source gives it: a group (or, for one user, a direct assignment)."""

    sku_id: uuid.UUID
    disabled_plans: list[str]

    @property
    def plans_text(self) -> str:
        # How the JSON column stores the list (SQLAlchemy's serializer), for comparisons.
        return json.dumps(self.disabled_plans)


@dataclass(frozen=True)
class PlanRules:
    """For one SKU as a source gives it: what a user must not hold, and must hold.

    `conflicts`: (SKU, plan ids) — holding that SKU with one of those plans
    enabled excludes a plan given here. `needs`: per required plan name, the
    (SKU, plan id) pairs that provide it.
    """

    conflicts: tuple[tuple[uuid.UUID, tuple[uuid.UUID, ...]], ...] = ()
    needs: tuple[tuple[str, tuple[tuple[uuid.UUID, uuid.UUID], ...]], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.conflicts and not self.needs


def enabled_names(sku: Sku, disabled_plans: Iterable[str]) -> set[str]:
    """The names of the plans of `sku` left on by `disabled_plans` (servicePlanId strings)."""
    off = set(disabled_plans)
    return {plan.name for plan in sku.service_plans if str(plan.service_plan_id) not in off}


def has_rules(catalog: Catalog) -> bool:
    """Whether any plan of the catalog excludes or depends on another."""
    return any(
        plan.mutually_exclusive_with or plan.depends_on
        for sku in catalog.skus.values()
        for plan in sku.service_plans
    )


def related_skus(catalog: Catalog, sku_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The SKUs whose plans a rule ties to a plan of these SKUs (either way), these included.

    Whoever checks the rules for a user holds these SKUs' pools (`pools.lock_pools`):
    the rows a check reads can then not change under it.
    """
    wanted = set(sku_ids)
    names = {
        plan.name
        for sku in catalog.skus.values()
        if sku.sku_id in wanted
        for plan in sku.service_plans
    }
    tied: set[str] = set()
    for sku in catalog.skus.values():
        for plan in sku.service_plans:
            if plan.name in names:
                tied.update(plan.mutually_exclusive_with, plan.depends_on)
            elif names & set(plan.mutually_exclusive_with + plan.depends_on):
                tied.add(plan.name)
    return wanted | {
        sku.sku_id
        for sku in catalog.skus.values()
        if any(plan.name in tied for plan in sku.service_plans)
    }


def rules_of(catalog: Catalog, licenses: Sequence[GroupSku]) -> dict[uuid.UUID, PlanRules]:
    """The rules each of a source's SKUs brings, from the catalog's plan declarations.

    A plan the source itself gives through another of its SKUs satisfies a
    dependency (if that SKU fails for a user, the user gets none of them anyway).
    """
    skus = {item.sku_id: catalog.sku_by_id(item.sku_id) for item in licenses}
    given: set[str] = set()
    for item in licenses:
        sku = skus[item.sku_id]
        if sku is not None:
            given |= enabled_names(sku, item.disabled_plans)
    rules: dict[uuid.UUID, PlanRules] = {}
    for item in licenses:
        sku = skus[item.sku_id]
        if sku is None:
            rules[item.sku_id] = PlanRules()
            continue
        enabled = enabled_names(sku, item.disabled_plans)
        conflicts = []
        for other in catalog.skus.values():
            if other.sku_id == sku.sku_id:
                continue
            excluded = tuple(
                plan.service_plan_id
                for plan in other.service_plans
                if any(catalog.excludes(plan.name, name) for name in enabled)
            )
            if excluded:
                conflicts.append((other.sku_id, excluded))
        required = {
            name for plan in sku.service_plans if plan.name in enabled for name in plan.depends_on
        } - given
        needs = tuple(
            (
                name,
                tuple(
                    (other.sku_id, plan.service_plan_id)
                    for other in catalog.skus.values()
                    for plan in other.service_plans
                    if plan.name == name
                ),
            )
            for name in sorted(required)
        )
        rules[item.sku_id] = PlanRules(conflicts=tuple(conflicts), needs=needs)
    return rules


# --- the probes ---------------------------------------------------------------------------


def holds(user: Any, sku_id: uuid.UUID, plan_ids: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """The user holds `sku_id` (from any source, in effect) with one of these plans enabled.

    Probes of a user's rows name no tenant: user ids are unique platform-wide, and
    then one index fits, (user_id, sku_id), even when the table's statistics are
    stale (a fast-growing table inside a long job): the planner cannot pick the
    (tenant_id, sku_id) index and scan a tenant's every row per member.
    """
    other = aliased(LicenseAssignment)
    plans = cast(other.disabled_plans, Text)
    return exists().where(
        other.user_id == user,
        other.sku_id == sku_id,
        other.state.in_(CONSUMING_STATES),
        or_(*[~plans.contains(str(plan_id)) for plan_id in plan_ids]),
    )


def breaks_exclusion(user: Any, rules: PlanRules) -> ColumnElement[bool]:
    """The user holds a plan that excludes one of the SKU's."""
    if not rules.conflicts:
        return false()
    return or_(*[holds(user, sku_id, plans) for sku_id, plans in rules.conflicts])


def provided(user: Any, providers: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> ColumnElement[bool]:
    """The user holds one of these (SKU, plan) pairs: a required plan is there."""
    return or_(false(), *[holds(user, sku_id, [plan_id]) for sku_id, plan_id in providers])


def misses_dependency(user: Any, rules: PlanRules) -> ColumnElement[bool]:
    """A plan the SKU's plans depend on is held by none of the user's other licenses."""
    if not rules.needs:
        return false()
    return or_(*[~provided(user, providers) for _name, providers in rules.needs])


def rule_error(user: Any, rules: PlanRules, no_location: ColumnElement[bool]) -> Any:
    """The error code a user gets for a SKU by the rules (location first), or NULL."""
    return case(
        (no_location, PROHIBITED_IN_USAGE_LOCATION_VIOLATION),
        (breaks_exclusion(user, rules), MUTUALLY_EXCLUSIVE_VIOLATION),
        (misses_dependency(user, rules), DEPENDENCY_VIOLATION),
        else_=null(),
    )


# --- one user -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    """A rule one of a user's licenses breaks: the license's plan and the other plan.

    MutuallyExclusiveViolation: `other_plan` is held, from `other_skus`.
    DependencyViolation: `other_plan` is held by none of the user's licenses;
    `other_skus` are those that include it.
    """

    error: str
    sku: Sku
    plan: str
    other_plan: str
    other_skus: tuple[str, ...]


async def breaches(
    db_session: AsyncSession,
    *,
    catalog: Catalog,
    user_id: uuid.UUID,
    license: GroupSku,
    exclusions: bool = True,
) -> list[Breach]:
    """The rules `license` breaks for a user as their rows stand in this unit of work (one
    query; its own rows count as held). Only dependencies unless `exclusions`."""
    sku = catalog.sku_by_id(license.sku_id)
    if sku is None:
        return []
    rules = rules_of(catalog, [license])[license.sku_id]
    enabled = enabled_names(sku, license.disabled_plans)
    probes: list[tuple[ColumnElement[bool], Breach]] = []
    if exclusions:
        for other_id, plan_ids in rules.conflicts:
            other = catalog.sku_by_id(other_id)
            assert other is not None
            for plan_id in plan_ids:
                excluded = other.plan_by_id(plan_id)
                assert excluded is not None
                mine = min(name for name in enabled if catalog.excludes(name, excluded.name))
                breach = Breach(
                    MUTUALLY_EXCLUSIVE_VIOLATION, sku, mine, excluded.name, (other.part_number,)
                )
                probes.append((holds(user_id, other_id, [plan_id]), breach))
    for name, providers in rules.needs:
        dependant = min(
            plan.name
            for plan in sku.service_plans
            if plan.name in enabled and name in plan.depends_on
        )
        providing = tuple(
            sorted(
                {
                    found.part_number
                    for sku_id, _ in providers
                    if (found := catalog.sku_by_id(sku_id))
                }
            )
        )
        breach = Breach(DEPENDENCY_VIOLATION, sku, dependant, name, providing)
        probes.append((~provided(user_id, providers), breach))
    if not probes:
        return []
    found = (
        await db_session.execute(
            select(*[probe.label(f"rule_{index}") for index, (probe, _) in enumerate(probes)])
        )
    ).one()
    return [breach for (_, breach), broken in zip(probes, found, strict=True) if broken]
