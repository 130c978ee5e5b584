"""Housekeeping: rows that have served their purpose are deleted regularly, set-based.

Rate-limit windows, expired tokens, old lockout counts and abandoned sign-ups
would otherwise grow without end. Each domain registers what it prunes
(`@pruner("name")`: one DELETE … WHERE on its own table, given "now"); core
knows none of them. `prune` runs every pruner in its own unit of work and
records one audit event with the counts; `Housekeeper` does that in every
server process at `TENANTRY_HOUSEKEEPING_INTERVAL_SECONDS` (concurrent rounds
delete the same rows at most once: the statements are idempotent), and
`tenantry prune` does it on demand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Delete

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.db import Database

log = logging.getLogger("tenantry.housekeeping")

Pruner = Callable[[datetime], Delete]
_pruners: dict[str, Pruner] = {}


def pruner(name: str) -> Callable[[Pruner], Pruner]:
    """Register `function(now) -> DELETE statement` under `name`."""

    def register(function: Pruner) -> Pruner:
        _pruners[name] = function
        return function

    return register


async def prune(database: Database) -> dict[str, int]:
    """Run every registered pruner once; the rows each deleted, by name."""
    now = clock.now()
    counts: dict[str, int] = {}
    for name, function in sorted(_pruners.items()):
        async with database.unit_of_work() as db_session:
            result = await db_session.execute(function(now))
            counts[name] = max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    if any(counts.values()):
        async with database.unit_of_work() as db_session:
            audit.record(
                db_session,
                actor=audit.Actor.system(),
                action="Delete expired records",
                target_type="platform",
                details={name: count for name, count in counts.items() if count},
            )
    return counts


class Housekeeper:
    """Runs `prune` periodically until cancelled."""

    def __init__(self, database: Database, *, interval: float) -> None:
        self.database = database
        self.interval = interval

    async def run(self) -> None:
        """Prune forever; a failed round is logged and tried again at the next interval."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                counts = await prune(self.database)
                if any(counts.values()):
                    log.info("housekeeping: deleted %s", counts)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("housekeeping round failed")
