"""Single-statement reads for hot paths, on raw driver connections beside SQLAlchemy's pool.

Why it exists: SQLAlchemy's asyncio layer (greenlet hops, pool events, pre-ping,
BEGIN/ROLLBACK, a worker-thread hop per aiosqlite call) costs one to three
milliseconds of CPU per checkout and statement on the reference machine, several
times a whole hello-world request. Routes that must answer in a small multiple
of that (the entitlement check apps call on every action) read here instead.

The contract is narrow on purpose:
- one read-only statement per call, plain SQL valid on both databases, named
  `:params`; each runs in autocommit, so it sees one consistent snapshot;
- values come back as the driver gives them: use `as_uuid`, `as_datetime`,
  `as_json` to read them the same way on both databases, and `uuid_param` to
  pass a UUID;
- any driver error is raised as `HotReadError`: callers fall back to the
  ordinary unit-of-work path, which has the full error handling.

SQLite: one synchronous connection per process, used on the event-loop thread:
an indexed read of a few rows takes tens of microseconds, less than a hop to a
worker thread, and WAL readers never wait for writers (`busy_timeout` is kept
short in case the file is not in WAL mode). PostgreSQL: a few psycopg
connections in autocommit, taken from an asyncio queue, each statement prepared
(planning costs PostgreSQL ten times the execution); a connection that fails is dropped.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class HotReadError(Exception):
    """The statement could not run; use the ordinary path instead."""


class HotReader:
    """Raw read connections of one database URL, opened on first use."""

    def __init__(self, url: str, *, size: int = 4) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self.size = size
        self._sqlite_path = parsed.database if self.dialect == "sqlite" else None
        self._conninfo = (
            parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            if self.dialect == "postgresql"
            else None
        )
        self._sqlite: sqlite3.Connection | None = None
        self._idle: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None
        self._open = 0
        self._statements: dict[str, str] = {}

    @property
    def available(self) -> bool:
        """False for an in-memory SQLite database, which another connection cannot see."""
        return self.dialect == "postgresql" or self._sqlite_path not in (None, "", ":memory:")

    def uuid_param(self, value: uuid.UUID) -> Any:
        """A UUID as the database stores it (SQLAlchemy keeps 32 hex digits on SQLite)."""
        return value.hex if self.dialect == "sqlite" else value

    async def fetch_all(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of one read statement."""
        if self.dialect == "sqlite":
            return self._fetch_sqlite(sql, params)
        return await self._fetch_postgresql(self._for_postgresql(sql), params)

    def _fetch_sqlite(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        try:
            if self._sqlite is None:
                if not self.available:
                    raise HotReadError("in-memory SQLite has no shared file to read")
                connection = sqlite3.connect(
                    str(self._sqlite_path), isolation_level=None, check_same_thread=False
                )
                connection.execute("PRAGMA busy_timeout = 50")
                connection.execute("PRAGMA query_only = ON")
                self._sqlite = connection
            return self._sqlite.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise HotReadError(str(error)) from error

    def _for_postgresql(self, sql: str) -> str:
        converted = self._statements.get(sql)
        if converted is None:
            converted = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
            self._statements[sql] = converted
        return converted

    async def _acquire(self) -> psycopg.AsyncConnection[Any]:
        if self._idle is None:
            self._idle = asyncio.Queue()
        if self._idle.empty() and self._open < self.size:
            self._open += 1
            try:
                return await psycopg.AsyncConnection.connect(
                    self._conninfo or "",
                    autocommit=True,
                    # Plan each statement once: a custom plan per execution costs more than
                    # the execution of these indexed reads.
                    options="-c plan_cache_mode=force_generic_plan",
                )
            except psycopg.Error:
                self._open -= 1
                raise
        # Bounded: should every connection fail at once, a waiter gives up and the
        # caller takes the ordinary path rather than waiting for a return that never comes.
        return await asyncio.wait_for(self._idle.get(), timeout=5)

    async def _fetch_postgresql(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        try:
            connection = await self._acquire()
        except (psycopg.Error, TimeoutError) as error:
            raise HotReadError(str(error) or "no connection free") from error
        try:
            cursor = await connection.execute(sql, params, prepare=True)
            rows = await cursor.fetchall()
        except psycopg.Error as error:
            self._open -= 1
            await connection.close()
            raise HotReadError(str(error)) from error
        assert self._idle is not None
        self._idle.put_nowait(connection)
        return rows

    async def close(self) -> None:
        """Close every connection."""
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        while self._idle is not None and not self._idle.empty():
            await self._idle.get_nowait().close()
            self._open -= 1


def as_uuid(value: Any) -> uuid.UUID:
    """A UUID column's value (a UUID, or its hex text on SQLite)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def as_datetime(value: Any) -> datetime:
    """A timestamp column's value as aware UTC (SQLite keeps naive UTC text)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def as_json(value: Any) -> Any:
    """A JSON column's value (decoded by psycopg, text on SQLite)."""
    return json.loads(value) if isinstance(value, str | bytes) else value
