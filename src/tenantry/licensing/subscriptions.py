"""Subscriptions and their lifecycle, from purchase through renewal or expiry to deletion.

Lifecycle (Microsoft 365's "what happens when my subscription ends"):

- A purchase is `Enabled` for a term (`termDays` in the catalog) and renews at
  the end of each term while `autoRenew` is on (the default, "recurring billing").
- With `autoRenew` off, at the end of the term it becomes `Warning` (expired,
  grace: everyone keeps access) for `warningDays`, then `Suspended` (disabled:
  users lose access, admins keep theirs, no new assignments) for
  `suspendedDays`, then `Deleted`.
- Cancelling suspends at once (then `Deleted` after `suspendedDays`).
- Reactivation (`Warning` or `Suspended` → `Enabled`) starts a new term with
  `autoRenew` on; a `Deleted` subscription cannot come back.
- When the last subscription of a SKU is deleted, its direct assignments go; groups
  keep giving it, their members' assignments in `Error` / `CountViolation`
  until it is bought again (and the group reprocessed) or taken off the group.

The scheduled job `advance_lifecycles` moves states; nothing else looks at the
calendar.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog, Sku
from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.licensing.exceptions import (
    InvalidQuantity,
    InvalidSubscriptionState,
    LicensesInUse,
    SubscriptionNotFound,
    UnknownSku,
)
from tenantry.licensing.models import (
    CONSUMING_STATES,
    COUNT_VIOLATION,
    DELETED,
    ENABLED,
    ERROR,
    SUSPENDED,
    WARNING,
    GroupLicense,
    LicenseAssignment,
    SubscribedSku,
    Subscription,
)
from tenantry.licensing.pools import ASSIGNABLE_UNITS, get_pool

MAX_QUANTITY = 1_000_000
DEFAULT_TERM_DAYS = 365
DEFAULT_WARNING_DAYS = 30
DEFAULT_SUSPENDED_DAYS = 90


# Which pool column holds the units of a subscription in each state.
_UNITS = {
    ENABLED: SubscribedSku.enabled_units,
    WARNING: SubscribedSku.warning_units,
    SUSPENDED: SubscribedSku.suspended_units,
}


async def _move_units(
    db_session: AsyncSession,
    *,
    subscription: Subscription,
    from_status: str | None,
    to_status: str | None,
) -> None:
    """Move a subscription's units between the pool's state columns (None: in or out)."""
    values: dict[Any, Any] = {}
    if from_status in _UNITS:
        values[_UNITS[from_status].key] = _UNITS[from_status] - subscription.quantity
    if to_status in _UNITS:
        values[_UNITS[to_status].key] = _UNITS[to_status] + subscription.quantity
    if values:
        await db_session.execute(
            update(SubscribedSku)
            .where(
                SubscribedSku.tenant_id == subscription.tenant_id,
                SubscribedSku.sku_id == subscription.sku_id,
            )
            .values(values)
            .execution_options(synchronize_session=False)
        )


def _check_quantity(quantity: int) -> None:
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidQuantity(
            f"The quantity must be between 1 and {MAX_QUANTITY}.", target="quantity"
        )


def _days(sku: Sku | None, name: str, default: int) -> timedelta:
    return timedelta(days=getattr(sku, name) if sku is not None else default)


async def purchase(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    sku_part_number: str,
    quantity: int,
) -> Subscription:
    """Buy `quantity` licenses of a SKU: a new Enabled subscription for one term."""
    sku = catalog.sku(sku_part_number)
    if sku is None:
        raise UnknownSku(
            f"There is no product {sku_part_number!r} in the catalog. Choose one of: "
            + ", ".join(sorted(catalog.skus))
            + ".",
            target="skuPartNumber",
        )
    _check_quantity(quantity)
    now = clock.now()
    subscription = Subscription(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        sku_id=sku.sku_id,
        sku_part_number=sku.part_number,
        status=ENABLED,
        quantity=quantity,
        auto_renew=True,
        created_at=now,
        created_by=actor.user_id,
        next_lifecycle_at=now + timedelta(days=sku.term_days),
        status_changed_at=now,
    )
    db_session.add(subscription)
    insert = pg_insert if db_session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(SubscribedSku).values(
        tenant_id=tenant_id,
        sku_id=sku.sku_id,
        sku_part_number=sku.part_number,
        enabled_units=quantity,
        warning_units=0,
        suspended_units=0,
        locked_out_units=0,
        consumed_units=0,
    )
    await db_session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "sku_id"],
            set_={"enabled_units": SubscribedSku.enabled_units + statement.excluded.enabled_units},
        )
    )
    await db_session.flush()
    audit.record(
        db_session,
        actor=actor,
        action="Purchase subscription",
        target_type="subscription",
        target_id=subscription.id,
        tenant_id=tenant_id,
        details={"sku": sku.part_number, "quantity": quantity},
    )
    return subscription


async def get_all(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> list[Subscription]:
    """The tenant's subscriptions, newest first (deleted ones too, for the record)."""
    query = (
        select(Subscription)
        .where(Subscription.tenant_id == tenant_id)
        .order_by(Subscription.created_at.desc())
    )
    return list((await db_session.scalars(query)).all())


