"""Smart lockout: failed sign-ins counted per user and origin, with an account-wide backstop.

As Entra ID's smart lockout, a lockout shuts out whoever is guessing, not the
person whose address they know: failures are counted per (user, origin), where
the origin is the client address the server sees (IPv6 reduced to its /64,
which one party usually holds whole: `core.ratelimit.origin_of`, as every
per-address rate limit counts it). After `lockout_threshold` failures from
one origin, that origin is locked for `lockout_seconds`; every further failure
from it once the lock has ended locks it again, each time for twice as long (at
most 24 hours). Signing in from that origin clears its count. The user signing
in from elsewhere is not affected. As in Entra, the same wrong password entered
again is not counted: each origin keeps keyed hashes of its last three wrong
passwords (`password_fingerprint`), so a person retrying a typo does not lock
themselves out, while a guesser's different passwords all count.

Guesses spread over many origins are caught by a second, higher count of every
origin's failures together (origin "*"): `lockout_account_threshold` failures,
each within `lockout_seconds` of the one before, lock the account everywhere
for `lockout_seconds`. That count is not cleared by signing in; it lapses
after `lockout_seconds` without a failure.

Counts are kept by the database: an upsert (`INSERT … ON CONFLICT DO UPDATE`)
adds each failure, so concurrent failures are never lost, and the row it
touches stays locked (PostgreSQL) or the database does (SQLite) until the
caller's unit of work commits, so deciding on a lockout afterwards sees a
count no one else is changing.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Delete, case, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.auth.models import SignInLockout
from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.housekeeping import pruner
from tenantry.core.security import code_digest

ACCOUNT_WIDE = "*"
LONGEST_LOCKOUT = timedelta(hours=24)
KEPT_COUNTS = timedelta(days=7)  # a quiet week forgets an origin's failures and lockouts
RECENT_PASSWORDS = 3  # wrong passwords remembered per origin (not counted twice)


@dataclass(frozen=True)
class Standing:
    """A user's lockout state seen from one origin, read before the password is checked."""

    retry_after: int | None  # seconds until sign-in from there is allowed again; None: now
    failures_counted: bool  # failures from that origin are counted (to clear on success)
    recent_passwords: tuple[str, ...] = ()  # fingerprints of its last wrong passwords


async def standing(*, db_session: AsyncSession, user_id: uuid.UUID, origin: str) -> Standing:
    """Whether the user may try to sign in from `origin` now."""
    now = clock.now()
    rows = (
        await db_session.execute(
            select(
                SignInLockout.origin, SignInLockout.locked_until, SignInLockout.recent_passwords
            ).where(
                SignInLockout.user_id == user_id,
                SignInLockout.origin.in_((origin, ACCOUNT_WIDE)),
            )
        )
    ).all()
    ends = [locked_until for _, locked_until, _ in rows if locked_until and locked_until > now]
    recent = next((r for row_origin, _, r in rows if row_origin == origin), None)
    return Standing(
        # Rounded up: a client that waits exactly Retry-After finds the lock over.
        retry_after=math.ceil((max(ends) - now).total_seconds()) if ends else None,
        failures_counted=any(row_origin == origin for row_origin, _, _ in rows),
        recent_passwords=tuple((recent or "").split()),
    )


def password_fingerprint(secret: bytes, user_id: uuid.UUID, password: str) -> str:
    """A keyed hash of a wrong password (64 bits, bound to the user): enough to recognise
    it again, useless for guessing it without the server's secret key."""
    return code_digest(secret, f"wrong-password:{user_id}", password)[:16]


async def count_failure(
    *,
    db_session: AsyncSession,
    settings: Settings,
    user_id: uuid.UUID,
    origin: str,
    fingerprint: str,
    recent: tuple[str, ...] = (),
) -> bool:
    """Count a wrong password from `origin` unless it is one of `recent` (the origin's last
    wrong passwords, from `standing`); whether it locked that origin or the account."""
    if fingerprint in recent:
        return False
    remembered = " ".join((*recent, fingerprint)[-RECENT_PASSWORDS:])
    now = clock.now()
    insert = pg_insert if db_session.get_bind().dialect.name == "postgresql" else sqlite_insert
    window = timedelta(seconds=settings.lockout_seconds)

    failures, lockouts, locked_until = (
        await db_session.execute(
            insert(SignInLockout)
            .values(
                user_id=user_id,
                origin=origin,
                failures=1,
                lockouts=0,
                locked_until=None,
                updated_at=now,
                recent_passwords=remembered,
            )
            .on_conflict_do_update(
                index_elements=["user_id", "origin"],
                set_={
                    "failures": SignInLockout.failures + 1,
                    "updated_at": now,
                    "recent_passwords": remembered,
                },
            )
            .returning(SignInLockout.failures, SignInLockout.lockouts, SignInLockout.locked_until)
        )
    ).one()
    # A failure that started before the origin was locked does not lock it again.
    origin_locked = failures >= settings.lockout_threshold and not _locked(locked_until, now)
    if origin_locked:
        await _lock(
            db_session,
            user_id=user_id,
            origin=origin,
            until=now + _lockout_duration(window, lockouts),
        )

    account_failures, account_locked_until = (
        await db_session.execute(
            insert(SignInLockout)
            .values(
                user_id=user_id,
                origin=ACCOUNT_WIDE,
                failures=1,
                lockouts=0,
                locked_until=None,
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=["user_id", "origin"],
                set_={
                    # The count lapses after a whole window without a failure.
                    "failures": case(
                        (SignInLockout.updated_at > now - window, SignInLockout.failures + 1),
                        else_=1,
                    ),
                    "updated_at": now,
                },
            )
            .returning(SignInLockout.failures, SignInLockout.locked_until)
        )
    ).one()
    account_locked = account_failures >= settings.lockout_account_threshold and not _locked(
        account_locked_until, now
    )
    if account_locked:
        await _lock(
            db_session, user_id=user_id, origin=ACCOUNT_WIDE, until=now + window, recount=True
        )
    return origin_locked or account_locked


async def clear(*, db_session: AsyncSession, user_id: uuid.UUID, origin: str | None = None) -> None:
    """Forget the user's failures from `origin`, or every count and lockout when no origin."""
    query = delete(SignInLockout).where(SignInLockout.user_id == user_id)
    if origin is not None:
        query = query.where(SignInLockout.origin == origin)
    await db_session.execute(query)


def _locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


def _lockout_duration(first: timedelta, earlier_lockouts: int) -> timedelta:
    """The first lockout's length, doubled for each earlier one, at most 24 hours (or the
    first length, if an operator set it longer)."""
    longest = max(first, LONGEST_LOCKOUT)
    return min(first * 2 ** min(earlier_lockouts, 32), longest)


async def _lock(
    db_session: AsyncSession,
    *,
    user_id: uuid.UUID,
    origin: str,
    until: datetime,
    recount: bool = False,
) -> None:
    values: dict[str, object] = {"locked_until": until, "lockouts": SignInLockout.lockouts + 1}
    if recount:
        values["failures"] = 0
    await db_session.execute(
        update(SignInLockout)
        .where(SignInLockout.user_id == user_id, SignInLockout.origin == origin)
        .values(values)
    )


@pruner("signInLockouts")
def prune_counts(now: datetime) -> Delete:
    """Forget failures and lockouts (and the doubling they carry) after a quiet week."""
    return delete(SignInLockout).where(
        SignInLockout.updated_at < now - KEPT_COUNTS,
        (SignInLockout.locked_until.is_(None)) | (SignInLockout.locked_until < now),
    )
