"""Group-based licensing in set-based SQL: a group's licenses applied to a chunk of its members.

The job (`group_processing`) processes one group in chunks of members
(`TENANTRY_GROUP_LICENSE_CHUNK_SIZE`, by user id), one transaction per chunk,
so locks and memory stay bounded whatever the group's size. A chunk:

1. holds the group's `group_license_processing` row (the group's licensing lock:
   members added meanwhile wait, so a chunk sees a stable membership), then the
   license pools of the group's SKUs and of the SKUs their plan rules tie them
   to (by SKU id): direct assignment holds the pools too before it reads a
   user's rows, so two sources of one user never both count a unit, nor both
   pass a rule the other breaks (`pools.lock_pools`); a member who leaves
   meanwhile loses what the chunk gave as soon as it commits (their removal
   waits for the pools);
2. per SKU, inserts with one `INSERT … SELECT` a row for every member of the
   chunk who has none from this group yet, each in its state: members who
   already hold the SKU from another source (directly or from another group)
   take no new unit; the others take the pool's free units in user-id order
   (`row_number()`), the rest get `CountViolation`. Members without a usage
   location take the tenant's (`countryLetterCode`); with neither, the license
   cannot be given: `ProhibitedInUsageLocationViolation`. Plans the catalog
   declares mutually exclusive with a plan the user already holds give
   `MutuallyExclusiveViolation`; a plan whose `dependsOn` plans the user will not
   have gives `DependencyViolation` (the probes are `plan_rules`', which direct
   assignment asks too);
3. if one of the group's licenses fails for a user, none of the group's
   licenses of this pass is given to them: the others become `Error` / `Other`;
4. takes the new units from the pool in one conditional UPDATE (it cannot fail
   while the pool row is held; if it ever did, the chunk rolls back).

Before applying, a sweep removes the group's rows that no longer apply (SKUs
taken off the group, users no longer members), returning their units unless
the user still holds the SKU from another source. Errors stay until a
reprocess (`reprocess=True`), which also re-checks the rules for licenses in
effect: a rule broken since then leaves the license in effect, `ActiveWithError`.

The same functions, given one user instead of a range (`Chunk.user_id`), serve
`POST /v1/users/{id}/reprocessLicenseAssignment` and a member leaving a group,
inside the request's unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Select,
    String,
    Text,
    Uuid,
    and_,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from tenantry.catalog import Catalog
from tenantry.core.clock import clock
from tenantry.core.db import UTCDateTime
from tenantry.directory.models import GroupMember, User
from tenantry.licensing import pools as licensing_pools
from tenantry.licensing.models import (
    ACTIVE,
    ACTIVE_WITH_ERROR,
    CONSUMING_STATES,
    COUNT_VIOLATION,
    ERROR,
    OTHER,
    GroupLicense,
    LicenseAssignment,
    SubscribedSku,
)
from tenantry.licensing.plan_rules import (
    GroupSku,
    PlanRules,
    breaks_exclusion,
    misses_dependency,
    related_skus,
    rule_error,
    rules_of,
)
from tenantry.tenants.models import Tenant

STORED_STATES = (ACTIVE, ACTIVE_WITH_ERROR, ERROR)  # Disabled is shown, never stored

Assignment = LicenseAssignment


@dataclass
class Tally:
    """What processing did: users given all the licenses of the pass, users in error, rows gone."""

    succeeded: int = 0
    failed: int = 0
    removed: int = 0


@dataclass(frozen=True)
class Chunk:
    """The users a pass works on: ids in (`after`, `last`], or one user."""

    after: uuid.UUID | None = None
    last: uuid.UUID | None = None
    user_id: uuid.UUID | None = None

    def covers(self, column: Any) -> ColumnElement[bool]:
        if self.user_id is not None:
            return column == self.user_id
        bounds = [column <= self.last]
        if self.after is not None:
            bounds.append(column > self.after)
        return and_(*bounds)


def new_id(dialect: str) -> Any:
    """A new license row id, made by the database (for INSERT … SELECT)."""
    # SQLAlchemy keeps UUIDs on SQLite as 32 hex digits.
    if dialect == "postgresql":
        return func.gen_random_uuid()
    return func.lower(func.hex(func.randomblob(16)))


async def _last_of(db_session: AsyncSession, user_ids: Select[Any]) -> uuid.UUID | None:
    """The largest id of an ordered, limited selection of user ids (a chunk's end), or None."""
    chunk = user_ids.subquery("chunk")
    return await db_session.scalar(
        select(chunk.c.user_id).order_by(chunk.c.user_id.desc()).limit(1)
    )


async def group_skus(
    db_session: AsyncSession, *, tenant_id: uuid.UUID, group_id: uuid.UUID
) -> list[GroupSku]:
    """The SKUs a group gives, by SKU id."""
    rows = await db_session.execute(
        select(GroupLicense.sku_id, GroupLicense.disabled_plans)
        .where(GroupLicense.tenant_id == tenant_id, GroupLicense.group_id == group_id)
        .order_by(GroupLicense.sku_id)
    )
    return [GroupSku(sku_id, list(plans or ())) for sku_id, plans in rows.all()]


async def tenant_country(db_session: AsyncSession, *, tenant_id: uuid.UUID) -> str | None:
    """The tenant's country, the usage location of members who have none."""
    return await db_session.scalar(select(Tenant.country_letter_code).where(Tenant.id == tenant_id))


# --- removing what no longer applies ------------------------------------------------------


def _stale(
    tenant_id: uuid.UUID, group_id: uuid.UUID, licenses: Sequence[GroupSku]
) -> ColumnElement[bool]:
    """The group's rows for SKUs it no longer gives, or for users no longer its members."""
    member = exists().where(
        GroupMember.tenant_id == tenant_id,
        GroupMember.group_id == group_id,
        GroupMember.user_id == Assignment.user_id,
    )
    given = [item.sku_id for item in licenses]
    return and_(
        Assignment.tenant_id == tenant_id,
        Assignment.assigned_by_group == group_id,
        Assignment.state.in_(STORED_STATES),
        or_(~Assignment.sku_id.in_(given) if given else true(), ~member),
    )


async def next_stale_chunk(
    db_session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    licenses: Sequence[GroupSku],
    after: uuid.UUID | None,
    limit: int,
) -> uuid.UUID | None:
    """Where the next chunk of `limit` users with rows of the group that no longer apply
    ends (by id), or None."""
    query = select(Assignment.user_id).where(_stale(tenant_id, group_id, licenses))
    if after is not None:
        query = query.where(Assignment.user_id > after)
    query = query.group_by(Assignment.user_id).order_by(Assignment.user_id).limit(limit)
    return await _last_of(db_session, query)


async def remove_stale(
    db_session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    licenses: Sequence[GroupSku],
    chunk: Chunk,
) -> int:
    """Delete the group's rows that no longer apply in the chunk (pools held); units return
    unless the user still holds the SKU from another source. How many rows went."""
    stale = and_(_stale(tenant_id, group_id, licenses), chunk.covers(Assignment.user_id))
    other = aliased(Assignment)
    released = await db_session.execute(
        select(Assignment.sku_id, func.count())
        .where(
            stale,
            Assignment.state.in_(CONSUMING_STATES),
            ~exists().where(
                other.user_id == Assignment.user_id,
                other.sku_id == Assignment.sku_id,
                other.state.in_(CONSUMING_STATES),
                other.assigned_by_group.is_distinct_from(group_id),
            ),
        )
        .group_by(Assignment.sku_id)
        .order_by(Assignment.sku_id)
    )
    for sku_id, count in released.all():
        await licensing_pools.release_seats(
            db_session=db_session, tenant_id=tenant_id, sku_id=sku_id, count=count
        )
    removed = await db_session.execute(
        delete(Assignment).where(stale).execution_options(synchronize_session=False)
    )
    return max(removed.rowcount or 0, 0)  # type: ignore[attr-defined]


# --- applying -----------------------------------------------------------------------------


async def next_member_chunk(
    db_session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    after: uuid.UUID | None,
    limit: int,
) -> uuid.UUID | None:
    """Where the group's next chunk of `limit` members ends (by id), or None."""
    query = select(GroupMember.user_id).where(
        GroupMember.tenant_id == tenant_id, GroupMember.group_id == group_id
    )
    if after is not None:
        query = query.where(GroupMember.user_id > after)
    query = query.order_by(GroupMember.user_id).limit(limit)
    return await _last_of(db_session, query)


# The columns of a license row written by INSERT … SELECT, in the order the SELECTs give them.
ROW_COLUMNS = [
    "id",
    "tenant_id",
    "user_id",
    "sku_id",
    "assigned_by_group",
    "disabled_plans",
    "state",
    "error",
    "created_at",
    "updated_at",
]


@dataclass
class _Pass:
    """One application of a group's licenses to a chunk of its members.

    Every statement reads the license rows it needs through joins on derived
    tables (a chunk's rows per user), never through per-row subqueries, and on
    PostgreSQL runs without nested loops: the table grows by a whole chunk in a
    transaction, faster than its statistics follow, and a nested loop planned on
    stale statistics turns a linear chunk into a quadratic one.
    """

    db_session: AsyncSession
    catalog: Catalog
    tenant_id: uuid.UUID
    group_id: uuid.UUID
    licenses: list[GroupSku]
    chunk: Chunk
    country: str | None
    stamp: datetime = field(default_factory=clock.now)

    @property
    def dialect(self) -> str:
        return self.db_session.get_bind().dialect.name

    def of_group(self) -> ColumnElement[bool]:
        """The group's rows of the chunk's users (every state: the index's ranges)."""
        return and_(
            Assignment.tenant_id == self.tenant_id,
            Assignment.assigned_by_group == self.group_id,
            Assignment.state.in_(STORED_STATES),
            self.chunk.covers(Assignment.user_id),
        )

    def stamped(self) -> ColumnElement[bool]:
        """The group's rows this pass wrote."""
        return and_(self.of_group(), Assignment.created_at == self.stamp)

    def of_sku(self, sku_id: uuid.UUID) -> ColumnElement[bool]:
        return and_(self.of_group(), Assignment.sku_id == sku_id)

    def rows_per_user(self, sku_id: uuid.UUID) -> Any:
        """For each of the chunk's users with license rows: one of `sku_id` from this group?
        one of `sku_id` in effect from another source?

        The SKU is tested inside the aggregates, not in WHERE: the rows are then read
        by (tenant, user) ranges, the chunk's own rows, never all of a tenant's rows
        of the SKU (which a (tenant_id, sku_id) index would offer).
        """
        of_sku = Assignment.sku_id == sku_id
        return (
            select(
                Assignment.user_id,
                func.max(
                    case((and_(of_sku, Assignment.assigned_by_group == self.group_id), 1), else_=0)
                ).label("from_group"),
                func.max(
                    case(
                        (
                            and_(
                                of_sku,
                                Assignment.state.in_(CONSUMING_STATES),
                                Assignment.assigned_by_group.is_distinct_from(self.group_id),
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ).label("elsewhere"),
            )
            .where(Assignment.tenant_id == self.tenant_id, self.chunk.covers(Assignment.user_id))
            .group_by(Assignment.user_id)
            .subquery("held")
        )

    async def run(self, *, reprocess: bool, pools: dict[uuid.UUID, SubscribedSku]) -> Tally:
        rules = rules_of(self.catalog, self.licenses)
        if self.dialect == "postgresql":
            await self.db_session.execute(text("SET LOCAL enable_nestloop = off"))
        if reprocess:
            for item in self.licenses:
                await self.recheck(item, rules[item.sku_id])
        for item in self.licenses:
            await self.refresh_plans(item)
        for index, item in enumerate(self.licenses):
            await self.insert_missing(item, pools.get(item.sku_id), rules, self.licenses[index:])
        if len(self.licenses) > 1:
            await self.withhold_from_failed()
        for item in self.licenses:
            await self.take_units(item)
        tally = await self.tally()
        if self.dialect == "postgresql":
            await self.db_session.execute(text("RESET enable_nestloop"))
        return tally

    def no_location(self, user_location: Any) -> ColumnElement[bool]:
        return user_location.is_(None) if self.country is None else false()

    async def recheck(self, item: GroupSku, rules: PlanRules) -> None:
        """Reprocess: errors are tried again (their rows go and come back as new); licenses
        in effect are checked against the rules again (Active ↔ ActiveWithError)."""
        await self.db_session.execute(
            delete(Assignment)
            .where(self.of_sku(item.sku_id), Assignment.state == ERROR)
            .execution_options(synchronize_session=False)
        )
        if rules.empty and self.country is not None:
            broken: Any = null()
        else:
            location = select(User.usage_location).where(User.id == Assignment.user_id)
            broken = rule_error(
                Assignment.user_id, rules, self.no_location(location.scalar_subquery())
            )
        state = case((broken.is_not(None), ACTIVE_WITH_ERROR), else_=ACTIVE)
        changed = or_(Assignment.state != state, Assignment.error.is_distinct_from(broken))
        await self.db_session.execute(
            update(Assignment)
            .where(self.of_sku(item.sku_id), Assignment.state.in_(CONSUMING_STATES), changed)
            .values(state=state, error=broken, updated_at=self.stamp)
            .execution_options(synchronize_session=False)
        )

    async def refresh_plans(self, item: GroupSku) -> None:
        """The group changed a SKU's disabled plans: its rows follow."""
        await self.db_session.execute(
            update(Assignment)
            .where(
                self.of_sku(item.sku_id),
                cast(Assignment.disabled_plans, Text) != item.plans_text,
            )
            .values(disabled_plans=item.disabled_plans, updated_at=self.stamp)
            .execution_options(synchronize_session=False)
        )

    async def insert_missing(
        self,
        item: GroupSku,
        pool: SubscribedSku | None,
        rules: dict[uuid.UUID, PlanRules],
        remaining: Sequence[GroupSku],
    ) -> None:
        """One INSERT … SELECT: a row for each member of the chunk without one for this SKU."""
        member = aliased(GroupMember)
        user = member.user_id
        held = self.rows_per_user(item.sku_id)
        members = (
            select(member)
            .outerjoin(held, held.c.user_id == member.user_id)
            .where(
                member.tenant_id == self.tenant_id,
                member.group_id == self.group_id,
                self.chunk.covers(member.user_id),
                or_(held.c.from_group.is_(None), held.c.from_group == 0),
            )
        )
        if self.country is None:  # members without a usage location cannot take the tenant's
            person = aliased(User)
            members = members.join(
                person, and_(person.tenant_id == member.tenant_id, person.id == member.user_id)
            )
            no_location = self.no_location(person.usage_location)
        else:
            no_location = false()
        sku = self.catalog.sku_by_id(item.sku_id)
        if sku is None:  # taken out of the catalog: nothing can be given
            own_error: Any = literal(OTHER, String())
        else:
            own_error = rule_error(user, rules[item.sku_id], no_location)
        # Users who will not get every license of this pass: an error already written by
        # this pass (an earlier SKU), or a rule broken on this or a later SKU.
        blocked_by: list[Any] = [no_location, true() if sku is None else false()]
        if len(self.licenses) > 1:
            failed = (
                select(Assignment.user_id)
                .where(self.stamped(), Assignment.state == ERROR)
                .group_by(Assignment.user_id)
                .subquery("failed")
            )
            members = members.outerjoin(failed, failed.c.user_id == member.user_id)
            blocked_by.append(failed.c.user_id.is_not(None))
        for later in remaining:
            later_rules = rules[later.sku_id]
            if later_rules.empty:
                continue
            broken = or_(breaks_exclusion(user, later_rules), misses_dependency(user, later_rules))
            if later.sku_id != item.sku_id:
                given = aliased(Assignment)
                broken = and_(
                    ~exists().where(
                        given.tenant_id == self.tenant_id,
                        given.user_id == user,
                        given.sku_id == later.sku_id,
                        given.assigned_by_group == self.group_id,
                    ),
                    broken,
                )
            blocked_by.append(broken)
        candidates = members.with_only_columns(
            user.label("user_id"),
            case((or_(*blocked_by), 1), else_=0).label("blocked"),
            case((held.c.elsewhere == 1, 0), else_=1).label("needs_unit"),
            own_error.label("own_error"),
        ).subquery("candidates")
        ranked = select(
            candidates,
            func.row_number()
            .over(
                partition_by=(candidates.c.blocked, candidates.c.needs_unit),
                order_by=candidates.c.user_id,
            )
            .label("seat"),
        ).subquery("ranked")
        assignable = (pool.enabled_units + pool.warning_units) if pool is not None else 0
        free = max(0, assignable - pool.consumed_units) if pool is not None else 0
        # A suspended (or deleted) subscription takes no new assignment, from any source.
        gets_unit = (
            or_(ranked.c.needs_unit == 0, ranked.c.seat <= free) if assignable > 0 else false()
        )
        state = case((ranked.c.blocked == 1, ERROR), (gets_unit, ACTIVE), else_=ERROR)
        error = case(
            (ranked.c.own_error.is_not(None), ranked.c.own_error),
            (ranked.c.blocked == 1, OTHER),
            (gets_unit, null()),
            else_=COUNT_VIOLATION,
        )
        rows = select(
            new_id(self.dialect),
            literal(self.tenant_id, Uuid()),
            ranked.c.user_id,
            literal(item.sku_id, Uuid()),
            literal(self.group_id, Uuid()),
            literal(item.disabled_plans, JSON()),
            state,
            error,
            literal(self.stamp, UTCDateTime()),
            literal(self.stamp, UTCDateTime()),
        )
        await self.db_session.execute(insert(Assignment.__table__).from_select(ROW_COLUMNS, rows))

    async def withhold_from_failed(self) -> None:
        """A user whom one license of the group failed gets none of this pass's others."""
        failed = (
            select(Assignment.user_id)
            .where(self.stamped(), Assignment.state == ERROR)
            .group_by(Assignment.user_id)
        )
        await self.db_session.execute(
            update(Assignment)
            .where(
                self.stamped(),
                Assignment.state == ACTIVE,
                Assignment.user_id.in_(failed),
            )
            .values(state=ERROR, error=OTHER)
            .execution_options(synchronize_session=False)
        )

    async def take_units(self, item: GroupSku) -> None:
        """Consume a unit per user this pass licensed who held the SKU from no other source."""
        held = self.rows_per_user(item.sku_id)
        new_units = await self.db_session.scalar(
            select(func.count())
            .select_from(Assignment)
            .join(held, held.c.user_id == Assignment.user_id)
            .where(
                self.stamped(),
                Assignment.sku_id == item.sku_id,
                Assignment.state.in_(CONSUMING_STATES),
                held.c.elsewhere == 0,
            )
        )
        if new_units and not await licensing_pools.take_seats(
            db_session=self.db_session,
            tenant_id=self.tenant_id,
            sku_id=item.sku_id,
            count=new_units,
        ):
            raise RuntimeError(f"{new_units} units of {item.sku_id} were counted but not free")

    async def tally(self) -> Tally:
        per_user = (
            select(func.max(case((Assignment.state == ERROR, 1), else_=0)).label("failed"))
            .where(self.stamped())
            .group_by(Assignment.user_id)
            .subquery()
        )
        users, failed = (
            await self.db_session.execute(
                select(func.count(), func.coalesce(func.sum(per_user.c.failed), 0))
            )
        ).one()
        return Tally(succeeded=users - failed, failed=failed)


async def apply(
    db_session: AsyncSession,
    *,
    catalog: Catalog,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    licenses: list[GroupSku],
    chunk: Chunk,
    country: str | None,
    reprocess: bool,
) -> Tally:
    """Apply the group's licenses to the chunk's members, holding the SKUs' pools."""
    if not licenses:
        return Tally()
    # The pools of SKUs the plan rules read too: a direct assignment of one of them (which
    # holds its pool) then cannot change a member's rows while this chunk checks them.
    sku_ids = related_skus(catalog, [item.sku_id for item in licenses])
    pools = await licensing_pools.lock_pools(
        db_session=db_session, tenant_id=tenant_id, sku_ids=list(sku_ids)
    )
    work = _Pass(db_session, catalog, tenant_id, group_id, licenses, chunk, country)
    return await work.run(reprocess=reprocess, pools=pools)
