"""A fresh database per test session: a SQLite file, or a new PostgreSQL database."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tenantry.core.db import configure_sqlite, sync_url
from tenantry.models import Base

POSTGRES_ENV = "TENANTRY_TEST_POSTGRES_URL"


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


class TestDatabase:
    __test__ = False  # not a test class

    def __init__(self, tmp_dir: Path) -> None:
        admin = postgres_admin_url()
        self.admin_url = admin
        if admin:
            self.name = f"tenantry_test_{uuid.uuid4().hex[:10]}"
            self.url = make_url(admin).set(database=self.name).render_as_string(hide_password=False)
        else:
            self.name = None
            self.url = f"sqlite:///{tmp_dir / 'tenantry-test.db'}"
        self.kind = "postgresql" if admin else "sqlite"
        self._engine = None

    def _admin_execute(self, statement: str) -> None:
        assert self.admin_url
        conninfo = (
            make_url(self.admin_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(statement)

    def create(self) -> None:
        if self.name:
            self._admin_execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self.name:
            self._admin_execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @property
    def engine(self):
        if self._engine is None:
            self._engine = create_engine(sync_url(self.url))
            if self.kind == "sqlite":
                configure_sqlite(self._engine)
        return self._engine

    def truncate(self) -> None:
        """Empty every table between tests (the schema stays).

        A job the previous test left running (a group being licensed) may lock the
        tables in another order than TRUNCATE: PostgreSQL then cancels one of the two
        (deadlock), and if it is the TRUNCATE, it is tried again.
        """
        # The sealed shared secret stays: the session's servers opened it once, at start.
        tables = [
            t.name for t in reversed(Base.metadata.sorted_tables) if t.name != "server_secrets"
        ]
        for attempt in range(5):
            try:
                with self.engine.begin() as connection:
                    if self.kind == "postgresql":
                        connection.execute(
                            text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
                        )
                    else:
                        for table in tables:
                            connection.execute(text(f'DELETE FROM "{table}"'))
                return
            except OperationalError as error:
                if attempt == 4 or not isinstance(error.orig, psycopg.errors.DeadlockDetected):
                    raise
                time.sleep(0.1)

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def execute_sql(self, sql: str, **params) -> None:
        with self.engine.begin() as connection:
            connection.execute(text(sql), params)

    def rows(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).all()
