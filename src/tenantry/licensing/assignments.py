"""Direct license assignment (Graph `assignLicense`): the licenses given to a user one by one."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog, Sku
from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.errors import InvalidRequest, NotFound
from tenantry.directory.models import User
from tenantry.licensing import plan_rules
from tenantry.licensing.exceptions import (
    DependencyViolation,
    InvalidServicePlan,
    InvalidUsageLocation,
    LicenseInheritedFromGroup,
    LicenseNotAssigned,
    MutuallyExclusiveViolation,
    UnknownSku,
)
from tenantry.licensing.models import (
    ACTIVE,
    CONSUMING_STATES,
    MUTUALLY_EXCLUSIVE_VIOLATION,
    LicenseAssignment,
    SubscribedSku,
)
from tenantry.licensing.pools import (
    ASSIGNABLE_UNITS,
    get_pool,
    lock_pools,
    refusal,
    release_seats,
    take_seats,
)


@dataclass(frozen=True)
class LicenseDetail:
    """A SKU a user holds (merged over its sources) and whether it gives access now."""

    sku: Sku
    enabled_plan_ids: frozenset[uuid.UUID]
    has_access: bool


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
    return await _assign_held(
        db_session=db_session, actor=actor, tenant_id=tenant_id, user=user, sku=sku, plans=plans
    )


async def _assign_held(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    user: User,
    sku: Sku,
    plans: list[str],
) -> LicenseAssignment:
    """`assign_license` once the user's row and the SKU's pool are held."""
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
            raise await refusal(db_session=db_session, tenant_id=tenant_id, sku=sku)
    elif not await take_seats(db_session=db_session, tenant_id=tenant_id, sku_id=sku.sku_id):
        raise await refusal(db_session=db_session, tenant_id=tenant_id, sku=sku)
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
    await lock_user(db_session=db_session, tenant_id=tenant_id, user_id=user.id)
    await lock_pools(db_session=db_session, tenant_id=tenant_id, sku_ids=[sku_id])
    await _remove_held(
        db_session=db_session,
        catalog=catalog,
        actor=actor,
        tenant_id=tenant_id,
        user=user,
        sku_id=sku_id,
    )


async def _remove_held(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    user: User,
    sku_id: uuid.UUID,
) -> None:
    """`remove_license` once the user's row and the SKU's pool are held."""
    sku = catalog.sku_by_id(sku_id)
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
    # The user's row and every pool involved are held: each change below takes no lock.
    for sku_id in remove:
        await _remove_held(
            db_session=db_session,
            catalog=catalog,
            actor=actor,
            tenant_id=tenant_id,
            user=user,
            sku_id=sku_id,
        )
    for sku_id, plans in add:
        sku = _sku_of(catalog, sku_id)
        held_plans = _plan_ids(sku, plans)
        if not user.usage_location:
            raise InvalidUsageLocation()
        await _assign_held(
            db_session=db_session,
            actor=actor,
            tenant_id=tenant_id,
            user=user,
            sku=sku,
            plans=held_plans,
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
