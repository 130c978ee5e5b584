"""The job queue under group licensing: claimed once, retried after a dead worker, backoff, CLI."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from tenantry.cli.main import app as cli_app
from tenantry.core import jobs
from tenantry.core.clock import clock
from tenantry.core.db import Database
from tenantry.core.migrate import upgrade
from tests.support.admin import make_global_admin
from tests.support.databases import TestDatabase
from tests.support.licensing import add_users, buy
from tests.support.stories import PASSWORD

RAN: list[str] = []
LEASE = timedelta(minutes=5)


@jobs.handler("test.record")
async def _record(context: jobs.JobContext) -> None:
    RAN.append(context.payload["name"])


@jobs.handler("test.fail")
async def _fail(context: jobs.JobContext) -> None:
    raise RuntimeError(f"attempt {context.attempt} failed")


@jobs.handler("test.reported")
async def _fail_reported(context: jobs.JobContext) -> None:
    raise RuntimeError(f"attempt {context.attempt} failed")


@jobs.on_failure("test.reported")
async def _after_fail(db_session, failed: jobs.FailedJob) -> None:
    # Written with the job's failure: a follow-up job that says what happened.
    name = f"after {failed.payload['name']}: {failed.error} ({failed.attempts} attempts)"
    await jobs.enqueue(db_session, kind="test.record", payload={"name": name})


@jobs.handler("test.broken_hook")
async def _broken(context: jobs.JobContext) -> None:
    raise RuntimeError("broken")


@jobs.on_failure("test.broken_hook")
async def _broken_after(db_session, failed: jobs.FailedJob) -> None:
    await jobs.enqueue(db_session, kind="test.record", payload={"name": "never"})
    raise RuntimeError("the failure handler fails too")


@pytest.fixture(scope="module")
def queue_database(tmp_path_factory):
    """A database of its own: the live server's job worker must not run these jobs."""
    isolated = TestDatabase(tmp_path_factory.mktemp("jobs"))
    isolated.create()
    upgrade(isolated.url)
    yield isolated
    isolated.drop()


@pytest.fixture()
def queue_db(queue_database):
    queue_database.truncate()
    RAN.clear()
    return queue_database


async def _enqueue(database: Database, kind: str, name: str, **extra) -> bool:
    async with database.unit_of_work() as db_session:
        return await jobs.enqueue(db_session, kind=kind, payload={"name": name}, **extra)


def _run(scenario):
    async def wrapped():
        database = Database(scenario.url)
        try:
            return await scenario(database)
        finally:
            await database.dispose()

    return asyncio.run(wrapped())


def test_two_workers_never_claim_the_same_job(queue_db):
    async def scenario(database: Database) -> list[str]:
        for index in range(12):
            await _enqueue(database, "test.record", f"job{index}")
        first, second = jobs.JobWorker(database), jobs.JobWorker(database)
        ran = await asyncio.gather(first.run_due(), second.run_due())
        assert sum(ran) == 12
        return RAN

    scenario.url = queue_db.url
    assert sorted(_run(scenario)) == sorted(f"job{index}" for index in range(12))
    assert queue_db.scalar("SELECT count(*) FROM jobs WHERE status = 'done'") == 12
    assert queue_db.scalar("SELECT max(attempts) FROM jobs") == 1


def test_a_job_is_claimed_by_one_of_two_simultaneous_claims(queue_db):
    async def scenario(database: Database) -> None:
        await _enqueue(database, "test.record", "once")
        claims = await asyncio.gather(
            jobs.JobWorker(database).claim(), jobs.JobWorker(database).claim()
        )
        assert sum(claim is not None for claim in claims) == 1

    scenario.url = queue_db.url
    _run(scenario)


def test_a_dead_workers_job_is_run_again_when_its_lease_expires(queue_db):
    async def scenario(database: Database) -> None:
        await _enqueue(database, "test.record", "survivor")
        dead = jobs.JobWorker(database, lease=LEASE)
        taken = await dead.claim()  # …and the process dies: the job is never finished
        assert taken is not None
        alive = jobs.JobWorker(database, lease=LEASE)
        assert await alive.run_due() == 0  # the lease still holds
        clock.advance(minutes=6)
        assert await alive.run_due() == 1
        # The dead worker's claim is no longer its own.
        with pytest.raises(jobs.LeaseLost):
            await taken.heartbeat()

    scenario.url = queue_db.url
    _run(scenario)
    assert RAN == ["survivor"]
    status, attempts = queue_db.rows("SELECT status, attempts FROM jobs")[0]
    assert (status, attempts) == ("done", 2)


