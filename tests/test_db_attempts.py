"""`Database.attempts`: a unit of work that loses a race runs again; losing every time is a 409."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tenantry.core.clock import clock
from tenantry.core.db import Database
from tenantry.core.errors import Conflict
from tenantry.tenants.models import Tenant


def _run(database_url: str, *, clashes: int) -> tuple[int, int]:
    """Insert a tenant whose id clashes with an existing one on the first `clashes` tries;
    how many tries ran and how many tenants exist afterwards."""

    async def scenario() -> tuple[int, int]:
        database = Database(database_url)
        try:
            taken = uuid.uuid4()
            async with database.unit_of_work() as db_session:
                db_session.add(Tenant(id=taken, display_name="first", created_at=clock.now()))
            tries = 0
            async for attempt in database.attempts(retry_on=IntegrityError):
                async with attempt as db_session:
                    tries += 1
                    tenant_id = taken if attempt.number < clashes else uuid.uuid4()
                    db_session.add(
                        Tenant(id=tenant_id, display_name="second", created_at=clock.now())
                    )
                    await db_session.flush()
            async with database.unit_of_work(readonly=True) as db_session:
                count = await db_session.scalar(select(func.count()).select_from(Tenant))
            return tries, count
        finally:
            await database.dispose()

    return asyncio.run(scenario())


def test_a_lost_race_runs_again_from_scratch(database):
    assert _run(database.url, clashes=2) == (3, 2)  # two losses rolled back, then it lands


def test_losing_every_race_is_a_conflict_not_a_server_error(database):
    with pytest.raises(Conflict) as refused:
        _run(database.url, clashes=3)
    assert refused.value.status_code == 409
    assert database.scalar("SELECT count(*) FROM tenants") == 1  # nothing half-written
