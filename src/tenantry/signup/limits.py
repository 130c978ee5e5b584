"""Rate limits on sign-up, shared by the API and the web pages (kept in the database)."""

from __future__ import annotations

from tenantry.core import ratelimit
from tenantry.core.config import Settings
from tenantry.core.db import Database


async def limit_signups(database: Database, settings: Settings, client_address: str | None) -> None:
    """Throttle sign-up starts per client address (429 past the limit)."""
    await ratelimit.hit(
        database,
        key=f"signup:{client_address}",
        limit=settings.signup_rate_per_hour,
        window_seconds=3600,
        message="Too many sign-ups from your network. Try again later.",
    )
