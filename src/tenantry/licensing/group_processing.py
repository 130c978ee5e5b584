"""Group-based licensing as a job: a group's processing state, its job, and giving up on it.

`request_processing` queues the job in the requester's unit of work (the group
becomes QueuedForProcessing); the job (`PROCESS_GROUP`, core.jobs) holds the
group's `group_license_processing` row in each of its transactions and first
sweeps, then applies, one chunk of members per transaction (`group_chunks`);
`give_up` ends the processing of a job that failed for good.

A processing is its job's, over all its attempts: a job killed mid-way (its lease
expires and another worker claims it) or retried after a failure starts again, finds
the chunks committed before done (a chunk counts only the rows it writes), and goes
on. Its counts therefore live in the database, in the job's `group_license_runs` row,
each chunk adding its own in its own transaction; the finish event reports that row,
what the whole processing did, not only the last attempt.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import String, Uuid, and_, delete, exists, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core import audit, jobs, metrics
from tenantry.core.clock import clock
from tenantry.core.db import Database, UTCDateTime
from tenantry.core.errors import NotFound
from tenantry.directory.models import Group, GroupMember
from tenantry.licensing import pools as licensing_pools
from tenantry.licensing.group_chunks import (
    ROW_COLUMNS,
    Chunk,
    Tally,
    apply,
    group_skus,
    new_id,
    next_member_chunk,
    next_stale_chunk,
    remove_stale,
    tenant_country,
)
from tenantry.licensing.models import (
    ERROR,
    OTHER,
    PROCESSING_COMPLETE,
    PROCESSING_IN_PROGRESS,
    QUEUED_FOR_PROCESSING,
    GroupLicense,
    GroupLicenseProcessing,
    GroupLicenseRun,
)
from tenantry.licensing.models import LicenseAssignment as Assignment

log = logging.getLogger("tenantry.licensing")

PROCESS_GROUP = "groupLicensing.process"
START_ACTION = "Start applying group based license to users"
FINISH_ACTION = "Finish applying group based license to users"
DEFAULT_CHUNK_SIZE = 25_000


async def lock_processing(
    db_session: AsyncSession, *, tenant_id: uuid.UUID, group_id: uuid.UUID, create: bool = False
) -> GroupLicenseProcessing | None:
    """Hold the group's licensing row (created first when `create`); None if there is none."""
    if create:
        dialect = db_session.get_bind().dialect.name
        insert_for = pg_insert if dialect == "postgresql" else sqlite_insert
        try:
            async with db_session.begin_nested():
                await db_session.execute(
                    insert_for(GroupLicenseProcessing)
                    .values(
                        tenant_id=tenant_id,
                        group_id=group_id,
                        state=PROCESSING_COMPLETE,
                        requested=0,
                        updated_at=clock.now(),
                    )
                    .on_conflict_do_nothing()
                )
        except IntegrityError as exc:  # the group was deleted meanwhile
            raise NotFound("The group does not exist.", target="id") from exc
    return await db_session.scalar(
        select(GroupLicenseProcessing)
        .where(
            GroupLicenseProcessing.tenant_id == tenant_id,
            GroupLicenseProcessing.group_id == group_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def process_group(
    *,
    database: Database,
    catalog: Catalog,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    reprocess: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    heartbeat: Callable[[], Awaitable[None]] | None = None,
    run_id: uuid.UUID | None = None,
) -> Tally | None:
    """Process a group's licenses for all its members, a chunk per transaction (the job).

    None when the group is gone. Idempotent: run again, it finds nothing left to do.
    `run_id` names the processing (the job's id: its attempts continue one processing);
    what it returns and the finish event report is what the whole processing did.
    """
    actor = audit.Actor.system()
    run_id = run_id or uuid.uuid4()
    async with database.unit_of_work() as db_session:
        processing = await lock_processing(db_session, tenant_id=tenant_id, group_id=group_id)
        group = await db_session.get(Group, (tenant_id, group_id))
        if processing is None or group is None:
            return None
        requested = processing.requested
        processing.state = PROCESSING_IN_PROGRESS
        processing.started_at = processing.updated_at = clock.now()
        name = group.display_name
        country = await tenant_country(db_session, tenant_id=tenant_id)
        resumed = await _start_run(
            db_session, run_id=run_id, tenant_id=tenant_id, group_id=group_id
        )
        audit.record(
            db_session,
            actor=actor,
            action=START_ACTION,
            target_type="group",
            target_id=group_id,
            tenant_id=tenant_id,
            details={"groupDisplayName": name, "reprocess": reprocess}
            | ({"resumed": True} if resumed else {}),
        )
    for phase in ("sweep", "apply"):
        after: uuid.UUID | None = None
        while True:
            async with database.unit_of_work() as db_session:
                if (
                    await lock_processing(db_session, tenant_id=tenant_id, group_id=group_id)
                    is None
                ):
                    return None
                licenses = await group_skus(db_session, tenant_id=tenant_id, group_id=group_id)
                if phase == "sweep":
                    last = await next_stale_chunk(
                        db_session,
                        tenant_id=tenant_id,
                        group_id=group_id,
                        licenses=licenses,
                        after=after,
                        limit=chunk_size,
                    )
                    if last is not None:
                        await licensing_pools.lock_pools(db_session=db_session, tenant_id=tenant_id)
                        removed = await remove_stale(
                            db_session,
                            tenant_id=tenant_id,
                            group_id=group_id,
                            licenses=licenses,
                            chunk=Chunk(after, last),
                        )
                        await _count(db_session, run_id, Tally(removed=removed))
                else:
                    last = (
                        await next_member_chunk(
                            db_session,
                            tenant_id=tenant_id,
                            group_id=group_id,
                            after=after,
                            limit=chunk_size,
                        )
                        if licenses
                        else None
                    )
                    if last is not None:
                        done = await apply(
                            db_session,
                            catalog=catalog,
                            tenant_id=tenant_id,
                            group_id=group_id,
                            licenses=licenses,
                            chunk=Chunk(after, last),
                            country=country,
                            reprocess=reprocess,
                        )
                        await _count(db_session, run_id, done)
            if last is None:
                break
            after = last
            if heartbeat is not None:
                await heartbeat()
    async with database.unit_of_work() as db_session:
        processing = await lock_processing(db_session, tenant_id=tenant_id, group_id=group_id)
        if processing is None:
            return None
        tally = await _end_run(db_session, run_id)
        now = clock.now()
        # A request that came meanwhile has its own job: the state stays queued for it. So
        # does one that came before this job started but waits as a job of the other mode
        # (an apply does not absorb a reprocess, nor the reverse).
        waiting = await jobs.pending(
            db_session,
            dedupe_keys=[_dedupe_key(group_id, reprocess=mode) for mode in (False, True)],
            waiting_only=True,
        )
        if processing.requested == requested and not waiting:
            processing.state = PROCESSING_COMPLETE
        else:
            processing.state = QUEUED_FOR_PROCESSING
        processing.finished_at = processing.updated_at = now
        audit.record(
            db_session,
            actor=actor,
            action=FINISH_ACTION,
            target_type="group",
            target_id=group_id,
            tenant_id=tenant_id,
            details={
                "groupDisplayName": name,
                "reprocess": reprocess,
                "successes": tally.succeeded,
                "failures": tally.failed,
                "removed": tally.removed,
            },
        )
    log.info(
        "group %s licensed: %d succeeded, %d failed, %d removed",
        group_id,
        tally.succeeded,
        tally.failed,
        tally.removed,
    )
    return tally


async def _start_run(
    db_session: AsyncSession, *, run_id: uuid.UUID, tenant_id: uuid.UUID, group_id: uuid.UUID
) -> bool:
    """Begin counting the processing `run_id` (the caller holds the group's processing row);
    True when it had begun before: an earlier attempt of the job was killed or failed."""
    if await db_session.get(GroupLicenseRun, run_id) is not None:
        return True
    db_session.add(
        GroupLicenseRun(
            run_id=run_id,
            tenant_id=tenant_id,
            group_id=group_id,
            succeeded=0,
            failed=0,
            removed=0,
            started_at=clock.now(),
        )
    )
    return False


async def _count(db_session: AsyncSession, run_id: uuid.UUID, done: Tally) -> None:
    """Add a chunk's counts to its processing, in the chunk's own transaction."""
    for outcome in ("succeeded", "failed", "removed"):
        if count := getattr(done, outcome):
            metrics.GROUP_LICENSE_MEMBERS.labels(outcome).inc(count)
    if done.succeeded or done.failed or done.removed:
        await db_session.execute(
            update(GroupLicenseRun)
            .where(GroupLicenseRun.run_id == run_id)
            .values(
                succeeded=GroupLicenseRun.succeeded + done.succeeded,
                failed=GroupLicenseRun.failed + done.failed,
                removed=GroupLicenseRun.removed + done.removed,
            )
        )


async def _end_run(db_session: AsyncSession, run_id: uuid.UUID) -> Tally:
    """What the processing did over all its attempts; its counting ends."""
    run = await db_session.scalar(
        select(GroupLicenseRun)
        .where(GroupLicenseRun.run_id == run_id)
        .execution_options(populate_existing=True)
    )
    await db_session.execute(delete(GroupLicenseRun).where(GroupLicenseRun.run_id == run_id))
    if run is None:
        return Tally()
    return Tally(succeeded=run.succeeded, failed=run.failed, removed=run.removed)


@jobs.handler(PROCESS_GROUP)
async def _process_group_job(context: jobs.JobContext) -> None:
    """The job: payload {groupId, reprocess}; resources: catalog, settings (chunk size)."""
    settings = context.resources.get("settings")
    await process_group(
        database=context.database,
        catalog=context.resources["catalog"],
        tenant_id=uuid.UUID(str(context.tenant_id)),
        group_id=uuid.UUID(context.payload["groupId"]),
        reprocess=bool(context.payload.get("reprocess")),
        chunk_size=getattr(settings, "group_license_chunk_size", DEFAULT_CHUNK_SIZE),
        heartbeat=context.heartbeat,
        run_id=context.job_id,
    )


@jobs.on_failure(PROCESS_GROUP)
async def _process_group_failed(db_session: AsyncSession, failed: jobs.FailedJob) -> None:
    """The job used its last attempt: the group's processing ends, visibly (`give_up`)."""
    if failed.tenant_id is None or "groupId" not in failed.payload:
        return
    await give_up(
        db_session,
        tenant_id=failed.tenant_id,
        group_id=uuid.UUID(str(failed.payload["groupId"])),
        job_id=failed.job_id,
        reprocess=bool(failed.payload.get("reprocess")),
        error=failed.error,
        attempts=failed.attempts,
    )


async def give_up(
    db_session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    job_id: uuid.UUID,
    reprocess: bool,
    error: str,
    attempts: int,
) -> int | None:
    """End the processing of a group whose job failed for good, so that it shows.

    Graph has no failed processing state, and a group stuck in
    ProcessingInProgress would wait for nothing: the state becomes
    `ProcessingComplete`, every member who lacks one of the group's licenses
    gets a row for it in `Error` / `Other` (so the group `hasMembersWithLicenseErrors`,
    the members show in `membersWithLicenseErrors`, and a reprocess retries
    them), and "Finish applying group based license to users" records the
    failure, its cause and what the job's attempts did before. Rows the job wrote
    before it failed stay as they are.
    When another request's job is still to run, that job decides the state and
    nobody is marked (a plain apply does not retry errors). How many members
    were marked; None when the group is gone.
    """
    processing = await lock_processing(db_session, tenant_id=tenant_id, group_id=group_id)
    group = await db_session.get(Group, (tenant_id, group_id))
    if processing is None or group is None:
        return None
    later = await jobs.pending(
        db_session,
        dedupe_keys=[_dedupe_key(group_id, reprocess=mode) for mode in (False, True)],
        excluding=job_id,
    )
    done = await _end_run(db_session, job_id)  # what its attempts committed before failing
    marked = 0
    if not later:
        marked = await _mark_unprocessed(db_session, tenant_id=tenant_id, group_id=group_id)
        processing.state = PROCESSING_COMPLETE
        processing.finished_at = processing.updated_at = clock.now()
    cause = (error.strip().splitlines() or ["unknown"])[0][:300]
    audit.record(
        db_session,
        actor=audit.Actor.system(),
        action=FINISH_ACTION,
        target_type="group",
        target_id=group_id,
        tenant_id=tenant_id,
        details={
            "groupDisplayName": group.display_name,
            "reprocess": reprocess,
            "result": "failed",
            "error": cause,
            "attempts": attempts,
            "successes": done.succeeded,
            # Those its chunks left in error, and those it never reached (now marked).
            "failures": done.failed + marked,
            "removed": done.removed,
            "retriedByLaterRequest": later,
        },
    )
    log.warning(
        "group %s: licensing failed after %d attempts (%s); %d members marked",
        group_id,
        attempts,
        cause,
        marked,
    )
    return marked


async def _mark_unprocessed(
    db_session: AsyncSession, *, tenant_id: uuid.UUID, group_id: uuid.UUID
) -> int:
    """Give each member a row in `Error` / `Other` for every license of the group they have
    no row of (one INSERT … SELECT); how many members."""
    stamp = clock.now()
    dialect = db_session.get_bind().dialect.name
    given = exists().where(
        Assignment.tenant_id == tenant_id,
        Assignment.user_id == GroupMember.user_id,
        Assignment.sku_id == GroupLicense.sku_id,
        Assignment.assigned_by_group == group_id,
    )
    rows = (
        select(
            new_id(dialect),
            literal(tenant_id, Uuid()),
            GroupMember.user_id,
            GroupLicense.sku_id,
            literal(group_id, Uuid()),
            GroupLicense.disabled_plans,
            literal(ERROR, String()),
            literal(OTHER, String()),
            literal(stamp, UTCDateTime()),
            literal(stamp, UTCDateTime()),
        )
        .select_from(GroupMember)
        .join(
            GroupLicense,
            and_(
                GroupLicense.tenant_id == GroupMember.tenant_id,
                GroupLicense.group_id == GroupMember.group_id,
            ),
        )
        .where(GroupMember.tenant_id == tenant_id, GroupMember.group_id == group_id, ~given)
    )
    await db_session.execute(insert(Assignment.__table__).from_select(ROW_COLUMNS, rows))
    return (
        await db_session.scalar(
            select(func.count(func.distinct(Assignment.user_id))).where(
                Assignment.tenant_id == tenant_id,
                Assignment.assigned_by_group == group_id,
                Assignment.state == ERROR,
                Assignment.created_at == stamp,
            )
        )
        or 0
    )


def _dedupe_key(group_id: uuid.UUID, *, reprocess: bool) -> str:
    """One waiting job per group and mode (a reprocess is not absorbed by a plain apply)."""
    return f"{PROCESS_GROUP}:{group_id}:{'reprocess' if reprocess else 'apply'}"


async def request_processing(
    db_session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    reprocess: bool = False,
    processing: GroupLicenseProcessing | None = None,
) -> GroupLicenseProcessing:
    """Queue the group's processing as part of the unit of work (one waiting job per group)."""
    if processing is None:
        processing = await lock_processing(
            db_session, tenant_id=tenant_id, group_id=group_id, create=True
        )
        assert processing is not None
    processing.requested += 1
    processing.state = QUEUED_FOR_PROCESSING
    processing.updated_at = clock.now()
    await jobs.enqueue(
        db_session,
        kind=PROCESS_GROUP,
        tenant_id=tenant_id,
        payload={"groupId": str(group_id), "reprocess": reprocess},
        dedupe_key=_dedupe_key(group_id, reprocess=reprocess),
    )
    return processing
