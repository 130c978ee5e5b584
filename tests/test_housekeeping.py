"""Housekeeping: expired records go, live ones stay (`tenantry prune`, run hourly by the server)."""

from __future__ import annotations

from tenantry.core.clock import clock
from tests.support.licensing import cli
from tests.support.stories import PASSWORD


def _prune(database) -> dict[str, int]:
    return {row["records"]: row["deleted"] for row in cli(database, "prune")}


def _count(database, table: str) -> int:
    return database.scalar(f"SELECT count(*) FROM {table}")


def test_expired_records_are_deleted_and_live_ones_kept(stories, database, api):
    stories.sign_up("ariane@contoso.com", "Ariane")  # completed: stays with her account
    stories.start_signup("alain@contoso.com", "Alain")  # never completed
    stories.token("ariane@contoso.com")  # a bearer token that expires in an hour
    for guess in range(3):  # a lockout count from one address
        api.post(
            "/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "ariane@contoso.com",
                "password": f"Wrong-{guess}",
            },
        )
    assert _count(database, "rate_limit_buckets") > 0
    assert _count(database, "sign_in_lockouts") > 0

    assert set(_prune(database).values()) == {0}  # nothing has expired yet

    clock.advance(days=8)
    stories.token("ariane@contoso.com")  # today's sign-in and its rate-limit window
    counts = _prune(database)
    assert counts["abandonedSignups"] == 1
    assert counts["expiredTokens"] >= 1
    assert counts["signInLockouts"] >= 1
    assert counts["rateLimitWindows"] >= 1

    assert database.scalar("SELECT count(*) FROM signups WHERE status = 'pending'") == 0
    assert database.scalar("SELECT count(*) FROM signups WHERE status = 'completed'") == 1
    assert _count(database, "access_tokens") == 1  # only today's
    assert _count(database, "rate_limit_buckets") >= 1  # today's windows
    assert _count(database, "sign_in_lockouts") == 0
    with stories.client_for("ariane@contoso.com", PASSWORD) as ariane:
        assert ariane.get("/v1/me").status_code == 200
    event = database.rows(
        "SELECT actor_type, details FROM audit_events WHERE action = 'Delete expired records'"
    )
    assert len(event) == 1 and event[0][0] == "system"


def test_every_pruner_finds_its_rows_through_an_index(database):
    """Housekeeping's deletes run hourly on tables that grow with traffic: none of them
    reads its whole table."""
    import tenantry.app  # noqa: F401  (registers every domain's pruner)
    from tenantry.core import housekeeping

    assert len(housekeeping._pruners) >= 4
    with database.engine.connect() as connection:
        if database.kind == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")  # tiny tables: ask for the index
        for name, function in housekeeping._pruners.items():
            statement = function(clock.now()).compile(
                dialect=connection.dialect, compile_kwargs={"literal_binds": True}
            )
            explain = "EXPLAIN" if database.kind == "postgresql" else "EXPLAIN QUERY PLAN"
            plan = " ".join(
                str(part)
                for row in connection.exec_driver_sql(f"{explain} {statement}")
                for part in row
            )
            assert "Index" in plan or "INDEX" in plan, f"{name} scans its table: {plan}"
