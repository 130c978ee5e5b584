"""Rate limits on sign-in, shared by the API and the web pages (kept in the database)."""

from __future__ import annotations

from tenantry.core import ratelimit
from tenantry.core.config import Settings
from tenantry.core.db import Database


async def limit_sign_ins(
    database: Database, settings: Settings, client_address: str | None
) -> None:
    """Throttle sign-in attempts per client address (429 past the limit)."""
    await ratelimit.hit(
        database,
        key=f"signin:{client_address}",
        limit=settings.signin_rate_per_minute,
        window_seconds=60,
        message="Too many sign-in attempts from your network. Wait a minute.",
    )
