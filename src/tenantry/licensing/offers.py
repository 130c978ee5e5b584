"""Self-service offers: the free offer a person takes at sign-up, and its move to a subscription."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Sku
from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.licensing.models import OfferAssignment


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
    new_user: bool = False,
) -> OfferAssignment:
    """Give a user a self-service offer (once: taking it again keeps the first start date).

    `new_user`: the user was created in this unit of work, so holds no offer yet.
    """
    if not new_user:
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


async def move_offers_to_subscription(
    *, db_session: AsyncSession, actor: audit.Actor, tenant_id: uuid.UUID, sku: Sku
) -> int:
    """Mark the tenant's active self-service offers `moved`: their access now comes from `sku`."""
    result = await db_session.execute(
        update(OfferAssignment)
        .where(OfferAssignment.tenant_id == tenant_id, OfferAssignment.status == "active")
        .values(status="moved")
        .execution_options(synchronize_session=False)
    )
    moved = result.rowcount or 0
    audit.record(
        db_session,
        actor=actor,
        action="Move self-service offers to subscription",
        target_type="tenant",
        target_id=tenant_id,
        tenant_id=tenant_id,
        details={"sku": sku.part_number, "offers": moved},
    )
    return moved
