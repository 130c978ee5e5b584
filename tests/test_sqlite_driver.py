"""SQLite through `core/sqlite_driver.py`: each statement is one trip to aiosqlite's thread,
and what SQLAlchemy reads back (rows, row counts, errors) is what SQLite said."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tenantry.core.db import Database


def _scenario(path: Path, body) -> object:
    async def run() -> object:
        database = Database(f"sqlite:///{path}")
        try:
            async with database.unit_of_work() as db_session:
                await db_session.execute(
                    text(
                        "CREATE TABLE IF NOT EXISTS things"
                        " (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"
                    )
                )
            return await body(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_rows_counts_and_many_rows_come_back_whole(tmp_path):
    async def body(database: Database):
        async with database.unit_of_work() as db_session:
            inserted = await db_session.execute(
                text("INSERT INTO things (name) VALUES (:name)"),
                [{"name": f"thing {n}"} for n in range(5)],  # executemany
            )
            returned = await db_session.execute(
                text("INSERT INTO things (name) VALUES ('last') RETURNING id, name")
            )
            updated = await db_session.execute(
                text("UPDATE things SET name = name || '!' WHERE id <= 3")
            )
            counts = inserted.rowcount, updated.rowcount
            last = returned.one()
        async with database.unit_of_work(readonly=True) as db_session:
            empty = await db_session.execute(text("SELECT id, name FROM things WHERE id < 0"))
            names = (
                await db_session.execute(text("SELECT name FROM things ORDER BY id"))
            ).scalars()
            return counts, tuple(last), list(empty.keys()), empty.all(), list(names)

    counts, last, empty_keys, empty_rows, names = _scenario(tmp_path / "t.db", body)
    assert counts == (5, 3)
    assert last == (6, "last")
    assert (empty_keys, empty_rows) == (["id", "name"], [])
    assert names == ["thing 0!", "thing 1!", "thing 2!", "thing 3", "thing 4", "last"]


def test_a_failed_statement_is_sqlalchemys_error_and_nothing_is_half_written(tmp_path):
    async def body(database: Database):
        with pytest.raises(IntegrityError):
            async with database.unit_of_work() as db_session:
                await db_session.execute(text("INSERT INTO things (name) VALUES ('a')"))
                await db_session.execute(text("INSERT INTO things (name) VALUES ('a')"))
        async with database.unit_of_work() as db_session:  # the pooled connection still works
            await db_session.execute(text("INSERT INTO things (name) VALUES ('b')"))
        async with database.unit_of_work(readonly=True) as db_session:
            return list((await db_session.execute(text("SELECT name FROM things"))).scalars())

    assert _scenario(tmp_path / "t.db", body) == ["b"]


def test_each_statement_is_one_trip_to_the_connections_thread(tmp_path, monkeypatch):
    trips = 0
    original = aiosqlite.Connection._execute
    ours: list[asyncio.AbstractEventLoop] = []

    async def counted(self, fn, *args, **kwargs):
        nonlocal trips
        if asyncio.get_running_loop() in ours:  # not a live server's (another thread's loop)
            trips += 1
        return await original(self, fn, *args, **kwargs)

    async def body(database: Database):
        nonlocal trips
        ours.append(asyncio.get_running_loop())
        async with database.unit_of_work() as db_session:
            await db_session.execute(text("SELECT 1"))  # the connection is open and pooled
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        trips = 0
        async with database.unit_of_work() as db_session:
            for n in range(10):
                await db_session.execute(text("INSERT INTO things (name) VALUES (:n)"), {"n": n})
            await db_session.execute(text("SELECT * FROM things"))
        return trips

    # BEGIN IMMEDIATE, 11 statements, COMMIT; the pool's rollback of the connection it takes
    # back costs nothing after a commit (SQLAlchemy's own adapter: 39 trips)
    assert _scenario(tmp_path / "t.db", body) == 13
