"""The job queue: background work written with the change that asks for it, run by workers.

A job is a row of `jobs`, inserted by `enqueue` in the caller's unit of work, so
a job exists if and only if the change that asked for it committed. Workers (one
per `tenantry serve` process, any number of processes, or `tenantry jobs
run-once`) claim due jobs with `FOR UPDATE SKIP LOCKED` on PostgreSQL (on SQLite
the write transaction holds the database lock, so the claim is exclusive too)
and take a lease (`claimed_until`) that the handler extends while it works
(`JobContext.heartbeat`). A process killed mid-job leaves a lease that expires,
after which another worker runs the job again: delivery is at least once, so
handlers are idempotent. A job that raises is retried with exponential backoff
until `max_attempts` claims, then `failed` with its last error kept. A kind may
register what to do then (`@on_failure(kind)`: e.g. show the failure on the
objects the job was working on); it runs in the unit of work that marks the job
failed, in a savepoint: its changes commit with the failure, and its own
failure is logged without stopping the queue.

`dedupe_key` merges requests for the same work: while a job with that key waits
(`queued`, never claimed), enqueueing another one writes nothing. A running job
does not absorb new requests, so a change made while it runs gets a job of its
own.

Handlers register by kind at import (`@handler("groupLicensing.process")`) and
receive a `JobContext`: the job, the database, and the resources the process
gave its worker (e.g. the product catalog).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Index, String, Text, and_, delete, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.clock import clock
from tenantry.core.db import Base, Database, new_id, wake_after_commit

log = logging.getLogger("tenantry.jobs")

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"

DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_MAX_ATTEMPTS = 5
MAX_BACKOFF = timedelta(hours=1)
KEEP_FINISHED = timedelta(days=7)  # done and failed jobs are kept this long, for the record
PURGE_EVERY_SECONDS = 3600.0


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "status", "run_at"),
        # One waiting, never-claimed job per dedupe key (see the module docstring).
        Index(
            "uq_jobs_waiting_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("status = 'queued' AND attempts = 0"),
            postgresql_where=text("status = 'queued' AND attempts = 0"),
        ),
        Index("ix_jobs_tenant", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[uuid.UUID | None]
    payload: Mapped[dict[str, Any]]
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    # Claims so far (a claim whose worker died counts too).
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=DEFAULT_MAX_ATTEMPTS)
    run_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    # A token of the current claim: only its holder may extend the lease or settle the job.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


async def enqueue(
    db_session: AsyncSession,
    *,
    kind: str,
    payload: Mapping[str, Any],
    tenant_id: uuid.UUID | None = None,
    dedupe_key: str | None = None,
    delay: timedelta = timedelta(0),
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> bool:
    """Queue a job as part of the current unit of work; False when an identical one waits."""
    now = clock.now()
    values = {
        "id": uuid.uuid4(),
        "kind": kind,
        "tenant_id": tenant_id,
        "payload": dict(payload),
        "dedupe_key": dedupe_key,
        "status": QUEUED,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_at": now + delay,
        "created_at": now,
    }
    if dedupe_key is None:
        statement: Any = insert(Job).values(**values)
    else:
        dialect = db_session.get_bind().dialect.name
        insert_for = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert_for(Job).values(**values).on_conflict_do_nothing()
    result = await db_session.execute(statement.execution_options(preserve_rowcount=True))
    written = (result.rowcount or 0) > 0  # type: ignore[attr-defined]
    if written:
        wake_after_commit(db_session, "jobs")
    return written


# --- handlers -----------------------------------------------------------------------------


class LeaseLost(Exception):
    """Another worker took the job over (this worker's lease had expired): stop working on it."""


@dataclass
class JobContext:
    """What a handler gets: its job, the database, the process's resources, the lease."""

    job_id: uuid.UUID
    kind: str
    tenant_id: uuid.UUID | None
    payload: dict[str, Any]
    attempt: int
    database: Database
    resources: Mapping[str, Any]
    claim: str
    lease: timedelta

    async def heartbeat(self) -> None:
        """Extend the lease; raises LeaseLost if another worker has taken the job over."""
        async with self.database.unit_of_work() as db_session:
            result = await db_session.execute(
                update(Job)
                .where(Job.id == self.job_id, Job.claimed_by == self.claim)
                .values(claimed_until=clock.now() + self.lease)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise LeaseLost(f"job {self.job_id} was taken over by another worker")


@dataclass(frozen=True)
class FailedJob:
    """What a failure handler gets (with the unit of work): a job that used its last attempt,
    and why it failed."""

    job_id: uuid.UUID
    kind: str
    tenant_id: uuid.UUID | None
    payload: dict[str, Any]
    attempts: int
    error: str
    resources: Mapping[str, Any]


JobHandler = Callable[[JobContext], Awaitable[None]]
FailureHandler = Callable[[AsyncSession, FailedJob], Awaitable[None]]
_handlers: dict[str, JobHandler] = {}
_failure_handlers: dict[str, FailureHandler] = {}


def handler(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register the function that runs jobs of `kind` (one per kind)."""

    def register(function: JobHandler) -> JobHandler:
        if _handlers.get(kind, function) is not function:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        _handlers[kind] = function
        return function

    return register


def on_failure(kind: str) -> Callable[[FailureHandler], FailureHandler]:
    """Register what to do when a job of `kind` fails for good (one per kind)."""

    def register(function: FailureHandler) -> FailureHandler:
        if _failure_handlers.get(kind, function) is not function:
            raise ValueError(f"a failure handler for job kind {kind!r} is already registered")
        _failure_handlers[kind] = function
        return function

    return register


async def pending(
    db_session: AsyncSession,
    *,
    dedupe_keys: Sequence[str],
    excluding: uuid.UUID | None = None,
    waiting_only: bool = False,
) -> bool:
    """Whether a job with one of these dedupe keys is still to run (queued or running; with
    `waiting_only`, queued: not started, or waiting for its next attempt)."""
    statuses = (QUEUED,) if waiting_only else (QUEUED, RUNNING)
    query = select(Job.id).where(Job.dedupe_key.in_(list(dedupe_keys)), Job.status.in_(statuses))
    if excluding is not None:
        query = query.where(Job.id != excluding)
    return await db_session.scalar(query.limit(1)) is not None


def backoff(attempts: int) -> timedelta:
    """How long to wait before the next try after `attempts` failed ones (10 s, 20 s, 40 s…)."""
    return min(MAX_BACKOFF, timedelta(seconds=10 * 2 ** max(0, attempts - 1)))


# --- the worker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What running one claimed job came to."""

    job_id: uuid.UUID
    kind: str
    status: str  # done, queued (to retry), failed, or lost (another worker took it over)
    error: str | None = None


@dataclass
class JobWorker:
    """Claims due jobs one at a time and runs their handlers; woken early on enqueue."""

    database: Database
    resources: Mapping[str, Any] = field(default_factory=dict)
    poll_seconds: float = 1.0
    lease: timedelta = DEFAULT_LEASE
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    def __post_init__(self) -> None:
        self._wake = asyncio.Event()
        self._next_purge = 0.0

    def wake(self) -> None:
        """Ask the worker to look for due jobs now."""
        self._wake.set()

    async def run(self) -> None:
        """Run due jobs until cancelled."""
        while True:
            try:
                ran = await self.run_due(limit=20)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job round failed")
                ran = 0
            if ran:
                continue
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
                with contextlib.suppress(Exception):
                    await purge_finished(self.database)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def claim(self) -> JobContext | None:
        """Lease the next due job (queued and due, or running with an expired lease) to this
        worker, or None; a job that has used all its attempts is marked failed instead."""
        while True:
            now = clock.now()
            due = or_(
                and_(Job.status == QUEUED, Job.run_at <= now),
                and_(Job.status == RUNNING, Job.claimed_until < now),
            )
            if not await self.database.may_find(select(Job.id).where(due)):
                return None
            async with self.database.unit_of_work() as db_session:
                job = await db_session.scalar(
                    select(Job)
                    .where(due)
                    .order_by(Job.run_at)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                if job is None:
                    return None
                if job.attempts >= job.max_attempts:  # its last worker died holding it
                    job.status, job.finished_at, job.claimed_by = FAILED, now, None
                    job.last_error = job.last_error or "the worker running it stopped"
                    log.warning("job %s (%s) failed: no attempts left", job.id, job.kind)
                    await self._after_failure(db_session, job)
                    continue
                claim = f"{self.name}:{uuid.uuid4().hex[:12]}"
                job.status, job.claimed_by = RUNNING, claim
                job.claimed_until = now + self.lease
                job.attempts += 1
                job.started_at = now
                return JobContext(
                    job_id=job.id,
                    kind=job.kind,
                    tenant_id=job.tenant_id,
                    payload=dict(job.payload or {}),
                    attempt=job.attempts,
                    database=self.database,
                    resources=self.resources,
                    claim=claim,
                    lease=self.lease,
                )

    async def execute(self, context: JobContext) -> Outcome:
        """Run a claimed job's handler and record the outcome."""
        run = _handlers.get(context.kind)
        error: str | None = None
        try:
            if run is None:
                raise LookupError(f"no handler for job kind {context.kind!r}")
            await run(context)
        except asyncio.CancelledError:
            raise  # shutting down: the lease expires and another worker retries
        except LeaseLost:
            return Outcome(context.job_id, context.kind, "lost")
        except Exception as exc:
            log.exception("job %s (%s) failed", context.job_id, context.kind)
            error = f"{type(exc).__name__}: {exc}"[:4000]
        return await self._settle(context, error)

    async def _settle(self, context: JobContext, error: str | None) -> Outcome:
        now = clock.now()
        async with self.database.unit_of_work() as db_session:
            job = await db_session.scalar(
                select(Job).where(Job.id == context.job_id).with_for_update()
            )
            if job is None or job.claimed_by != context.claim:
                return Outcome(context.job_id, context.kind, "lost", error)
            job.claimed_by, job.claimed_until = None, None
            if error is None:
                job.status, job.finished_at, job.last_error = DONE, now, None
            elif job.attempts >= job.max_attempts:
                job.status, job.finished_at, job.last_error = FAILED, now, error
                await self._after_failure(db_session, job)
                return Outcome(context.job_id, context.kind, FAILED, error)
            else:
                job.status, job.last_error = QUEUED, error
                job.run_at = now + backoff(job.attempts)
            return Outcome(context.job_id, context.kind, job.status, error)

    async def _after_failure(self, db_session: AsyncSession, job: Job) -> None:
        """Run the kind's failure handler, if any, in a savepoint of the unit of work that
        marks the job failed; its own failure is logged, never raised (the queue goes on)."""
        run = _failure_handlers.get(job.kind)
        if run is None:
            return
        failed = FailedJob(
            job_id=job.id,
            kind=job.kind,
            tenant_id=job.tenant_id,
            payload=dict(job.payload or {}),
            attempts=job.attempts,
            error=job.last_error or "",
            resources=self.resources,
        )
        try:
            async with db_session.begin_nested():
                await run(db_session, failed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("failure handler of job %s (%s) failed", failed.job_id, failed.kind)

    async def run_due(self, *, limit: int | None = None) -> int:
        """Claim and run due jobs one after another (at most `limit`); how many ran."""
        ran = 0
        while limit is None or ran < limit:
            context = await self.claim()
            if context is None:
                break
            await self.execute(context)
            ran += 1
        return ran


async def purge_finished(database: Database, *, older_than: timedelta = KEEP_FINISHED) -> int:
    """Forget done and failed jobs finished more than `older_than` ago; how many."""
    async with database.unit_of_work() as db_session:
        result = await db_session.execute(
            delete(Job).where(
                Job.status.in_((DONE, FAILED)), Job.finished_at < clock.now() - older_than
            )
        )
        return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


async def get_all(database: Database, *, status: str | None = None, limit: int = 50) -> list[Job]:
    """The newest jobs, optionally in one status."""
    query = select(Job).order_by(Job.created_at.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    async with database.unit_of_work(readonly=True) as db_session:
        return list((await db_session.scalars(query)).all())
