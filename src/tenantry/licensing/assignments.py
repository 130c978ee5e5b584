"""Subscriptions and their lifecycle, license pools, direct license assignments, entitlements.

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

Units: `Enabled` and `Warning` units can be assigned (both give access);
`Suspended` units cannot. A user's license gives access while the tenant holds
at least one assignable unit of its SKU. The scheduled job `advance_lifecycles`
moves states; nothing else looks at the calendar.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import (
    UNLIMITED,
    Catalog,
    EntitlementValue,
    Sku,
    combine,
    days_since,
    plan_of_entitlement,
)
from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.errors import InvalidRequest, NotFound
from tenantry.directory.models import User
from tenantry.licensing import plan_rules
from tenantry.licensing.exceptions import (
    CountViolation,
    DependencyViolation,
    InvalidQuantity,
    InvalidServicePlan,
    InvalidSubscriptionState,
    InvalidUsageLocation,
    LicenseInheritedFromGroup,
    LicenseNotAssigned,
    LicensesInUse,
    MutuallyExclusiveViolation,
    SubscriptionNotFound,
    SubscriptionSuspended,
    UnknownSku,
)
from tenantry.licensing.models import (
    ACTIVE,
    CONSUMING_STATES,
    COUNT_VIOLATION,
    DELETED,
    ENABLED,
    ERROR,
    MUTUALLY_EXCLUSIVE_VIOLATION,
    SUSPENDED,
    WARNING,
    GroupLicense,
    LicenseAssignment,
    OfferAssignment,
    SubscribedSku,
    Subscription,
)

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
ASSIGNABLE_UNITS = SubscribedSku.enabled_units + SubscribedSku.warning_units


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


@dataclass(frozen=True)
class LicenseDetail:
    """A SKU a user holds (merged over its sources) and whether it gives access now."""

    sku: Sku
    enabled_plan_ids: frozenset[uuid.UUID]
    has_access: bool


# --- self-service offers ------------------------------------------------------------------


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


# --- license pools ------------------------------------------------------------------------


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


async def _refusal(
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


# --- subscriptions ------------------------------------------------------------------------


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


# --- direct license assignment ------------------------------------------------------------


async def lock_user(*, db_session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Hold the user's row for the transaction: license changes of one user run one at a time.

    `FOR NO KEY UPDATE`: it does not block rows that merely reference the user
    (a group membership being added), which group licensing relies on.
    """
    locked = await db_session.scalar(
        select(User.id)
        .where(User.id == user_id, User.tenant_id == tenant_id)
        .with_for_update(key_share=True)
    )
    if locked is None:
        raise NotFound("The user does not exist.", target="id")


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


async def assignments_of(
    *, db_session: AsyncSession, user_id: uuid.UUID, sku_id: uuid.UUID | None = None
) -> list[LicenseAssignment]:
    """A user's license assignment rows (every source), optionally for one SKU."""
    query = (
        select(LicenseAssignment)
        .where(LicenseAssignment.user_id == user_id)
        .order_by(LicenseAssignment.created_at)
        .execution_options(populate_existing=True)
    )
    if sku_id is not None:
        query = query.where(LicenseAssignment.sku_id == sku_id)
    return list((await db_session.scalars(query)).all())


def _sku_of(catalog: Catalog, sku_id: uuid.UUID) -> Sku:
    sku = catalog.sku_by_id(sku_id)
    if sku is None:
        raise UnknownSku(f"There is no product with skuId {sku_id}.", target="skuId")
    return sku


def _plan_ids(sku: Sku, disabled_plans: Iterable[uuid.UUID | str]) -> list[str]:
    """The disabled plans as servicePlanId strings, each checked to be a plan of the SKU."""
    result: list[str] = []
    for value in disabled_plans:
        try:
            plan_id = uuid.UUID(str(value))
        except ValueError:
            plan_id = None
        if plan_id is None or sku.plan_by_id(plan_id) is None:
            raise InvalidServicePlan(
                f"{value} is not a service plan of {sku.part_number}. Its plans are: "
                + ", ".join(f"{p.name} ({p.service_plan_id})" for p in sku.service_plans)
                + ".",
                target="disabledPlans",
            )
        if str(plan_id) not in result:
            result.append(str(plan_id))
    return sorted(result)


