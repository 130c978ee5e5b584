"""Fixed-window rate limits kept in the database, so every process shares them; the origin
that per-address limits (and smart lockout) count a request under."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Delete, Index, String, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.clock import clock
from tenantry.core.db import Base, Database
from tenantry.core.errors import TooManyRequests
from tenantry.core.housekeeping import pruner

UNKNOWN_ORIGIN = "unknown"


def origin_of(client_address: str | None) -> str:
    """Where a request comes from: the IPv4 address, or the /64 network of an IPv6 one.

    One party usually holds a whole IPv6 /64 (2^64 addresses): counted one by one,
    its addresses would never meet a limit.
    """
    try:
        address = ipaddress.ip_address(client_address or "")
    except ValueError:
        return UNKNOWN_ORIGIN  # no address (or not an IP): such requests share one origin
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def per_origin(scope: str, client_address: str | None) -> str:
    """The key of a per-address limit named `scope`: one count per origin (`origin_of`)."""
    return f"{scope}:{origin_of(client_address)}"


class RateLimitBucket(Base):
    __tablename__ = "rate_limit_buckets"
    # Housekeeping deletes old windows; the primary key leads with the key.
    __table_args__ = (Index("ix_rate_limit_buckets_window_start", "window_start"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    hits: Mapped[int]


@dataclass(frozen=True)
class Window:
    """The hits counted on a key in its current window, and when that window ends."""

    hits: int
    retry_after: int

    def check(self, *, limit: int, message: str) -> None:
        """Refuse with 429 once more than `limit` hits fall in the window."""
        if self.hits > limit:
            raise TooManyRequests(message, retry_after=self.retry_after)


async def count(db_session: AsyncSession, *, key: str, window_seconds: int) -> Window:
    """Count one hit on `key` in the caller's unit of work (which must commit it even when
    the request then fails, so that failed requests count too)."""
    now = clock.now()
    epoch = int(now.timestamp())
    window_start = datetime.fromtimestamp(epoch - epoch % window_seconds, tz=now.tzinfo)
    postgresql = db_session.get_bind().dialect.name == "postgresql"
    insert = pg_insert if postgresql else sqlite_insert
    statement = (
        insert(RateLimitBucket)
        .values(key=key, window_start=window_start, hits=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"],
            set_={"hits": RateLimitBucket.hits + 1},
        )
        .returning(RateLimitBucket.hits)
    )
    hits = (await db_session.execute(statement)).scalar_one()
    return Window(hits=hits, retry_after=window_seconds - (epoch - int(window_start.timestamp())))


async def hit(
    database: Database, *, key: str, limit: int, window_seconds: int, message: str
) -> None:
    """Count one hit on `key`; refuse with 429 once `limit` hits fall in the current window.

    The counter is committed in its own transaction so that failed requests count too.
    """
    async with database.unit_of_work() as db_session:
        window = await count(db_session, key=key, window_seconds=window_seconds)
    window.check(limit=limit, message=message)


KEPT_WINDOWS = timedelta(days=1)  # longer than any window in use (an hour at most)


@pruner("rateLimitWindows")
def prune_windows(now: datetime) -> Delete:
    """Forget the counts of windows that ended a day ago or more."""
    return delete(RateLimitBucket).where(RateLimitBucket.window_start < now - KEPT_WINDOWS)
