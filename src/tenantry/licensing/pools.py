"""License pools (Graph `subscribedSkus`): a tenant's units of each SKU, taken and given back.

Units: `Enabled` and `Warning` units can be assigned (both give access);
`Suspended` units cannot. A user's license gives access while the tenant holds
at least one assignable unit of its SKU.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Sku
from tenantry.licensing.exceptions import CountViolation, SubscriptionSuspended, UnknownSku
from tenantry.licensing.models import DELETED, ENABLED, SUSPENDED, WARNING, SubscribedSku

ASSIGNABLE_UNITS = SubscribedSku.enabled_units + SubscribedSku.warning_units


async def take_seats(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, sku_id: uuid.UUID, count: int = 1
) -> bool:
    """Consume `count` units of the tenant's SKU if that many are free; False otherwise.

    The only way units are consumed: one conditional UPDATE, so concurrent callers
    queue on the pool row (PostgreSQL re-checks the condition after the previous
    holder commits; SQLite runs one writer at a time) and never overshoot.
    """
    result = await db_session.execute(
        update(SubscribedSku)
        .where(
            SubscribedSku.tenant_id == tenant_id,
            SubscribedSku.sku_id == sku_id,
            SubscribedSku.consumed_units + count <= ASSIGNABLE_UNITS,
        )
        .values(consumed_units=SubscribedSku.consumed_units + count)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def release_seats(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, sku_id: uuid.UUID, count: int = 1
) -> None:
    """Give `count` consumed units of the tenant's SKU back."""
    await db_session.execute(
        update(SubscribedSku)
        .where(
            SubscribedSku.tenant_id == tenant_id,
            SubscribedSku.sku_id == sku_id,
            SubscribedSku.consumed_units >= count,
        )
        .values(consumed_units=SubscribedSku.consumed_units - count)
        .execution_options(synchronize_session=False)
    )


async def get_pool(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, sku_id: uuid.UUID
) -> SubscribedSku | None:
    """The tenant's pool of a SKU as committed now (not a cached copy)."""
    return await db_session.scalar(
        select(SubscribedSku)
        .where(SubscribedSku.tenant_id == tenant_id, SubscribedSku.sku_id == sku_id)
        .execution_options(populate_existing=True)
    )


async def get_pools(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> list[SubscribedSku]:
    """Every license pool of a tenant (Graph `subscribedSkus`)."""
    query = (
        select(SubscribedSku)
        .where(SubscribedSku.tenant_id == tenant_id)
        .order_by(SubscribedSku.sku_part_number)
        .execution_options(populate_existing=True)
    )
    return list((await db_session.scalars(query)).all())


def capability_status(pool: SubscribedSku) -> str:
    """Graph `capabilityStatus` of a pool: the best state any of its units is in."""
    if pool.enabled_units:
        return ENABLED
    if pool.warning_units:
        return WARNING
    if pool.suspended_units:
        return SUSPENDED
    if pool.locked_out_units:
        return "LockedOut"
    return DELETED


async def refusal(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, sku: Sku
) -> CountViolation | SubscriptionSuspended | UnknownSku:
    """Why a unit of `sku` cannot be given, as the error to raise."""
    pool = await get_pool(db_session=db_session, tenant_id=tenant_id, sku_id=sku.sku_id)
    if pool is None or capability_status(pool) == DELETED:
        return UnknownSku(
            f"Your organization has no subscription to {sku.part_number}. Buy one first.",
            target="skuId",
        )
    if pool.enabled_units + pool.warning_units == 0:
        return SubscriptionSuspended(
            f"The subscription to {sku.part_number} is suspended: no license of it can be "
            "assigned until a Billing Administrator reactivates it.",
            target="skuId",
        )
    return CountViolation(
        f"There are not enough {sku.part_number} licenses: all "
        f"{pool.enabled_units + pool.warning_units} are assigned. Buy more, or remove a "
        "license from someone who no longer needs it.",
        target="skuId",
        details={
            "skuId": str(sku.sku_id),
            "prepaidUnits": pool.enabled_units + pool.warning_units,
            "consumedUnits": pool.consumed_units,
        },
    )


async def lock_pools(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, sku_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, SubscribedSku]:
    """Hold the tenant's license pools of these SKUs (None: all), in SKU order, as committed.

    Whoever decides from a user's license rows whether a unit is taken or given
    back holds the SKU's pool first, then reads the rows: direct assignment and
    group processing (which inserts rows for many users at once, holding the
    pool) then never both count a user's unit. Order: a user's row, then pools by
    SKU id.
    """
    query = select(SubscribedSku).where(SubscribedSku.tenant_id == tenant_id)
    if sku_ids is not None:
        if not sku_ids:
            return {}
        query = query.where(SubscribedSku.sku_id.in_(sorted(set(sku_ids))))
    pools = await db_session.scalars(
        query.order_by(SubscribedSku.sku_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {pool.sku_id: pool for pool in pools}