async def assign_license(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    user: User,
    sku_id: uuid.UUID,
    disabled_plans: Sequence[uuid.UUID | str] = (),
    check_usage_location: bool = True,
) -> LicenseAssignment:
    """Give a user a SKU directly (or change the disabled plans of their direct license).

    The user consumes a unit only if no other source already gives them the SKU.
    """
    sku = _sku_of(catalog, sku_id)
    plans = _plan_ids(sku, disabled_plans)
    if check_usage_location and not user.usage_location:
        raise InvalidUsageLocation()
    await lock_user(db_session=db_session, tenant_id=tenant_id, user_id=user.id)
    await lock_pools(db_session=db_session, tenant_id=tenant_id, sku_ids=[sku.sku_id])
    rows = await assignments_of(db_session=db_session, user_id=user.id, sku_id=sku.sku_id)
    direct = next((row for row in rows if row.assigned_by_group is None), None)
    now = clock.now()
    if direct is not None:
        if direct.disabled_plans != plans:
            direct.disabled_plans = plans
            direct.updated_at = now
            _record_license_change(db_session, actor, user, tenant_id, added=[sku], plans=plans)
        return direct
    if any(row.state in CONSUMING_STATES for row in rows):
        pool = await get_pool(db_session=db_session, tenant_id=tenant_id, sku_id=sku.sku_id)
        if pool is None or pool.enabled_units + pool.warning_units == 0:
            raise await _refusal(db_session=db_session, tenant_id=tenant_id, sku=sku)
    elif not await take_seats(db_session=db_session, tenant_id=tenant_id, sku_id=sku.sku_id):
        raise await _refusal(db_session=db_session, tenant_id=tenant_id, sku=sku)
    assignment = LicenseAssignment(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user.id,
        sku_id=sku.sku_id,
        assigned_by_group=None,
        disabled_plans=plans,
        state=ACTIVE,
        error=None,
        created_at=now,
        updated_at=now,
    )
    db_session.add(assignment)
    await db_session.flush()
    _record_license_change(db_session, actor, user, tenant_id, added=[sku], plans=plans)
    return assignment


async def remove_license(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    user: User,
    sku_id: uuid.UUID,
) -> None:
    """Take a direct license away; the unit returns unless a group still gives the SKU."""
    sku = catalog.sku_by_id(sku_id)
    await lock_user(db_session=db_session, tenant_id=tenant_id, user_id=user.id)
    await lock_pools(db_session=db_session, tenant_id=tenant_id, sku_ids=[sku_id])
    rows = await assignments_of(db_session=db_session, user_id=user.id, sku_id=sku_id)
    direct = next((row for row in rows if row.assigned_by_group is None), None)
    name = sku.part_number if sku else str(sku_id)
    if direct is None:
        if rows:
            raise LicenseInheritedFromGroup(
                f"{name} is given to this user by a group: remove the user from the group, "
                "or the license from the group.",
                target="removeLicenses",
            )
        raise LicenseNotAssigned(
            f"The user has no {name} license to remove.", target="removeLicenses"
        )
    others = [row for row in rows if row is not direct]
    await db_session.delete(direct)
    if direct.state in CONSUMING_STATES and not any(r.state in CONSUMING_STATES for r in others):
        await release_seats(db_session=db_session, tenant_id=tenant_id, sku_id=sku_id)
    await db_session.flush()
    audit.record(
        db_session,
        actor=actor,
        action="Change user license",
        target_type="user",
        target_id=user.id,
        tenant_id=tenant_id,
        details={"removedLicenses": [name]},
    )


async def change_licenses(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    user: User,
    add: Sequence[tuple[uuid.UUID, Sequence[uuid.UUID | str]]],
    remove: Sequence[uuid.UUID],
) -> None:
    """Graph `assignLicense`: add and remove licenses of a user, all or nothing.

    The catalog's plan rules are checked on what the request leaves the user
    holding, once its changes are written (a refusal rolls the unit of work
    back): see `_check_plan_rules`.
    """
    added = [sku_id for sku_id, _plans in add]
    if len(set(added)) != len(added) or len(set(remove)) != len(remove):
        raise InvalidRequest("A skuId appears twice in the request.", code="duplicateSku")
    if set(added) & set(remove):
        raise InvalidRequest(
            "A skuId cannot be both added and removed in one request.", code="duplicateSku"
        )
    with_rules = plan_rules.has_rules(catalog)
    await lock_user(db_session=db_session, tenant_id=tenant_id, user_id=user.id)
    # Every pool this request reads or counts, at once and in SKU order (the lock order).
    await lock_pools(
        db_session=db_session,
        tenant_id=tenant_id,
        sku_ids=list(plan_rules.related_skus(catalog, [*added, *remove])),
    )
    before: list[_Held] = []
    if with_rules:
        before = _held(await assignments_of(db_session=db_session, user_id=user.id))
    for sku_id in remove:
        await remove_license(
            db_session=db_session,
            catalog=catalog,
            actor=actor,
            tenant_id=tenant_id,
            user=user,
            sku_id=sku_id,
        )
    for sku_id, plans in add:
        await assign_license(
            db_session=db_session,
            catalog=catalog,
            actor=actor,
            tenant_id=tenant_id,
            user=user,
            sku_id=sku_id,
            disabled_plans=plans,
        )
    if with_rules:
        await _check_plan_rules(
            db_session=db_session,
            catalog=catalog,
            user_id=user.id,
            before=before,
            removed=remove,
        )


