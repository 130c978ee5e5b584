"""Rate limits on sign-in and password changes, shared by the API and the pages (in the database).

A password change checks the current password, so it is a way to guess one:
it counts on the sign-in bucket of the client address (guesses through either
route add up) and on a bucket of its own per user (a session used from many
addresses is still throttled).
"""

from __future__ import annotations

import uuid

from tenantry.core import ratelimit
from tenantry.core.config import Settings
from tenantry.core.db import Database


async def limit_sign_ins(
    database: Database, settings: Settings, client_address: str | None
) -> None:
    """Throttle sign-in attempts per client address, an IPv6 /64 as one (429 past the limit)."""
    await ratelimit.hit(
        database,
        key=ratelimit.per_origin("signin", client_address),
        limit=settings.signin_rate_per_minute,
        window_seconds=60,
        message="Too many sign-in attempts from your network. Wait a minute.",
    )


async def limit_password_changes(
    database: Database, settings: Settings, client_address: str | None, user_id: uuid.UUID
) -> None:
    """Throttle password changes with the sign-in limit, per client address and per user."""
    await limit_sign_ins(database, settings, client_address)
    await ratelimit.hit(
        database,
        key=f"password:{user_id}",
        limit=settings.signin_rate_per_minute,
        window_seconds=60,
        message="Too many attempts to change your password. Wait a minute.",
    )
