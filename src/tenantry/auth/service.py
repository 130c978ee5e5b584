"""Password sign-in with smart lockout, and opaque bearer tokens / web sessions.

`auth` owns sign-in state (the password once set: `auth.passwords`; lockout counts:
`auth.lockout`; tokens and sessions: here) and depends on `directory`, which owns the
users, never the reverse: the directory announces a blocked sign-in through
`directory.events`, and the handler below ends that user's sessions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Delete, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.auth import lockout
from tenantry.auth.models import AccessToken
from tenantry.core import audit, metrics
from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.errors import Forbidden, TenantryError, TooManyRequests
from tenantry.core.housekeeping import pruner
from tenantry.core.ratelimit import origin_of
from tenantry.core.security import new_token, token_digest, verify_password
from tenantry.directory import events as directory_events
from tenantry.directory import guests as directory_guests
from tenantry.directory import roles as directory_roles
from tenantry.directory.models import User
from tenantry.tenants.models import CLOSED, Tenant


class InvalidCredentials(TenantryError):
    status_code = 400
    code = "invalid_grant"
    keep_changes = True  # the counted failure and its audit event stay

    def __init__(self) -> None:
        super().__init__("The email address or password is incorrect.")


class AccountLocked(TooManyRequests):
    code = "accountLocked"
    keep_changes = True


class AccountDisabled(TenantryError):
    status_code = 400
    code = "accountDisabled"

    def __init__(self) -> None:
        super().__init__(
            "Your account has been blocked from signing in. Contact your administrator."
        )


class PasswordChangeRequired(Forbidden):
    code = "passwordChangeRequired"

    def __init__(self) -> None:
        super().__init__(
            "You signed in with a temporary password: choose your own password first "
            "(POST /v1/me/changePassword, or `tenantry login` again)."
        )


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


async def sign_in(
    *,
    database: Database,
    db_session: AsyncSession,
    settings: Settings,
    actor: audit.Actor,
    username: str,
    password: str,
) -> User:
    """`_sign_in`, with each refusal counted by its code for `/metrics`."""
    try:
        return await _sign_in(
            database=database,
            db_session=db_session,
            settings=settings,
            actor=actor,
            username=username,
            password=password,
        )
    except (InvalidCredentials, AccountLocked, AccountDisabled) as refused:
        metrics.SIGN_IN_FAILURES.labels(refused.code).inc()
        raise


async def _sign_in(
    *,
    database: Database,
    db_session: AsyncSession,
    settings: Settings,
    actor: audit.Actor,
    username: str,
    password: str,
) -> User:
    """The user whose address and password these are; failures count towards a smart lockout
    of the client's origin (and, past a higher count, of the account: auth/lockout.py).

    The password hash is checked before the caller's unit of work writes anything:
    the user and their standing are read in a read-only unit of work, so the slow
    hash never holds a write transaction (on SQLite, the database's one write lock).
    The outcome (a counted failure, the sign-in time) is then written in `db_session`.

    The user is the address's credential (`directory.guests.credential_for`): a member
    account, or the guest holding the password of an address that has none; a guest's
    own user name (`…#EXT#@…`) signs nobody in. Where the person acts comes next
    (`auth.tenancy`).
    """
    origin = origin_of(actor.client_address)
    async with database.unit_of_work(readonly=True) as reading:
        found = await directory_guests.credential_for(db_session=reading, address=username)
        standing = (
            None
            if found is None
            else await lockout.standing(db_session=reading, user_id=found.id, origin=origin)
        )
    if found is None or standing is None:
        await verify_password(None, password)  # as slow as a real check
        raise InvalidCredentials()
    if standing.retry_after is not None:
        raise AccountLocked(
            "Too many failed sign-ins: the account is locked for a while. Try again later.",
            retry_after=standing.retry_after,
        )
    password_ok = await verify_password(found.password_hash, password)
    user = await db_session.get(User, found.id)
    if user is None or user.password_hash != found.password_hash:
        raise InvalidCredentials()  # deleted, or its password changed, while the hash ran
    tenant = await db_session.get(Tenant, user.tenant_id)
    if not password_ok:
        locked = await lockout.count_failure(
            db_session=db_session,
            settings=settings,
            user_id=user.id,
            origin=origin,
            fingerprint=lockout.password_fingerprint(settings.signing_secret, user.id, password),
            recent=standing.recent_passwords,
        )
        audit.record(
            db_session,
            actor=actor,
            action="Sign-in failed",
            target_type="user",
            target_id=user.id,
            tenant_id=user.tenant_id,
            details={"locked": locked},
        )
        raise InvalidCredentials()
    if not user.account_enabled or tenant is None or tenant.state == CLOSED:
        # A guest holding its address's password, blocked by its own organization, still
        # signs the person in to the others that invited them (`auth.tenancy.choose`).
        elsewhere = directory_guests.is_invited_guest(user) and await directory_guests.accesses(
            db_session=db_session, person_id=user.id
        )
        if not elsewhere:
            raise AccountDisabled()
    if standing.failures_counted:
        await lockout.clear(db_session=db_session, user_id=user.id, origin=origin)
    user.last_sign_in_at = clock.now()
    await directory_guests.adopt(db_session=db_session, person=user)
    return user


async def issue(
    *,
    db_session: AsyncSession,
    user: User,
    kind: str,
    ttl_seconds: int,
    actor: audit.Actor,
    partner_account_id: uuid.UUID | None = None,
) -> IssuedToken:
    """A new bearer token (`API_TOKEN`) or web session (`WEB_SESSION`) for the user; only its
    digest is kept. `partner_account_id`: the partner account it acts for (the caller
    checked the user may)."""
    token = new_token()
    now = clock.now()
    db_session.add(
        AccessToken(
            digest=token_digest(token),
            user_id=user.id,
            tenant_id=user.tenant_id,
            kind=kind,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
            client_address=actor.client_address,
            partner_account_id=partner_account_id,
        )
    )
    details: dict[str, str] = {"kind": kind}
    if partner_account_id is not None:
        details["partnerAccountId"] = str(partner_account_id)
    audit.record(
        db_session,
        actor=audit.Actor(user.id, user.tenant_id, actor.client_address),
        action="Sign in",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        details=details,
    )
    return IssuedToken(token=token, expires_in=ttl_seconds)


@dataclass(frozen=True)
class Authenticated:
    """Who a token signs in: the user, their tenant and the admin roles they hold there."""

    user: User
    tenant: Tenant
    roles: frozenset[str]


async def authenticate(*, db_session: AsyncSession, token: str, kind: str) -> Authenticated | None:
    """The signed-in user, their tenant and roles for a token of that `kind` (a bearer token,
    `API_TOKEN`, or a web session, `WEB_SESSION`), or None when unknown, of the other kind,
    or expired. One statement: every request of a signed-in caller starts here."""
    row = (
        await db_session.execute(
            select(
                AccessToken.expires_at,
                User,
                Tenant,
                directory_roles.roles_column(User.tenant_id, User.id),
            )
            .join(User, User.id == AccessToken.user_id)
            .join(Tenant, Tenant.id == User.tenant_id)
            .where(AccessToken.digest == token_digest(token), AccessToken.kind == kind)
        )
    ).first()
    if row is None:
        return None
    expires_at, user, tenant, roles = row
    if not token_accepted(
        expires_at=expires_at, account_enabled=user.account_enabled, tenant_state=tenant.state
    ):
        return None
    return Authenticated(user, tenant, directory_roles.held_roles(roles))


async def partner_account_of(
    *, db_session: AsyncSession, token: str, kind: str
) -> uuid.UUID | None:
    """The partner account a token or session acts for, as stored (None: none chosen)."""
    return await db_session.scalar(
        select(AccessToken.partner_account_id).where(
            AccessToken.digest == token_digest(token), AccessToken.kind == kind
        )
    )


async def set_partner_account(
    *,
    db_session: AsyncSession,
    token: str,
    kind: str,
    partner_account_id: uuid.UUID | None,
    actor: audit.Actor,
) -> None:
    """Make a token or session act for another partner account (the caller checked the
    holder may), recorded as "Choose partner account"."""
    await db_session.execute(
        update(AccessToken)
        .where(AccessToken.digest == token_digest(token), AccessToken.kind == kind)
        .values(partner_account_id=partner_account_id)
    )
    audit.record(
        db_session,
        actor=actor,
        action="Choose partner account",
        target_type="user",
        target_id=actor.user_id,
        details={
            "kind": kind,
            "partnerAccountId": None if partner_account_id is None else str(partner_account_id),
        },
    )


def token_accepted(*, expires_at: datetime, account_enabled: bool, tenant_state: str) -> bool:
    """Whether a known token still signs its user in (also for hot paths reading raw rows)."""
    return expires_at > clock.now() and account_enabled and tenant_state != CLOSED


async def revoke(*, db_session: AsyncSession, token: str, kind: str, actor: audit.Actor) -> None:
    """Forget a token or session of that `kind` (sign-out), recorded as its holder's "Sign out".

    The holder is read from the token itself (a web sign-out has no principal);
    `actor` gives the client address. An unknown or already revoked token, or one
    of the other kind, changes nothing and records nothing.
    """
    revoked = (
        await db_session.execute(
            delete(AccessToken)
            .where(AccessToken.digest == token_digest(token), AccessToken.kind == kind)
            .returning(AccessToken.user_id, AccessToken.tenant_id, AccessToken.kind)
        )
    ).first()
    if revoked is None:
        return
    user_id, tenant_id, kind = revoked
    audit.record(
        db_session,
        actor=audit.Actor(user_id, tenant_id, actor.client_address),
        action="Sign out",
        target_type="user",
        target_id=user_id,
        tenant_id=tenant_id,
        details={"kind": kind},
    )


async def revoke_all(
    *,
    db_session: AsyncSession,
    user_id: uuid.UUID,
    keep_token: str | None = None,
    with_guests: bool = True,
) -> None:
    """Forget every token and session of a user (but `keep_token`, when given), and those the
    person holds as their guests in other tenants (`with_guests`)."""
    query = delete(AccessToken).where(AccessToken.user_id == user_id)
    if with_guests:
        guests = select(User.id).where(User.home_user_id == user_id)
        query = delete(AccessToken).where(
            or_(AccessToken.user_id == user_id, AccessToken.user_id.in_(guests))
        )
    if keep_token is not None:
        query = query.where(AccessToken.digest != token_digest(keep_token))
    await db_session.execute(query)


@directory_events.on_sign_in_blocked
async def _end_sessions_of_blocked_user(
    *, db_session: AsyncSession, actor: audit.Actor, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """A user blocked from signing in loses every token and session at once; a member's
    block also ends what they hold as guests elsewhere (their account is blocked), a
    guest's only its own tenant's."""
    user = await db_session.get(User, user_id)
    guest = user is not None and directory_guests.is_invited_guest(user)
    await revoke_all(db_session=db_session, user_id=user_id, with_guests=not guest)


KEPT_EXPIRED_TOKENS = timedelta(days=1)


@pruner("expiredTokens")
def prune_tokens(now: datetime) -> Delete:
    """Delete bearer tokens and web sessions a day after they expired."""
    return delete(AccessToken).where(AccessToken.expires_at < now - KEPT_EXPIRED_TOKENS)