@dataclass(frozen=True)
class _Held:
    """One of a user's license rows as it was (the rows themselves change in place)."""

    sku_id: uuid.UUID
    assigned_by_group: uuid.UUID | None
    disabled_plans: tuple[str, ...]
    consuming: bool


def _held(rows: Iterable[LicenseAssignment]) -> list[_Held]:
    return [
        _Held(
            row.sku_id,
            row.assigned_by_group,
            tuple(row.disabled_plans or ()),
            row.state in CONSUMING_STATES,
        )
        for row in rows
    ]


def _plans_held(catalog: Catalog, rows: Iterable[_Held]) -> set[str]:
    """The names of the service plans these rows give (sources merged)."""
    names: set[str] = set()
    for row in rows:
        sku = catalog.sku_by_id(row.sku_id)
        if row.consuming and sku is not None:
            names |= plan_rules.enabled_names(sku, row.disabled_plans)
    return names


async def _check_plan_rules(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    user_id: uuid.UUID,
    before: list[_Held],
    removed: Sequence[uuid.UUID] = (),
) -> None:
    """Refuse a direct change that breaks the catalog's plan rules for the user, as Graph does.

    Every direct license the change added, or whose `disabledPlans` it changed,
    must have no enabled plan mutually exclusive with a plan the user holds from
    any source, this change's other licenses included (`MutuallyExclusiveViolation`),
    and every plan it enables must find the plans it depends on among the user's
    (`DependencyViolation`). A plan the change takes away (a license removed, a
    plan disabled) must not be one that a license the user keeps depends on
    (`DependencyViolation`): remove the dependant in the same request. Rules
    broken before the change, by no doing of it, are not its to refuse (a
    reprocess shows them as `ActiveWithError`). The probes are group
    processing's (`plan_rules`), run on the rows as this unit of work left them.
    """
    await db_session.flush()
    after = _held(await assignments_of(db_session=db_session, user_id=user_id))
    direct_before = {row.sku_id: row for row in before if row.assigned_by_group is None}
    checked: set[tuple[uuid.UUID, tuple[str, ...]]] = set()
    for row in after:
        if row.assigned_by_group is not None or not row.consuming:
            continue
        previous = direct_before.get(row.sku_id)
        if previous is not None and previous.disabled_plans == row.disabled_plans:
            continue
        checked.add((row.sku_id, row.disabled_plans))
        found = await plan_rules.breaches(
            db_session,
            catalog=catalog,
            user_id=user_id,
            license=plan_rules.GroupSku(row.sku_id, list(row.disabled_plans)),
        )
        if found:
            raise _breach_error(found[0])
    lost = _plans_held(catalog, before) - _plans_held(catalog, after)
    if not lost:
        return
    removed_plans = _plans_held(
        catalog, [row for row in before if row.sku_id in removed and row.assigned_by_group is None]
    )
    for row in after:
        sku = catalog.sku_by_id(row.sku_id)
        key = (row.sku_id, row.disabled_plans)
        if not row.consuming or sku is None or key in checked:
            continue
        checked.add(key)
        enabled = plan_rules.enabled_names(sku, row.disabled_plans)
        needed = {
            name for plan in sku.service_plans if plan.name in enabled for name in plan.depends_on
        }
        if not needed & lost:
            continue
        found = await plan_rules.breaches(
            db_session,
            catalog=catalog,
            user_id=user_id,
            license=plan_rules.GroupSku(row.sku_id, list(row.disabled_plans)),
            exclusions=False,
        )
        breach = next((b for b in found if b.other_plan in lost), None)
        if breach is not None:
            raise _loss_error(
                breach,
                from_group=row.assigned_by_group is not None,
                target="removeLicenses" if breach.other_plan in removed_plans else "addLicenses",
            )


