"""Self-service offers and the effective entitlements of a user."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog, EntitlementValue, combine, days_since
from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.licensing.models import OfferAssignment


@dataclass(frozen=True)
class Entitlements:
    """What a user may use: named limits (largest wins) and enabled service plans."""

    limits: dict[str, EntitlementValue]
    service_plans: list[str]
    sources: list[str]


async def offers_of(*, db_session: AsyncSession, user_id: uuid.UUID) -> list[OfferAssignment]:
    """The self-service offers a user holds."""
    query = select(OfferAssignment).where(OfferAssignment.user_id == user_id)
    return list((await db_session.scalars(query)).all())


async def add_offer(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    offer: str,
) -> OfferAssignment:
    """Give a user a self-service offer (once: taking it again keeps the first start date)."""
    existing = await db_session.get(OfferAssignment, (tenant_id, user_id, offer))
    if existing is not None:
        return existing
    assignment = OfferAssignment(
        tenant_id=tenant_id, user_id=user_id, offer=offer, status="active", started_at=clock.now()
    )
    db_session.add(assignment)
    audit.record(
        db_session,
        actor=actor,
        action="Start self-service offer",
        target_type="user",
        target_id=user_id,
        tenant_id=tenant_id,
        details={"offer": offer},
    )
    return assignment


async def entitlements_of(
    *, db_session: AsyncSession, catalog: Catalog, user_id: uuid.UUID
) -> Entitlements:
    """The effective entitlements of a user now."""
    now = clock.now()
    values: dict[str, list[EntitlementValue]] = {}
    plans: set[str] = set()
    sources: list[str] = []
    for assignment in await offers_of(db_session=db_session, user_id=user_id):
        offer = catalog.offer(assignment.offer)
        if offer is None or assignment.status != "active":
            continue
        sources.append(offer.part_number)
        plans.update(offer.service_plans)
        age = days_since(assignment.started_at, now)
        for entitlement in offer.entitlements:
            values.setdefault(entitlement.name, []).append(entitlement.value_at(age))
    return Entitlements(
        limits={name: combine(found) for name, found in sorted(values.items())},
        service_plans=sorted(plans),
        sources=sources,
    )