def test_a_failing_job_is_retried_with_backoff_then_fails(queue_db):
    async def scenario(database: Database) -> None:
        await _enqueue(database, "test.fail", "doomed", max_attempts=3)
        worker = jobs.JobWorker(database)
        assert await worker.run_due() == 1
        assert await worker.run_due() == 0  # not due again before its backoff
        clock.advance(seconds=11)
        assert await worker.run_due() == 1
        clock.advance(seconds=21)
        assert await worker.run_due() == 1
        clock.advance(hours=2)
        assert await worker.run_due() == 0

    scenario.url = queue_db.url
    _run(scenario)
    status, attempts, error = queue_db.rows("SELECT status, attempts, last_error FROM jobs")[0]
    assert (status, attempts) == ("failed", 3)
    assert "attempt 3 failed" in error


def test_a_job_that_fails_for_good_runs_its_failure_handler_once(queue_db):
    async def scenario(database: Database) -> None:
        await _enqueue(database, "test.reported", "raises", max_attempts=2)
        await _enqueue(database, "test.reported", "kills its worker", max_attempts=2)
        await _enqueue(database, "test.broken_hook", "broken", max_attempts=1)
        worker = jobs.JobWorker(database, lease=LEASE)
        # One job raises on each attempt; the other's worker dies on each (never settles).
        for _attempt in range(2):
            taken = [await worker.claim() for _ in range(3)]
            names = {t.payload["name"]: t for t in taken if t is not None}
            await worker.execute(names["raises"])
            if "broken" in names:
                await worker.execute(names["broken"])
            clock.advance(minutes=6)
        # The dead worker's job has no attempt left: failed when next claimed, handler run.
        assert await worker.run_due() == 2  # the two follow-ups; nothing else is due
        assert await worker.run_due() == 0

    scenario.url = queue_db.url
    _run(scenario)
    statuses = queue_db.rows("SELECT status FROM jobs WHERE kind <> 'test.record'")
    assert [status for (status,) in statuses] == ["failed"] * 3
    assert sorted(RAN) == [
        "after kills its worker: the worker running it stopped (2 attempts)",
        "after raises: RuntimeError: attempt 2 failed (2 attempts)",
    ]  # once each; the broken handler's follow-up was rolled back, the queue went on


def test_a_job_exists_only_if_its_change_committed_and_waiting_jobs_merge(queue_db):
    async def scenario(database: Database) -> None:
        with pytest.raises(RuntimeError):
            async with database.unit_of_work() as db_session:
                await jobs.enqueue(db_session, kind="test.record", payload={"name": "lost"})
                raise RuntimeError("the change fails")
        assert await _enqueue(database, "test.record", "a", dedupe_key="group:1")
        assert not await _enqueue(database, "test.record", "b", dedupe_key="group:1")
        taken = await jobs.JobWorker(database).claim()
        # A running job does not absorb requests made while it runs.
        assert await _enqueue(database, "test.record", "c", dedupe_key="group:1")
        await jobs.JobWorker(database).execute(taken)

    scenario.url = queue_db.url
    _run(scenario)
    assert RAN == ["a"]
    payloads = [row[0] for row in queue_db.rows("SELECT payload FROM jobs")]
    names = sorted((json.loads(p) if isinstance(p, str) else p)["name"] for p in payloads)
    assert names == ["a", "c"]


def test_jobs_run_once_and_list_from_the_terminal(queue_db):
    async def scenario(database: Database) -> None:
        await _enqueue(database, "test.record", "from-cli")

    scenario.url = queue_db.url
    _run(scenario)
    env = {"TENANTRY_DATABASE_URL": queue_db.url}
    ran = CliRunner().invoke(cli_app, ["jobs", "run-once", "--json"], env=env)
    assert ran.exit_code == 0, ran.output
    (outcome,) = json.loads(ran.stdout)
    assert (outcome["kind"], outcome["status"]) == ("test.record", "done")
    listed = CliRunner().invoke(cli_app, ["jobs", "list", "--json"], env=env)
    assert json.loads(listed.stdout)[0]["status"] == "done"
    assert RAN == ["from-cli"]


