"""Rate limits on sign-up, shared by the API and the web pages (kept in the database)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import ratelimit
from tenantry.core.config import Settings
from tenantry.core.db import Database


async def limit_signups(database: Database, settings: Settings, client_address: str | None) -> None:
    """Throttle sign-up starts per client address, an IPv6 /64 as one (429 past the limit)."""
    await ratelimit.hit(
        database,
        key=ratelimit.per_origin("signup", client_address),
        limit=settings.signup_rate_per_hour,
        window_seconds=3600,
        message="Too many sign-ups from your network. Try again later.",
    )


async def limit_code_entries(
    db_session: AsyncSession, settings: Settings, client_address: str | None
) -> None:
    """Throttle codes entered per client address (429 past the limit), counted in the
    verify's own unit of work: a wrong code's count is kept with its attempt."""
    window = await ratelimit.count(
        db_session, key=ratelimit.per_origin("verify", client_address), window_seconds=3600
    )
    window.check(
        limit=settings.signup_rate_per_hour * 5,
        message="Too many codes entered from your network. Try again later.",
    )
