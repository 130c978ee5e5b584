"""Group-based licensing: licenses given to a group's members, and what the directory's changes do.

`set_licenses` changes what a group gives and queues its processing (a job,
`group_processing`); members added queue it too; a member who leaves loses the
group's licenses at once (`directory.events` handlers below, registered at
import); a group that gives licenses, or whose members still hold some of its
licenses, cannot be deleted. `reprocess_user` retries one user's group licenses
at once; `reprocess_group` queues a group's.

Lock order, the same everywhere (so that no two transactions wait on each
other): the group's processing row, then a user's row (direct assignment,
reprocessing a user), then license pools by SKU id. The pool is what
serializes the counting of units: whoever reads a user's rows to decide
whether a unit is taken or given back holds the SKU's pool first
(`pools.lock_pools`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog, Sku
from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.errors import Conflict, InvalidRequest
from tenantry.directory import events
from tenantry.directory.models import Group, GroupMember, User
from tenantry.licensing import assignments as licensing_assignments
from tenantry.licensing import group_chunks, group_processing
from tenantry.licensing import pools as licensing_pools
from tenantry.licensing.exceptions import LicenseNotAssigned, UnknownSku
from tenantry.licensing.group_chunks import Chunk, Tally
from tenantry.licensing.models import (
    ACTIVE_WITH_ERROR,
    DELETED,
    ERROR,
    GroupLicense,
    GroupLicenseProcessing,
    LicenseAssignment,
    SubscribedSku,
)
from tenantry.licensing.plan_rules import GroupSku

ERROR_STATES = (ERROR, ACTIVE_WITH_ERROR)


class GroupHasLicenses(Conflict):
    code = "groupHasLicenses"


class MutuallyExclusiveLicenses(InvalidRequest):
    code = "mutuallyExclusiveServicePlans"


@dataclass(frozen=True)
class GroupLicensing:
    """What a group gives and where its processing stands (None: it never gave licenses)."""

    licenses: list[GroupSku]
    processing_state: str | None
    has_members_with_errors: bool


# --- reading ------------------------------------------------------------------------------


async def licensing_of_groups(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, group_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, GroupLicensing]:
    """Each group's licenses, processing state and whether members are in error (3 queries)."""
    ids = list(dict.fromkeys(group_ids))
    if not ids:
        return {}
    licenses: dict[uuid.UUID, list[GroupSku]] = {group_id: [] for group_id in ids}
    rows = await db_session.execute(
        select(GroupLicense.group_id, GroupLicense.sku_id, GroupLicense.disabled_plans)
        .where(GroupLicense.tenant_id == tenant_id, GroupLicense.group_id.in_(ids))
        .order_by(GroupLicense.group_id, GroupLicense.sku_id)
    )
    for group_id, sku_id, plans in rows.all():
        licenses[group_id].append(GroupSku(sku_id, list(plans or ())))
    states = dict(
        (
            await db_session.execute(
                select(GroupLicenseProcessing.group_id, GroupLicenseProcessing.state).where(
                    GroupLicenseProcessing.tenant_id == tenant_id,
                    GroupLicenseProcessing.group_id.in_(ids),
                    GroupLicenseProcessing.requested > 0,
                )
            )
        ).all()
    )
    in_error = set(
        (
            await db_session.scalars(
                select(Group.id).where(
                    Group.tenant_id == tenant_id,
                    Group.id.in_(ids),
                    exists().where(
                        LicenseAssignment.tenant_id == tenant_id,
                        LicenseAssignment.assigned_by_group == Group.id,
                        LicenseAssignment.state.in_(ERROR_STATES),
                    ),
                )
            )
        ).all()
    )
    return {
        group_id: GroupLicensing(licenses[group_id], states.get(group_id), group_id in in_error)
        for group_id in ids
    }


async def licensing_of_group(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, group_id: uuid.UUID
) -> GroupLicensing:
    """A group's licenses, processing state and whether members are in error."""
    found = await licensing_of_groups(
        db_session=db_session, tenant_id=tenant_id, group_ids=[group_id]
    )
    return found[group_id]


@dataclass(frozen=True)
class MemberInError:
    user: User
    rows: list[LicenseAssignment]


