"""Timed licensing work: subscription lifecycles, expired idempotency keys, and the emails
that announce a free offer's step down.

`tick` does one round; `LifecycleWorker` runs it every `lifecycle_interval_seconds`
in each `tenantry serve` process (safe in parallel: due subscriptions are claimed
with SKIP LOCKED and every transition is conditional), and `tenantry
subscription tick` runs it once from cron or by hand.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tenantry.catalog import Catalog
from tenantry.core import idempotency
from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.licensing import offer_notices
from tenantry.licensing import subscriptions as licensing_subscriptions

log = logging.getLogger("tenantry.licensing")


async def tick(database: Database, catalog: Catalog, settings: Settings) -> dict[str, Any]:
    """Move every due subscription along its lifecycle, purge old idempotency keys, and tell
    people whose free offer steps down soon (`offer_notices`)."""
    async with database.unit_of_work() as db_session:
        transitions = await licensing_subscriptions.advance_lifecycles(
            db_session=db_session, catalog=catalog
        )
        purged = await idempotency.purge_expired(db_session=db_session)
    async with database.unit_of_work() as db_session:
        notices = await offer_notices.send_step_down_notices(
            db_session, catalog=catalog, settings=settings, now=clock.now()
        )
    return {
        "transitions": transitions,
        "purgedIdempotencyKeys": purged,
        "offerStepDownNotices": notices,
    }


class LifecycleWorker:
    """Runs `tick` periodically until cancelled."""

    def __init__(
        self, database: Database, catalog: Catalog, settings: Settings, *, interval: float
    ) -> None:
        self.database = database
        self.catalog = catalog
        self.settings = settings
        self.interval = interval

    async def run(self) -> None:
        """Tick forever; a failed round is logged and retried at the next interval."""
        while True:
            try:
                result = await tick(self.database, self.catalog, self.settings)
                if result["transitions"]:
                    log.info("subscription lifecycle: %d transitions", len(result["transitions"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("subscription lifecycle round failed")
            await asyncio.sleep(self.interval)