def _breach_error(breach: plan_rules.Breach) -> MutuallyExclusiveViolation | DependencyViolation:
    """The refusal of a license the request gives, naming the plans."""
    sku = breach.sku.part_number
    if breach.error == MUTUALLY_EXCLUSIVE_VIOLATION:
        other = ", ".join(breach.other_skus)
        return MutuallyExclusiveViolation(
            f"The user cannot hold the service plans {breach.plan} ({sku}) and "
            f"{breach.other_plan} ({other}): they are mutually exclusive. Disable one of them "
            "(disabledPlans), or remove the other license in the same request.",
            target="addLicenses",
            details={
                "skuId": str(breach.sku.sku_id),
                "servicePlanName": breach.plan,
                "conflictingServicePlanName": breach.other_plan,
                "conflictingSkuPartNumber": other,
            },
        )
    return DependencyViolation(
        f"The service plan {breach.plan} ({sku}) depends on {breach.other_plan}, which the "
        f"user would not hold. Assign a license that includes {breach.other_plan} ("
        + ", ".join(breach.other_skus)
        + f") in the same request or before, or disable {breach.plan} (disabledPlans).",
        target="addLicenses",
        details={
            "skuId": str(breach.sku.sku_id),
            "servicePlanName": breach.plan,
            "requiredServicePlanName": breach.other_plan,
        },
    )


def _loss_error(breach: plan_rules.Breach, *, from_group: bool, target: str) -> DependencyViolation:
    """The refusal of a change that takes away a plan a license the user keeps depends on."""
    sku = breach.sku.part_number
    if from_group:
        remedy = (
            f"{sku} comes from a group: take it off the group (or the user out of the group) "
            f"first, or keep {breach.other_plan}."
        )
    else:
        remedy = f"Remove {sku} in the same request, or keep {breach.other_plan}."
    return DependencyViolation(
        f"{breach.other_plan} cannot be taken away: the service plan {breach.plan} of {sku}, "
        f"which the user keeps, depends on it. {remedy}",
        target=target,
        details={
            "skuId": str(breach.sku.sku_id),
            "servicePlanName": breach.plan,
            "requiredServicePlanName": breach.other_plan,
        },
    )


async def release_user(
    *, db_session: AsyncSession, actor: audit.Actor, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Remove every license assignment of a user (before deleting them): their units return."""
    await lock_user(db_session=db_session, tenant_id=tenant_id, user_id=user_id)
    await lock_pools(db_session=db_session, tenant_id=tenant_id)
    rows = await assignments_of(db_session=db_session, user_id=user_id)
    consuming = {row.sku_id for row in rows if row.state in CONSUMING_STATES}
    await db_session.execute(
        delete(LicenseAssignment)
        .where(LicenseAssignment.tenant_id == tenant_id, LicenseAssignment.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    for sku_id in sorted(consuming):
        await release_seats(db_session=db_session, tenant_id=tenant_id, sku_id=sku_id)
    if rows:
        audit.record(
            db_session,
            actor=actor,
            action="Change user license",
            target_type="user",
            target_id=user_id,
            tenant_id=tenant_id,
            details={"removedLicenses": sorted({str(row.sku_id) for row in rows})},
        )


def _record_license_change(
    db_session: AsyncSession,
    actor: audit.Actor,
    user: User,
    tenant_id: uuid.UUID,
    *,
    added: list[Sku],
    plans: list[str],
) -> None:
    audit.record(
        db_session,
        actor=actor,
        action="Change user license",
        target_type="user",
        target_id=user.id,
        tenant_id=tenant_id,
        details={"addedLicenses": [sku.part_number for sku in added], "disabledPlans": plans},
    )


async def license_details_of(
    *, db_session: AsyncSession, catalog: Catalog, user_id: uuid.UUID
) -> list[LicenseDetail]:
    """The SKUs a user holds, each merged over its sources (Graph `licenseDetails`)."""
    rows = (
        await db_session.execute(
            select(
                LicenseAssignment.sku_id,
                LicenseAssignment.disabled_plans,
                (ASSIGNABLE_UNITS > 0).label("has_access"),
            )
            .join(
                SubscribedSku,
                (SubscribedSku.tenant_id == LicenseAssignment.tenant_id)
                & (SubscribedSku.sku_id == LicenseAssignment.sku_id),
            )
            .where(
                LicenseAssignment.user_id == user_id,
                LicenseAssignment.state.in_(CONSUMING_STATES),
            )
        )
    ).all()
    merged: dict[uuid.UUID, tuple[set[uuid.UUID], bool]] = {}
    for sku_id, disabled, has_access in rows:
        sku = catalog.sku_by_id(sku_id)
        if sku is None:
            continue
        off = {uuid.UUID(value) for value in disabled or ()}
        plans, _ = merged.setdefault(sku_id, (set(), bool(has_access)))
        plans.update(p.service_plan_id for p in sku.service_plans if p.service_plan_id not in off)
    return [
        LicenseDetail(sku=sku, enabled_plan_ids=frozenset(plans), has_access=has_access)
        for sku_id, (plans, has_access) in merged.items()
        if (sku := catalog.sku_by_id(sku_id)) is not None
    ]


# --- entitlements -------------------------------------------------------------------------


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
