"""Database engines, the declarative base, and the unit of work.

One URL selects the database: `sqlite:///path` or `postgresql://...`. The
application talks to it asynchronously (aiosqlite, psycopg 3); migrations use
the synchronous driver of the same library.

SQLite allows one writer at a time. Write transactions start with
`BEGIN IMMEDIATE`, so two writers queue on the database lock (bounded by
`busy_timeout`) instead of failing halfway when a reader upgrades to a writer;
read-only units of work use a plain deferred `BEGIN` and run in parallel (WAL).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, Select, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from tenantry.core import sqlite_driver
from tenantry.core.errors import Conflict

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def new_id() -> uuid.UUID:
    """A fresh random identifier."""
    return uuid.uuid4()


def async_url(url: str) -> str:
    """The URL with the asyncio driver for the database it names."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def sync_url(url: str) -> str:
    """The URL with the synchronous driver (migrations, tests' bookkeeping)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite"))
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def configure_sqlite(engine: Any) -> None:
    """Pragmas and explicit transaction control for a SQLite engine (sync or async)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        readonly = connection.get_execution_options().get("tenantry_readonly", False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


WAKE_REQUESTS = "tenantry_wake"


def wake_after_commit(db_session: AsyncSession, worker: str) -> None:
    """Ask for the in-process background `worker` ("outbox", "jobs") to look for work as
    soon as this unit of work commits (it would otherwise find it at its next poll)."""
    db_session.info.setdefault(WAKE_REQUESTS, set()).add(worker)


def take_wake_requests(db_session: AsyncSession) -> set[str]:
    """The workers to wake for this session's committed work (and forget them)."""
    return db_session.info.pop(WAKE_REQUESTS, set())


class Database:
    """The engines and session factories of one database URL.

    `wakers` maps a background worker's name to its `wake()`: the units of work
    call it after committing work for that worker (`wake_after_commit`).
    """

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.wakers: dict[str, Callable[[], None]] = {}
        self.dialect = make_url(url).get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.dialect == "postgresql":
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        else:
            # aiosqlite with one trip to its thread per statement (core/sqlite_driver.py)
            kwargs.update(connect_args={"timeout": 30}, module=sqlite_driver.dbapi())
        self.engine: AsyncEngine = create_async_engine(async_url(url), **kwargs)
        if self.dialect == "sqlite":
            configure_sqlite(self.engine.sync_engine)
        self._write = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        read_engine = self.engine.execution_options(tenantry_readonly=True)
        if self.dialect == "postgresql":
            # Under READ COMMITTED each statement of a transaction sees its own snapshot, so a
            # read-only unit of work reads the same in autocommit, without the round trips
            # of BEGIN and COMMIT. (SQLite keeps its transaction: there one snapshot serves
            # every statement of the unit of work.)
            read_engine = read_engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read = async_sessionmaker(read_engine, expire_on_commit=False)

    def session(self, *, readonly: bool = False) -> AsyncSession:
        """A new session; the caller owns its transaction."""
        return (self._read if readonly else self._write)()

    @asynccontextmanager
    async def unit_of_work(self, *, readonly: bool = False) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits when the block ends, or rolls back on error.

        An error marked `keep_changes` (a wrong code's counted attempt, a refusal's
        audit event) commits what the block did before it propagates.
        """
        session = self.session(readonly=readonly)
        try:
            yield session
        except BaseException as error:
            if getattr(error, "keep_changes", False):
                await session.commit()
            else:
                await session.rollback()
            raise
        else:
            await session.commit()
            self.wake(take_wake_requests(session))
        finally:
            await session.close()

    async def may_find(self, query: Select[Any]) -> bool:
        """Whether a claim by `query` may find work, asked without taking a write lock.

        On SQLite a claim takes the database's one write lock even when it finds
        nothing, so background workers look first with a read; on PostgreSQL a
        `SKIP LOCKED` claim locks only the rows it takes, and this answers True.
        """
        if self.dialect != "sqlite":
            return True
        async with self.unit_of_work(readonly=True) as db_session:
            return await db_session.scalar(query.limit(1)) is not None

    async def attempts(
        self, *, retry_on: type[BaseException] | tuple[type[BaseException], ...], times: int = 3
    ) -> AsyncIterator[Attempt]:
        """Units of work to run one block in, again (from scratch) when it fails with `retry_on`.

        For work whose races the database settles with a unique index: the loser's
        transaction fails as a whole and its next attempt sees the winner's rows.

            async for attempt in database.attempts(retry_on=IntegrityError):
                async with attempt as db_session:
                    ...
        """
        for number in range(times):
            attempt = Attempt(self, number, last=number == times - 1, retry_on=retry_on)
            yield attempt
            if not attempt.failed:
                return

    def wake(self, workers: set[str]) -> None:
        """Wake these in-process workers (those this process runs; others poll)."""
        for worker in workers:
            waker = self.wakers.get(worker)
            if waker is not None:
                waker()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


class Attempt:
    """One try of `Database.attempts`: a unit of work whose retryable failure is rolled back
    and swallowed, or on the last try turned into a 409 `conflict`."""

    def __init__(
        self,
        database: Database,
        number: int,
        *,
        last: bool,
        retry_on: type[BaseException] | tuple[type[BaseException], ...],
    ) -> None:
        self.number = number
        self.failed = False
        self._last = last
        self._retry_on = retry_on
        self._unit = database.unit_of_work()

    async def __aenter__(self) -> AsyncSession:
        return await self._unit.__aenter__()

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> bool:
        suppressed = await self._unit.__aexit__(exc_type, exc, traceback)  # rolls back on error
        if isinstance(exc, self._retry_on):
            if self._last:  # lost every race: a clear 409 in the one error shape, not a 500
                raise Conflict(
                    "Someone changed the same records at the same moment. Try again."
                ) from exc
            self.failed = True
            return True
        return bool(suppressed)