def test_group_licenses_from_the_terminal(stories, database, server, tmp_path, monkeypatch):
    monkeypatch.setenv("TENANTRY_CONFIG_DIR", str(tmp_path))
    signed_up = stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    make_global_admin(database, "ariane@contoso.com")
    with stories.client_for("ariane@contoso.com") as api:
        buy(api, "BUSINESS_PREMIUM", 2)
        members = add_users(database, signed_up["tenant"]["id"], 3)
        sales = api.post("/v1/groups", json={"displayName": "Sales"}).json()
        api.post(f"/v1/groups/{sales['id']}/members", json={"userIds": members})
    runner = CliRunner()

    def cli(*args: str, code: int = 0) -> object:
        result = runner.invoke(cli_app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    cli("login", "--url", server.url, "-u", "ariane@contoso.com", "-p", PASSWORD, "--json")
    summary = cli(
        "group", "license", "assign", "Sales", "--sku", "BUSINESS_PREMIUM",
        "--disable", "MEETINGS", "--wait", "--json",
    )  # fmt: skip
    assert summary["licenseProcessingState"] == "ProcessingComplete"
    (license_,) = summary["licenses"]
    assert license_["sku"] == "BUSINESS_PREMIUM" and len(license_["disabledPlans"]) == 1
    (in_error,) = summary["membersWithLicenseErrors"]
    assert in_error["errors"] == [
        {"sku": "BUSINESS_PREMIUM", "state": "Error", "error": "CountViolation"}
    ]
    assert summary["moreMembersWithErrors"] is False  # one member in error, all shown
    table = cli("group", "license", "status", "Sales")
    assert "CountViolation" in table and "ProcessingComplete" in table
    assert "More members in error" not in table and "{id}" not in table
    removed = cli(
        "group", "license", "remove", "Sales", "--sku", "BUSINESS_PREMIUM", "--wait", "--json"
    )
    assert removed["licenses"] == [] and removed["membersWithLicenseErrors"] == []


def test_finished_jobs_are_forgotten_after_a_week(queue_db):
    async def scenario(database: Database) -> tuple[int, int]:
        await _enqueue(database, "test.record", "old")
        await jobs.JobWorker(database).run_due()
        kept = await jobs.purge_finished(database)
        clock.advance(days=8)
        return kept, await jobs.purge_finished(database)

    scenario.url = queue_db.url
    assert _run(scenario) == (0, 1)
    assert queue_db.scalar("SELECT count(*) FROM jobs") == 0


def test_a_group_stays_queued_while_a_request_of_the_other_mode_waits(queue_db):
    """An apply and a reprocess asked one after the other are two jobs: the first to finish
    must not call the group complete while the second still waits (it would show errors the
    reprocess is about to retry)."""
    from tenantry.catalog import load
    from tenantry.core import audit
    from tenantry.directory import groups as directory_groups
    from tenantry.licensing import group_processing
    from tenantry.licensing.models import GroupLicenseProcessing
    from tenantry.tenants.models import Tenant

    async def state(database: Database, tenant_id, group_id) -> str:
        async with database.unit_of_work(readonly=True) as db_session:
            processing = await db_session.get(GroupLicenseProcessing, (tenant_id, group_id))
            return processing.state

    async def scenario(database: Database) -> list[str]:
        tenant_id = uuid.uuid4()
        async with database.unit_of_work() as db_session:
            db_session.add(Tenant(id=tenant_id, display_name="contoso.com", created_at=clock.now()))
            await db_session.flush()
            group = await directory_groups.create_group(
                db_session=db_session,
                actor=audit.Actor.system(),
                tenant_id=tenant_id,
                display_name="Sales",
            )
        for reprocess in (False, True):  # two requests, two waiting jobs
            async with database.unit_of_work() as db_session:
                await group_processing.request_processing(
                    db_session, tenant_id=tenant_id, group_id=group.id, reprocess=reprocess
                )
        seen = [await state(database, tenant_id, group.id)]
        # One processing runs (as the first job would) while the other job still waits.
        await group_processing.process_group(
            database=database, catalog=load(None), tenant_id=tenant_id, group_id=group.id
        )
        seen.append(await state(database, tenant_id, group.id))
        await jobs.JobWorker(database, resources={"catalog": load(None)}).run_due()
        seen.append(await state(database, tenant_id, group.id))
        return seen

    scenario.url = queue_db.url
    assert _run(scenario) == ["QueuedForProcessing", "QueuedForProcessing", "ProcessingComplete"]


def test_a_group_job_killed_mid_way_finishes_counting_its_whole_processing(queue_db):
    """A worker dies after the first chunk of a group's processing; once its lease expires
    another worker claims the job and finishes. The finish event counts every member the
    processing handled, those of the dead worker's chunk too, not only the last run's."""
    from tenantry.catalog import load
    from tenantry.core import audit
    from tenantry.directory import groups as directory_groups
    from tenantry.licensing import group_processing
    from tenantry.licensing import groups as group_licensing
    from tenantry.licensing import subscriptions as licensing_subscriptions
    from tenantry.licensing.group_processing import FINISH_ACTION, START_ACTION
    from tenantry.tenants.models import Tenant
    from tests.support.licensing import PREMIUM

    catalog = load(None)
    tenant_id = uuid.uuid4()
    resources = {"catalog": catalog, "settings": SimpleNamespace(group_license_chunk_size=1)}

    async def arrange(database: Database) -> None:
        async with database.unit_of_work() as db_session:
            db_session.add(Tenant(id=tenant_id, display_name="contoso.com", created_at=clock.now()))
            await db_session.flush()
            await licensing_subscriptions.purchase(
                db_session=db_session,
                catalog=catalog,
                actor=audit.Actor.system(),
                tenant_id=tenant_id,
                sku_part_number="BUSINESS_PREMIUM",
                quantity=3,
            )

    async def license_group(database: Database, members: list[str]) -> None:
        async with database.unit_of_work() as db_session:
            group = await directory_groups.create_group(
                db_session=db_session,
                actor=audit.Actor.system(),
                tenant_id=tenant_id,
                display_name="Sales",
            )
            await directory_groups.add_members(
                db_session=db_session,
                actor=audit.Actor.system(),
                group=group,
                user_ids=[uuid.UUID(member) for member in members],
            )
            await group_licensing.set_licenses(
                db_session=db_session,
                catalog=catalog,
                actor=audit.Actor.system(),
                group=group,
                add=[(PREMIUM.sku_id, [])],
                remove=[],
            )

    async def scenario(database: Database) -> None:
        await license_group(database, members)
        dead = jobs.JobWorker(database, lease=LEASE, resources=resources)
        taken = await dead.claim()
        assert taken is not None and taken.kind == group_processing.PROCESS_GROUP

        async def killed() -> None:  # after its first chunk committed, the process dies
            raise asyncio.CancelledError

        taken.heartbeat = killed
        with pytest.raises(asyncio.CancelledError):
            await dead.execute(taken)
        clock.advance(minutes=6)  # the lease expires
        alive = jobs.JobWorker(database, lease=LEASE, resources=resources)
        assert await alive.run_due() == 1

    arrange.url = scenario.url = queue_db.url
    _run(arrange)
    members = add_users(queue_db, str(tenant_id), 4)  # 3 seats: 3 licensed, 1 CountViolation
    _run(scenario)

    def details(action: str) -> list[dict]:
        rows = queue_db.rows(
            f"SELECT details FROM audit_events WHERE action = '{action}' ORDER BY occurred_at"
        )
        return [json.loads(d) if isinstance(d, str) else d for (d,) in rows]

    (finish,) = details(FINISH_ACTION)
    assert (finish["successes"], finish["failures"], finish["removed"]) == (3, 1, 0)
    assert [event.get("resumed", False) for event in details(START_ACTION)] == [False, True]
    assert queue_db.rows("SELECT status, attempts FROM jobs") == [("done", 2)]
    assert queue_db.scalar("SELECT count(*) FROM group_license_runs") == 0
