"""A group whose licensing job fails for good: it does not stay "in progress"; its members show
the error, the audit log says why, and a reprocess recovers once the cause is gone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from tenantry.core import jobs
from tenantry.core.clock import clock
from tests.support.databases import TestDatabase
from tests.support.group_licensing import (
    assign_group,
    audit_events,
    create_group,
    state_of,
    wait_processed,
)
from tests.support.licensing import PREMIUM, add_users, buy, global_admin, sku_view

REFUSAL = "no space left for new licenses"


@contextmanager
def refusing_licenses(database: TestDatabase, group_id: str) -> Iterator[None]:
    """While the block runs, the database refuses to give the group's members a license in
    effect (as a full disk or a broken constraint would): the job's own statements fail."""
    if database.kind == "postgresql":
        create = [
            "CREATE FUNCTION refuse_licenses() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$",
            "CREATE TRIGGER refuse_licenses BEFORE INSERT ON license_assignments FOR EACH ROW "
            f"WHEN (NEW.assigned_by_group = '{group_id}' AND NEW.state = 'Active') "
            "EXECUTE FUNCTION refuse_licenses()",
        ]
        drop = [
            "DROP TRIGGER IF EXISTS refuse_licenses ON license_assignments",
            "DROP FUNCTION IF EXISTS refuse_licenses()",
        ]
    else:  # SQLite keeps UUIDs as 32 hex digits
        create = [
            "CREATE TRIGGER refuse_licenses BEFORE INSERT ON license_assignments "
            f"WHEN NEW.assigned_by_group = '{uuid.UUID(group_id).hex}' AND NEW.state = 'Active' "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        ]
        drop = ["DROP TRIGGER IF EXISTS refuse_licenses"]
    with database.engine.begin() as connection:
        for statement in create:
            connection.execute(text(statement))
    try:
        yield
    finally:
        with database.engine.begin() as connection:
            for statement in drop:
                connection.execute(text(statement))


def _job(database: TestDatabase) -> tuple[str, int]:
    """(status, attempts) of the group's processing job."""
    ((status, attempts),) = database.rows(
        "SELECT status, attempts FROM jobs WHERE kind = 'groupLicensing.process'"
    )
    return status, attempts


def _wait_for_job(database: TestDatabase, status: str, attempts: int) -> None:
    deadline = time.monotonic() + 30
    while _job(database) != (status, attempts):
        assert time.monotonic() < deadline, f"the job is {_job(database)}"
        time.sleep(0.05)


def test_a_failed_job_leaves_the_group_complete_with_its_members_in_error(stories, database):
    ariane = global_admin(stories, database)
    api = ariane.api
    buy(api, "BUSINESS_PREMIUM", 5)
    members = sorted(add_users(database, ariane.tenant_id, 3))
    sales = create_group(api, "Sales", members)

    with refusing_licenses(database, sales["id"]):
        assert assign_group(api, sales["id"], add=[(PREMIUM.sku_id, [])]).status_code == 202
        for attempt in range(1, jobs.DEFAULT_MAX_ATTEMPTS):
            _wait_for_job(database, "queued", attempt)  # failed; retried after a backoff
            state = api.get(f"/v1/groups/{sales['id']}").json()["licenseProcessingState"]
            assert state == {"state": "ProcessingInProgress"}
            clock.advance(seconds=jobs.backoff(attempt).total_seconds() + 1)
        _wait_for_job(database, "failed", jobs.DEFAULT_MAX_ATTEMPTS)
        group = wait_processed(api, sales["id"])

    # Not stuck: processing is over, and the group says its members are in error.
    assert group["hasMembersWithLicenseErrors"] is True
    assert group["assignedLicenses"] == [{"skuId": str(PREMIUM.sku_id), "disabledPlans": []}]
    assert [state_of(api, member, sales["id"]) for member in members] == [("Error", "Other")] * 3
    in_error = api.get(f"/v1/groups/{sales['id']}/membersWithLicenseErrors").json()["value"]
    assert [member["id"] for member in in_error] == members
    assert sku_view(api, "BUSINESS_PREMIUM")["consumedUnits"] == 0

    # The audit log says why.
    assert len(audit_events(api, "Start applying group based license to users")) == 5
    (finish,) = audit_events(api, "Finish applying group based license to users")
    assert finish["targetResources"][0]["id"] == sales["id"]
    assert finish["details"]["result"] == "failed"
    assert finish["details"]["attempts"] == "5"
    assert finish["details"]["failures"] == "3"
    assert REFUSAL in finish["details"]["error"]

    # The cause gone, a reprocess gives everyone the license.
    assert api.post(f"/v1/groups/{sales['id']}/reprocessLicenseAssignment").status_code == 202
    group = wait_processed(api, sales["id"])
    assert group["hasMembersWithLicenseErrors"] is False
    assert [state_of(api, member, sales["id"]) for member in members] == [("Active", "None")] * 3
    assert sku_view(api, "BUSINESS_PREMIUM")["consumedUnits"] == 3
