"""Entitlements: what a user may use now, from their offers and licenses, and when that changes."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import (
    UNLIMITED,
    Catalog,
    EntitlementValue,
    combine,
    days_since,
    plan_of_entitlement,
)
from tenantry.core.clock import clock
from tenantry.directory.models import User
from tenantry.licensing.models import (
    CONSUMING_STATES,
    LicenseAssignment,
    OfferAssignment,
    SubscribedSku,
)
from tenantry.licensing.pools import ASSIGNABLE_UNITS


@dataclass(frozen=True)
class EntitlementChange:
    """The value an entitlement takes at a coming moment, as an offer steps down (or up)."""

    name: str
    value: EntitlementValue
    effective_at: datetime


@dataclass(frozen=True)
class Entitlements:
    """What a user may use: named limits (largest wins) and enabled service plans; with
    `changes`, each limit's next change of value (when asked for: `entitlements_of`)."""

    limits: dict[str, EntitlementValue]
    service_plans: list[str]
    sources: list[str]
    changes: tuple[EntitlementChange, ...] = ()

    def check(self, name: str, value: int | None) -> tuple[bool, EntitlementValue | None]:
        """Whether `value` fits the limit `name` (None: whether the limit exists and is not 0)."""
        limit = self.limits.get(name)
        if limit is None:
            return False, None
        if limit == UNLIMITED:
            return True, limit
        return (int(limit) > 0 if value is None else value <= int(limit)), limit


async def entitlements_of(
    *, db_session: AsyncSession, catalog: Catalog, user_id: uuid.UUID, with_changes: bool = False
) -> Entitlements:
    """The effective entitlements of a user now, from their active offers and licenses, and
    `with_changes` when each limit changes next as their offers step down."""
    offers, licenses = (await entitlement_sources(db_session=db_session, user_ids=[user_id]))[
        user_id
    ]
    found = compute_entitlements(catalog, offers=offers, licenses=licenses)
    if not with_changes:
        return found
    changes = upcoming_changes(catalog, offers=offers, licenses=licenses, now=clock.now())
    return dataclasses.replace(found, changes=changes)


OfferRow = tuple[str, datetime]  # part number, started at
LicenseRow = tuple[uuid.UUID, list[str] | None]  # skuId, disabledPlans


async def entitlement_sources(
    *, db_session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[list[OfferRow], list[LicenseRow]]]:
    """What each user's entitlements come from: their active offers and the licenses that
    give access now (two queries, whatever the number of users)."""
    found: dict[uuid.UUID, tuple[list[OfferRow], list[LicenseRow]]] = {
        user_id: ([], []) for user_id in user_ids
    }
    offers = await db_session.execute(
        select(OfferAssignment.user_id, OfferAssignment.offer, OfferAssignment.started_at)
        .join(
            User,
            (User.tenant_id == OfferAssignment.tenant_id) & (User.id == OfferAssignment.user_id),
        )
        .where(User.id.in_(user_ids), OfferAssignment.status == "active")
    )
    for user_id, part_number, started_at in offers:
        found[user_id][0].append((part_number, started_at))
    licenses = await db_session.execute(
        select(
            LicenseAssignment.user_id, LicenseAssignment.sku_id, LicenseAssignment.disabled_plans
        )
        .join(
            SubscribedSku,
            (SubscribedSku.tenant_id == LicenseAssignment.tenant_id)
            & (SubscribedSku.sku_id == LicenseAssignment.sku_id),
        )
        .where(
            LicenseAssignment.user_id.in_(user_ids),
            LicenseAssignment.state.in_(CONSUMING_STATES),
            ASSIGNABLE_UNITS > 0,
        )
    )
    for user_id, sku_id, disabled_plans in licenses:
        found[user_id][1].append((sku_id, disabled_plans))
    return found


def upcoming_changes(
    catalog: Catalog,
    *,
    offers: Sequence[tuple[str, datetime]],
    licenses: Sequence[tuple[uuid.UUID, list[str] | None]],
    now: datetime,
) -> tuple[EntitlementChange, ...]:
    """Each limit's next change of value: at every coming step of an offer's schedule the
    limits are worked out again (a license may keep a limit above the step)."""
    current = compute_entitlements(catalog, offers=offers, licenses=licenses, now=now).limits
    moments = sorted(
        {
            moment
            for part_number, started_at in offers
            if (offer := catalog.offer(part_number)) is not None
            for entitlement in offer.entitlements
            for step in entitlement.steps
            if (moment := started_at + timedelta(days=step.from_day)) > now
        }
    )
    changes: dict[str, EntitlementChange] = {}
    for moment in moments:
        then = compute_entitlements(catalog, offers=offers, licenses=licenses, now=moment).limits
        for name, value in then.items():
            if name not in changes and value != current.get(name):
                changes[name] = EntitlementChange(name, value, moment)
    return tuple(sorted(changes.values(), key=lambda change: (change.effective_at, change.name)))


def compute_entitlements(
    catalog: Catalog,
    *,
    offers: Iterable[tuple[str, datetime]],
    licenses: Iterable[tuple[uuid.UUID, list[str] | None]],
    now: datetime | None = None,
) -> Entitlements:
    """Entitlements from a user's active offers (part number, start) and licenses that give
    access (skuId, disabledPlans): largest value wins.

    A license brings its SKU's service plans minus `disabledPlans` (merged over
    its sources) and the SKU's entitlements except those of disabled plans.
    """
    now = now or clock.now()
    values: dict[str, list[EntitlementValue]] = {}
    plans: set[str] = set()
    sources: list[str] = []
    for part_number, started_at in offers:
        offer = catalog.offer(part_number)
        if offer is None:
            continue
        sources.append(offer.part_number)
        plans.update(offer.service_plans)
        age = days_since(started_at, now)
        for entitlement in offer.entitlements:
            values.setdefault(entitlement.name, []).append(entitlement.value_at(age))
    enabled_by_sku: dict[uuid.UUID, set[str]] = {}
    for sku_id, disabled in licenses:
        sku = catalog.sku_by_id(sku_id)
        if sku is None:
            continue
        off = set(disabled or ())
        enabled_by_sku.setdefault(sku_id, set()).update(
            p.name for p in sku.service_plans if str(p.service_plan_id) not in off
        )
    for sku_id, enabled in enabled_by_sku.items():
        sku = catalog.sku_by_id(sku_id)
        assert sku is not None
        sources.append(sku.part_number)
        plans.update(enabled)
        plan_names = tuple(p.name for p in sku.service_plans)
        for entitlement in sku.entitlements:
            plan = plan_of_entitlement(entitlement.name, plan_names)
            if plan is None or plan in enabled:
                values.setdefault(entitlement.name, []).append(entitlement.value_at(0))
    return Entitlements(
        limits={name: combine(found) for name, found in sorted(values.items())},
        service_plans=sorted(plans),
        sources=sources,
    )