async def get(
    *,
    db_session: AsyncSession,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    for_update: bool = False,
) -> Subscription:
    """One subscription of the tenant (locked for the transaction when `for_update`)."""
    query = select(Subscription).where(
        Subscription.id == subscription_id, Subscription.tenant_id == tenant_id
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    subscription = await db_session.scalar(query)
    if subscription is None:
        raise SubscriptionNotFound()
    return subscription


def _require_status(subscription: Subscription, *allowed: str, doing: str) -> None:
    if subscription.status not in allowed:
        raise InvalidSubscriptionState(
            f"A subscription that is {subscription.status} cannot be {doing}; it must be "
            + " or ".join(allowed)
            + ".",
            details={"status": subscription.status},
        )


def _record(
    db_session: AsyncSession,
    actor: audit.Actor,
    subscription: Subscription,
    action: str,
    **details: Any,
) -> None:
    audit.record(
        db_session,
        actor=actor,
        action=action,
        target_type="subscription",
        target_id=subscription.id,
        tenant_id=subscription.tenant_id,
        details={"sku": subscription.sku_part_number, **details},
    )


async def add_licenses(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    quantity: int,
) -> Subscription:
    """Buy `quantity` more licenses on an Enabled subscription."""
    _check_quantity(quantity)
    subscription = await get(
        db_session=db_session, tenant_id=tenant_id, subscription_id=subscription_id, for_update=True
    )
    _require_status(subscription, ENABLED, doing="given more licenses")
    if subscription.quantity + quantity > MAX_QUANTITY:
        raise InvalidQuantity(
            f"A subscription holds at most {MAX_QUANTITY} licenses.", target="quantity"
        )
    await db_session.execute(
        update(SubscribedSku)
        .where(SubscribedSku.tenant_id == tenant_id, SubscribedSku.sku_id == subscription.sku_id)
        .values(enabled_units=SubscribedSku.enabled_units + quantity)
        .execution_options(synchronize_session=False)
    )
    subscription.quantity += quantity
    _record(db_session, actor, subscription, "Add licenses to subscription", added=quantity)
    return subscription


async def remove_licenses(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    quantity: int,
) -> Subscription:
    """Remove `quantity` licenses from an Enabled subscription, never below those in use."""
    _check_quantity(quantity)
    subscription = await get(
        db_session=db_session, tenant_id=tenant_id, subscription_id=subscription_id, for_update=True
    )
    _require_status(subscription, ENABLED, doing="reduced")
    if subscription.quantity - quantity < 1:
        raise InvalidQuantity(
            f"The subscription has {subscription.quantity} licenses: at least one must "
            "remain. To stop the subscription, cancel it.",
            target="quantity",
        )
    result = await db_session.execute(
        update(SubscribedSku)
        .where(
            SubscribedSku.tenant_id == tenant_id,
            SubscribedSku.sku_id == subscription.sku_id,
            ASSIGNABLE_UNITS - quantity >= SubscribedSku.consumed_units,
        )
        .values(enabled_units=SubscribedSku.enabled_units - quantity)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        pool = await get_pool(
            db_session=db_session, tenant_id=tenant_id, sku_id=subscription.sku_id
        )
        assignable = (pool.enabled_units + pool.warning_units) if pool else 0
        consumed = pool.consumed_units if pool else 0
        raise LicensesInUse(
            f"{consumed} of the {assignable} {subscription.sku_part_number} licenses are "
            f"assigned, so at most {max(0, assignable - consumed)} can be removed. Remove "
            "licenses from users first.",
            target="quantity",
            details={"consumedUnits": consumed, "prepaidUnits": assignable},
        )
    subscription.quantity -= quantity
    _record(db_session, actor, subscription, "Remove licenses from subscription", removed=quantity)
    return subscription


async def set_auto_renew(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    auto_renew: bool,
) -> Subscription:
    """Turn recurring billing on or off: off, the subscription expires at the end of its term."""
    subscription = await get(
        db_session=db_session, tenant_id=tenant_id, subscription_id=subscription_id, for_update=True
    )
    _require_status(subscription, ENABLED, doing="changed (reactivate it instead)")
    if subscription.auto_renew != auto_renew:
        subscription.auto_renew = auto_renew
        _record(db_session, actor, subscription, "Update subscription", autoRenew=auto_renew)
    return subscription


async def _change_status(
    db_session: AsyncSession,
    *,
    subscription: Subscription,
    to_status: str,
    at: datetime,
    next_lifecycle_at: datetime | None,
) -> dict[str, Any]:
    """Move a subscription to `to_status`; what became of the SKU's assignments, for the
    audit event, when it was the SKU's last live subscription and is now deleted."""
    await _move_units(
        db_session, subscription=subscription, from_status=subscription.status, to_status=to_status
    )
    subscription.status = to_status
    subscription.status_changed_at = at
    subscription.next_lifecycle_at = next_lifecycle_at
    if to_status == DELETED:
        return await _forget_deleted_sku(db_session, subscription=subscription)
    return {}


async def _forget_deleted_sku(
    db_session: AsyncSession, *, subscription: Subscription
) -> dict[str, Any]:
    """When no live subscription of the SKU is left, no unit of it is in use any more.

    Direct assignments go. Groups keep giving the SKU, as in Entra, where the
    admin's intent to license is never lost but shows as an error: their
    members' assignments in effect become `Error` / `CountViolation` (no unit
    to take) until the SKU is bought again and the group reprocessed, or the
    SKU taken off the group. The pool row is held already (`_move_units`).
    """
    await db_session.flush()
    live = await db_session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(
            Subscription.tenant_id == subscription.tenant_id,
            Subscription.sku_id == subscription.sku_id,
            Subscription.status != DELETED,
        )
    )
    if live:
        return {}
    of_sku = (LicenseAssignment.tenant_id == subscription.tenant_id) & (
        LicenseAssignment.sku_id == subscription.sku_id
    )
    removed = await db_session.execute(
        delete(LicenseAssignment)
        .where(of_sku, LicenseAssignment.assigned_by_group.is_(None))
        .execution_options(synchronize_session=False)
    )
    in_error = await db_session.execute(
        update(LicenseAssignment)
        .where(
            of_sku,
            LicenseAssignment.assigned_by_group.is_not(None),
            LicenseAssignment.state.in_(CONSUMING_STATES),
        )
        .values(state=ERROR, error=COUNT_VIOLATION, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    await db_session.execute(
        update(SubscribedSku)
        .where(
            SubscribedSku.tenant_id == subscription.tenant_id,
            SubscribedSku.sku_id == subscription.sku_id,
        )
        .values(consumed_units=0)
        .execution_options(synchronize_session=False)
    )
    groups = await db_session.scalars(
        select(GroupLicense.group_id)
        .where(
            GroupLicense.tenant_id == subscription.tenant_id,
            GroupLicense.sku_id == subscription.sku_id,
        )
        .order_by(GroupLicense.group_id)
    )
    return {
        "removedAssignments": max(removed.rowcount or 0, 0),  # type: ignore[attr-defined]
        "groupAssignmentsInError": max(in_error.rowcount or 0, 0),  # type: ignore[attr-defined]
        "groupsGivingIt": [str(group_id) for group_id in groups.all()],
    }


async def cancel(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
) -> Subscription:
    """Cancel now: the subscription is Suspended (users lose access), then deleted."""
    subscription = await get(
        db_session=db_session, tenant_id=tenant_id, subscription_id=subscription_id, for_update=True
    )
    _require_status(subscription, ENABLED, WARNING, doing="cancelled")
    sku = catalog.sku_by_id(subscription.sku_id)
    now = clock.now()
    await _change_status(
        db_session,
        subscription=subscription,
        to_status=SUSPENDED,
        at=now,
        next_lifecycle_at=now + _days(sku, "suspended_days", DEFAULT_SUSPENDED_DAYS),
    )
    _record(db_session, actor, subscription, "Cancel subscription", status=SUSPENDED)
    return subscription


async def reactivate(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
) -> Subscription:
    """Bring an expired or suspended subscription back: Enabled for a new term, renewing."""
    subscription = await get(
        db_session=db_session, tenant_id=tenant_id, subscription_id=subscription_id, for_update=True
    )
    _require_status(subscription, WARNING, SUSPENDED, doing="reactivated")
    sku = catalog.sku_by_id(subscription.sku_id)
    now = clock.now()
    previous = subscription.status
    await _change_status(
        db_session,
        subscription=subscription,
        to_status=ENABLED,
        at=now,
        next_lifecycle_at=now + _days(sku, "term_days", DEFAULT_TERM_DAYS),
    )
    subscription.auto_renew = True
    _record(db_session, actor, subscription, "Reactivate subscription", previousStatus=previous)
    return subscription


async def advance_lifecycles(
    *, db_session: AsyncSession, catalog: Catalog, batch_size: int = 500
) -> list[dict[str, Any]]:
    """Move every subscription whose state has run its time; returns the transitions made.

    Safe to run from any number of processes at once: due rows are claimed with
    `FOR UPDATE SKIP LOCKED`. Each step starts from the previous deadline, not
    from now, so a job that was not run for a while catches up exactly.
    """
    actor = audit.Actor.system()
    transitions: list[dict[str, Any]] = []
    while True:
        now = clock.now()
        due = list(
            (
                await db_session.scalars(
                    select(Subscription)
                    .where(
                        Subscription.status != DELETED,
                        Subscription.next_lifecycle_at <= now,
                    )
                    .order_by(Subscription.next_lifecycle_at)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                    .execution_options(populate_existing=True)
                )
            ).all()
        )
        if not due:
            return transitions
        for subscription in due:
            transitions.append(await _advance(db_session, catalog, actor, subscription))


async def _advance(
    db_session: AsyncSession, catalog: Catalog, actor: audit.Actor, subscription: Subscription
) -> dict[str, Any]:
    """One step of one subscription's lifecycle."""
    sku = catalog.sku_by_id(subscription.sku_id)
    deadline = subscription.next_lifecycle_at
    assert deadline is not None
    previous = subscription.status
    if previous == ENABLED and subscription.auto_renew:
        subscription.next_lifecycle_at = deadline + _days(sku, "term_days", DEFAULT_TERM_DAYS)
        _record(db_session, actor, subscription, "Renew subscription")
        return {"id": str(subscription.id), "from": previous, "to": ENABLED, "renewed": True}
    if previous == ENABLED:
        to_status = WARNING
        ends: datetime | None = deadline + _days(sku, "warning_days", DEFAULT_WARNING_DAYS)
    elif previous == WARNING:
        to_status = SUSPENDED
        ends = deadline + _days(sku, "suspended_days", DEFAULT_SUSPENDED_DAYS)
    else:
        to_status, ends = DELETED, None
    emptied = await _change_status(
        db_session,
        subscription=subscription,
        to_status=to_status,
        at=deadline,
        next_lifecycle_at=ends,
    )
    _record(
        db_session,
        actor,
        subscription,
        "Update subscription status",
        **{"from": previous, "to": to_status},
        **emptied,
    )
    return {"id": str(subscription.id), "from": previous, "to": to_status, "renewed": False}