async def members_with_errors(
    *,
    db_session: AsyncSession,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    top: int = 100,
    after: uuid.UUID | None = None,
) -> tuple[list[MemberInError], uuid.UUID | None]:
    """A page of the members whose licenses from the group are in error (by user id), with
    those rows; and the id to continue after, when there are more."""
    in_error = select(LicenseAssignment.user_id).where(
        LicenseAssignment.tenant_id == tenant_id,
        LicenseAssignment.assigned_by_group == group_id,
        LicenseAssignment.state.in_(ERROR_STATES),
    )
    if after is not None:
        in_error = in_error.where(LicenseAssignment.user_id > after)
    user_ids = list(
        (
            await db_session.scalars(
                in_error.group_by(LicenseAssignment.user_id)
                .order_by(LicenseAssignment.user_id)
                .limit(top + 1)
            )
        ).all()
    )
    more = len(user_ids) > top
    user_ids = user_ids[:top]
    if not user_ids:
        return [], None
    users = {
        user.id: user
        for user in (
            await db_session.scalars(
                select(User).where(User.tenant_id == tenant_id, User.id.in_(user_ids))
            )
        ).all()
    }
    rows: dict[uuid.UUID, list[LicenseAssignment]] = {user_id: [] for user_id in user_ids}
    for row in (
        await db_session.scalars(
            select(LicenseAssignment)
            .where(
                LicenseAssignment.tenant_id == tenant_id,
                LicenseAssignment.assigned_by_group == group_id,
                LicenseAssignment.user_id.in_(user_ids),
            )
            .order_by(LicenseAssignment.user_id, LicenseAssignment.sku_id)
        )
    ).all():
        rows[row.user_id].append(row)
    page = [
        MemberInError(users[user_id], rows[user_id]) for user_id in user_ids if user_id in users
    ]
    return page, (user_ids[-1] if more else None)


