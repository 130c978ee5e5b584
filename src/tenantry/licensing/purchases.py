"""Purchases that act once per idempotency key, for the API and the admin center alike.

Each stores the API's answer (its status and the subscription's JSON) under the
API's scope (`licensing.constants`), with the request's body as the fingerprint,
so that a key used on a page's form answers a retry through the API with the
same body, and the other way round. Without a key the change simply runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core import audit, idempotency
from tenantry.licensing import subscriptions as licensing_subscriptions
from tenantry.licensing.constants import (
    ADD_LICENSES_SCOPE,
    PURCHASE_SCOPE,
    REMOVE_LICENSES_SCOPE,
)
from tenantry.licensing.models import Subscription
from tenantry.licensing.schemas import LicenseQuantity, SubscriptionCreate, subscription_view


async def purchase(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    body: SubscriptionCreate,
    key: str | None,
) -> idempotency.StoredResponse:
    """Buy a subscription (201 with it), once per key."""

    async def buy() -> tuple[int, dict[str, Any]]:
        subscription = await licensing_subscriptions.purchase(
            db_session=db_session,
            catalog=catalog,
            actor=actor,
            tenant_id=tenant_id,
            sku_part_number=body.sku_part_number,
            quantity=body.quantity,
        )
        return 201, subscription_view(subscription)

    return await idempotency.run_once(
        db_session=db_session,
        tenant_id=tenant_id,
        scope=PURCHASE_SCOPE,
        key=key,
        fingerprint=idempotency.fingerprint(body.model_dump(mode="json")),
        action=buy,
    )


async def add_licenses(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    body: LicenseQuantity,
    key: str | None,
) -> idempotency.StoredResponse:
    """Buy more licenses on a subscription (200 with it), once per key."""
    return await _change_quantity(
        licensing_subscriptions.add_licenses,
        ADD_LICENSES_SCOPE,
        db_session=db_session,
        actor=actor,
        tenant_id=tenant_id,
        subscription_id=subscription_id,
        body=body,
        key=key,
    )


async def remove_licenses(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    body: LicenseQuantity,
    key: str | None,
) -> idempotency.StoredResponse:
    """Remove licenses from a subscription, never below those assigned (200 with it)."""
    return await _change_quantity(
        licensing_subscriptions.remove_licenses,
        REMOVE_LICENSES_SCOPE,
        db_session=db_session,
        actor=actor,
        tenant_id=tenant_id,
        subscription_id=subscription_id,
        body=body,
        key=key,
    )


async def _change_quantity(
    change: Callable[..., Awaitable[Subscription]],
    scope: str,
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    body: LicenseQuantity,
    key: str | None,
) -> idempotency.StoredResponse:
    async def act() -> tuple[int, dict[str, Any]]:
        subscription = await change(
            db_session=db_session,
            actor=actor,
            tenant_id=tenant_id,
            subscription_id=subscription_id,
            quantity=body.quantity,
        )
        return 200, subscription_view(subscription)

    return await idempotency.run_once(
        db_session=db_session,
        tenant_id=tenant_id,
        scope=scope,
        key=key,
        fingerprint=idempotency.fingerprint(str(subscription_id), body.model_dump(mode="json")),
        action=act,
    )
