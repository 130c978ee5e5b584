"""Self-service members of a tenant, and moving their offers and licenses (takeovers)."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.licensing.models import OfferAssignment


async def move_tenant(
    *, db_session: AsyncSession, from_tenant_id: uuid.UUID, to_tenant_id: uuid.UUID
) -> None:
    """Carry every offer of one tenant's users over to another tenant (set-based).

    An unmanaged tenant holds no subscription, so its people's access is entirely
    in their self-service offers, which keep their start dates.
    """
    await db_session.execute(
        update(OfferAssignment)
        .where(OfferAssignment.tenant_id == from_tenant_id)
        .values(tenant_id=to_tenant_id)
    )


async def signed_up_user_ids(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    """The users of a tenant holding an active self-service offer (one license each at takeover)."""
    query = (
        select(OfferAssignment.user_id)
        .where(OfferAssignment.tenant_id == tenant_id, OfferAssignment.status == "active")
        .distinct()
    )
    return list((await db_session.scalars(query)).all())