async def license_states_of(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[list[LicenseAssignment], set[uuid.UUID]]:
    """A user's license rows (every source) and the SKUs among them that give no access now
    (subscription suspended): two queries."""
    rows = await licensing_assignments.assignments_of(db_session=db_session, user_id=user_id)
    sku_ids = {row.sku_id for row in rows}
    if not sku_ids:
        return rows, set()
    inactive = set(
        (
            await db_session.scalars(
                select(SubscribedSku.sku_id).where(
                    SubscribedSku.tenant_id == tenant_id,
                    SubscribedSku.sku_id.in_(sku_ids),
                    licensing_pools.ASSIGNABLE_UNITS == 0,
                )
            )
        ).all()
    )
    return rows, inactive


# --- changing a group's licenses ----------------------------------------------------------


async def _check_sku(
    db_session: AsyncSession, catalog: Catalog, tenant_id: uuid.UUID, sku_id: uuid.UUID
) -> Sku:
    """A SKU the tenant can give: in the catalog, subscribed to, not suspended."""
    sku = catalog.sku_by_id(sku_id)
    if sku is None:
        raise UnknownSku(f"There is no product with skuId {sku_id}.", target="skuId")
    pool = await licensing_pools.get_pool(db_session=db_session, tenant_id=tenant_id, sku_id=sku_id)
    if (
        pool is None
        or licensing_pools.capability_status(pool) == DELETED
        or pool.enabled_units + pool.warning_units == 0
    ):
        raise await licensing_pools.refusal(db_session=db_session, tenant_id=tenant_id, sku=sku)
    return sku


def _check_exclusions(catalog: Catalog, licenses: Sequence[GroupSku]) -> None:
    """A group cannot give two licenses whose enabled plans exclude each other."""
    enabled: list[tuple[Sku, set[str]]] = []
    for item in licenses:
        sku = catalog.sku_by_id(item.sku_id)
        if sku is not None:
            off = set(item.disabled_plans)
            names = {p.name for p in sku.service_plans if str(p.service_plan_id) not in off}
            enabled.append((sku, names))
    for index, (first, first_plans) in enumerate(enabled):
        for second, second_plans in enabled[index + 1 :]:
            clash = sorted(
                f"{a} and {b}" for a in first_plans for b in second_plans if catalog.excludes(a, b)
            )
            if clash:
                raise MutuallyExclusiveLicenses(
                    f"{first.part_number} and {second.part_number} cannot be given together: "
                    f"their service plans {clash[0]} are mutually exclusive. Disable one of "
                    "them, or give these licenses through different groups.",
                    target="addLicenses",
                )


async def set_licenses(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    group: Group,
    add: Sequence[tuple[uuid.UUID, Sequence[uuid.UUID | str]]],
    remove: Sequence[uuid.UUID],
) -> GroupLicenseProcessing:
    """Graph group `assignLicense`: add (or change the disabled plans of) and remove the
    group's licenses, all or nothing, and queue their processing for every member."""
    added = [sku_id for sku_id, _plans in add]
    if not added and not remove:
        raise InvalidRequest("Give at least one license to add or remove.", target="addLicenses")
    if len(set(added)) != len(added) or len(set(remove)) != len(remove):
        raise InvalidRequest("A skuId appears twice in the request.", code="duplicateSku")
    if set(added) & set(remove):
        raise InvalidRequest(
            "A skuId cannot be both added and removed in one request.", code="duplicateSku"
        )
    tenant_id = group.tenant_id
    processing = await group_processing.lock_processing(
        db_session, tenant_id=tenant_id, group_id=group.id, create=True
    )
    assert processing is not None
    current = {
        row.sku_id: row
        for row in (
            await db_session.scalars(
                select(GroupLicense).where(
                    GroupLicense.tenant_id == tenant_id, GroupLicense.group_id == group.id
                )
            )
        ).all()
    }
    for sku_id in remove:
        if sku_id not in current:
            sku = catalog.sku_by_id(sku_id)
            raise LicenseNotAssigned(
                f"The group does not give {sku.part_number if sku else sku_id}.",
                target="removeLicenses",
            )
    wanted: dict[uuid.UUID, list[str]] = {}
    for sku_id, plans in add:
        sku = await _check_sku(db_session, catalog, tenant_id, sku_id)
        wanted[sku_id] = licensing_assignments._plan_ids(sku, plans)
    after_change = [
        GroupSku(sku_id, wanted.get(sku_id, list(row.disabled_plans or ())))
        for sku_id, row in current.items()
        if sku_id not in remove
    ] + [GroupSku(sku_id, plans) for sku_id, plans in wanted.items() if sku_id not in current]
    _check_exclusions(catalog, after_change)
    now = clock.now()
    for sku_id in remove:
        await db_session.delete(current[sku_id])
    for sku_id, plans in wanted.items():
        row = current.get(sku_id)
        if row is None:
            db_session.add(
                GroupLicense(
                    tenant_id=tenant_id,
                    group_id=group.id,
                    sku_id=sku_id,
                    disabled_plans=plans,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif list(row.disabled_plans or ()) != plans:
            row.disabled_plans, row.updated_at = plans, now
    await db_session.flush()
    await group_processing.request_processing(
        db_session, tenant_id=tenant_id, group_id=group.id, processing=processing
    )

    def names(sku_ids: Sequence[uuid.UUID]) -> list[str]:
        return [(sku.part_number if (sku := catalog.sku_by_id(s)) else str(s)) for s in sku_ids]

    audit.record(
        db_session,
        actor=actor,
        action="Set group license",
        target_type="group",
        target_id=group.id,
        tenant_id=tenant_id,
        details={
            "groupDisplayName": group.display_name,
            "addedLicenses": names(list(wanted)),
            "removedLicenses": names(list(remove)),
            "disabledPlans": {str(sku_id): plans for sku_id, plans in wanted.items()},
        },
    )
    return processing


async def reprocess_group(
    *, db_session: AsyncSession, actor: audit.Actor, group: Group
) -> GroupLicenseProcessing:
    """Queue a group's processing that also retries its members' errors."""
    processing = await group_processing.request_processing(
        db_session, tenant_id=group.tenant_id, group_id=group.id, reprocess=True
    )
    audit.record(
        db_session,
        actor=actor,
        action="Reprocess group license assignment",
        target_type="group",
        target_id=group.id,
        tenant_id=group.tenant_id,
        details={"groupDisplayName": group.display_name},
    )
    return processing


async def reprocess_user(
    *, db_session: AsyncSession, catalog: Catalog, actor: audit.Actor, user: User
) -> Tally:
    """Apply again, now, every group license of a user: errors are retried (after buying
    more licenses, for instance), rules re-checked, what no longer applies removed."""
    tenant_id = user.tenant_id
    await licensing_assignments.lock_user(
        db_session=db_session, tenant_id=tenant_id, user_id=user.id
    )
    member_of = select(GroupMember.group_id).where(
        GroupMember.tenant_id == tenant_id, GroupMember.user_id == user.id
    )
    with_rows = select(LicenseAssignment.assigned_by_group).where(
        LicenseAssignment.tenant_id == tenant_id,
        LicenseAssignment.user_id == user.id,
        LicenseAssignment.assigned_by_group.is_not(None),
    )
    group_ids = sorted(
        set(
            (
                await db_session.scalars(
                    select(GroupLicense.group_id).where(
                        GroupLicense.tenant_id == tenant_id, GroupLicense.group_id.in_(member_of)
                    )
                )
            ).all()
        )
        | set((await db_session.scalars(with_rows)).all())
    )
    licenses = {
        group_id: await group_chunks.group_skus(db_session, tenant_id=tenant_id, group_id=group_id)
        for group_id in group_ids
    }
    # Every pool this may touch, held up front in SKU order (see the module docstring).
    await licensing_pools.lock_pools(db_session=db_session, tenant_id=tenant_id)
    country = await group_chunks.tenant_country(db_session, tenant_id=tenant_id)
    chunk = Chunk(user_id=user.id)
    total = Tally()
    for group_id in group_ids:
        total.removed += await group_chunks.remove_stale(
            db_session,
            tenant_id=tenant_id,
            group_id=group_id,
            licenses=licenses[group_id],
            chunk=chunk,
        )
        done = await group_chunks.apply(
            db_session,
            catalog=catalog,
            tenant_id=tenant_id,
            group_id=group_id,
            licenses=licenses[group_id],
            chunk=chunk,
            country=country,
            reprocess=True,
        )
        total.succeeded += done.succeeded
        total.failed += done.failed
    audit.record(
        db_session,
        actor=actor,
        action="Reprocess user license assignment",
        target_type="user",
        target_id=user.id,
        tenant_id=tenant_id,
        details={
            "groups": [str(group_id) for group_id in group_ids],
            "failures": total.failed,
            "removed": total.removed,
        },
    )
    return total


# --- what the directory's changes do ------------------------------------------------------


async def _gives_licenses(
    db_session: AsyncSession, tenant_id: uuid.UUID, group_id: uuid.UUID
) -> bool:
    return bool(
        await db_session.scalar(
            select(
                exists().where(
                    GroupLicense.tenant_id == tenant_id, GroupLicense.group_id == group_id
                )
            )
        )
    )


async def _has_rows(db_session: AsyncSession, tenant_id: uuid.UUID, group_id: uuid.UUID) -> bool:
    return bool(
        await db_session.scalar(
            select(
                exists().where(
                    LicenseAssignment.tenant_id == tenant_id,
                    LicenseAssignment.assigned_by_group == group_id,
                )
            )
        )
    )


@events.on_members_added
async def queue_new_members(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    user_ids: list[uuid.UUID],
) -> None:
    """New members of a group that gives licenses: queue its processing."""
    # The group's row first: a license being given to the group meanwhile is either
    # committed (seen below) or waits for this change (and its job then sees them).
    processing = await group_processing.lock_processing(
        db_session, tenant_id=tenant_id, group_id=group_id, create=True
    )
    if await _gives_licenses(db_session, tenant_id, group_id):
        await group_processing.request_processing(
            db_session, tenant_id=tenant_id, group_id=group_id, processing=processing
        )


@events.on_members_removed
async def unlicense_leavers(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    user_ids: list[uuid.UUID],
) -> None:
    """Members who left lose the group's licenses now (a unit returns unless the user
    holds the SKU from another source: directly or from another group)."""
    licenses = await group_chunks.group_skus(db_session, tenant_id=tenant_id, group_id=group_id)
    if not licenses and not await _has_rows(db_session, tenant_id, group_id):
        return  # a group that gives no license (and is not taking any back)
    await licensing_pools.lock_pools(db_session=db_session, tenant_id=tenant_id)
    for user_id in sorted(user_ids):
        removed = await group_chunks.remove_stale(
            db_session,
            tenant_id=tenant_id,
            group_id=group_id,
            licenses=licenses,
            chunk=Chunk(user_id=user_id),
        )
        if removed:
            audit.record(
                db_session,
                actor=actor,
                action="Change user license",
                target_type="user",
                target_id=user_id,
                tenant_id=tenant_id,
                details={"removedByGroup": str(group_id), "removedLicenses": removed},
            )


@events.on_group_deleting
async def refuse_deleting_licensed_group(
    *, db_session: AsyncSession, actor: audit.Actor, tenant_id: uuid.UUID, group_id: uuid.UUID
) -> None:
    """A group that gives licenses, or whose licenses are still being removed, stays."""
    await group_processing.lock_processing(
        db_session, tenant_id=tenant_id, group_id=group_id, create=True
    )
    if await _gives_licenses(db_session, tenant_id, group_id):
        raise GroupHasLicenses(
            "This group gives licenses to its members: remove its licenses first "
            "(POST /v1/groups/{id}/assignLicense with removeLicenses), then delete it.",
            target="id",
        )
    if await _has_rows(db_session, tenant_id, group_id):
        raise GroupHasLicenses(
            "The licenses of this group are still being removed from its members: try again "
            "when its licenseProcessingState is ProcessingComplete.",
            target="id",
        )
