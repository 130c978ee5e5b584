"""PostgreSQL drops every connection of the server (a restart, a failover, an operator's
`pg_terminate_backend`): the next requests are served on new connections, not failed."""

from __future__ import annotations

import re

import httpx
import pytest

from tenantry.core.i18n import translate
from tests.support.stories import PASSWORD


def _drop_server_connections(database) -> int:
    """Terminate every other backend connected to the test database; how many."""
    return database.scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )


def _drop_server_connections_as_admin(database) -> None:
    """The same, from the administration database (the test database takes no connections)."""
    database._admin_execute(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database.name}'"
    )


def test_requests_after_postgresql_dropped_every_connection_succeed(stories, database, smtp):
    if database.kind != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no connections to drop")
    stories.sign_up("ariane@contoso.com", "Ariane")
    with stories.client_for("ariane@contoso.com") as ariane:
        check = {"name": "meetings.max_participants", "value": 5}
        assert ariane.post("/v1/me/entitlements/check", json=check).status_code == 200
        started = stories.start_signup("alain@contoso.com", "Alain")
        code = smtp.code_for("alain@contoso.com")
        database.engine.dispose()  # the test's own connection is not the server's
        assert _drop_server_connections(database) > 0  # pooled, hot-read and worker connections

        # Every path that holds connections: the hot entitlement check, the sign-up verify
        # (hot read, then a unit of work), reads, and a new sign-in.
        answer = ariane.post("/v1/me/entitlements/check", json=check)
        assert answer.status_code == 200, answer.text
        assert answer.json()["allowed"] is True
        verified = stories.api.post(
            f"/v1/signup/{started.json()['signupId']}/verify",
            json={"code": code, "password": PASSWORD},
        )
        assert verified.status_code == 201, verified.text
        assert ariane.get("/v1/organization").json()["displayName"] == "contoso.com"
    with stories.client_for("alain@contoso.com") as alain:
        assert alain.get("/v1/me").json()["tenantId"] == verified.json()["tenant"]["id"]


def test_while_postgresql_refuses_connections_requests_get_a_clear_503(stories, database, server):
    if database.kind != "postgresql":
        pytest.skip("PostgreSQL only")
    stories.sign_up("ariane@contoso.com", "Ariane")
    with (
        stories.client_for("ariane@contoso.com") as ariane,
        httpx.Client(base_url=server.url, headers={"Accept-Language": "fr"}) as browser,
    ):
        page = browser.get("/signin")
        browser.post(
            "/signin",
            data={
                "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1],
                "email": "ariane@contoso.com",
                "password": PASSWORD,
            },
        )
        assert "Ariane" in browser.get("/").text  # signed in on the pages
        database.engine.dispose()
        database._admin_execute(f'ALTER DATABASE "{database.name}" ALLOW_CONNECTIONS false')
        try:
            _drop_server_connections_as_admin(database)
            refused = ariane.get("/v1/organization")
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "serviceUnavailable"
            assert int(refused.headers["Retry-After"]) >= 1
            assert "database" in refused.json()["error"]["message"]
            home = browser.get("/")  # a page: the same, in the page's language
            assert home.status_code == 503
            assert translate("fr", "error.serviceUnavailable") in home.text
        finally:
            database._admin_execute(f'ALTER DATABASE "{database.name}" ALLOW_CONNECTIONS true')
        assert ariane.get("/v1/organization").status_code == 200  # back as soon as it is


def test_sqlite_busy_is_unavailable_but_a_wrong_statement_is_our_fault(tmp_path):
    """SQLite reports both a lock held past its timeout and a bad column as
    OperationalError: only the first is the database being unavailable (503)."""
    import sqlite3

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from tenantry.core.errors import database_unavailable

    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    try:
        with pytest.raises(OperationalError) as busy, engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(OperationalError) as wrong, engine.connect() as connection:
            connection.execute(text("SELECT no_such_column FROM t"))
    finally:
        engine.dispose()
        holder.close()
    assert database_unavailable(busy.value)
    assert not database_unavailable(wrong.value)
