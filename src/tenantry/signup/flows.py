"""Completing a sign-up: the code is checked, then the person lands in their domain's tenant."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.security import code_digest, digests_match, hash_password
from tenantry.directory import users as directory_users
from tenantry.directory.models import User
from tenantry.domains import service as domain_service
from tenantry.domains.models import Domain
from tenantry.licensing import offers as licensing_offers
from tenantry.signup import service as signup_service
from tenantry.signup.exceptions import (
    CodeExpired,
    InvalidCode,
    SignupAlreadyCompleted,
    TooManyAttempts,
    WeakPassword,
)
from tenantry.signup.limits import limit_code_entries
from tenantry.signup.models import Signup
from tenantry.tenants.models import Tenant

T = TypeVar("T")


@dataclass(frozen=True)
class SignupResult:
    user: User
    tenant: Tenant
    created: bool  # False: the person already had an account and got the offer on it
    # The tenant's domains when this sign-up formed the tenant (None: read them).
    new_domains: list[Domain] | None = None


def check_password_strength(password: str, *, email: str) -> None:
    """Entra's rule: 8 to 256 characters, three of lower case, upper case, digits, symbols."""
    if not 8 <= len(password) <= 256:
        raise WeakPassword("Use a password of 8 to 256 characters.", target="password")
    classes = sum(
        bool(re.search(pattern, password))
        for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]")
    )
    if classes < 3:
        raise WeakPassword(
            "Use at least three of: lower-case letters, upper-case letters, digits and symbols.",
            target="password",
        )
    if email.split("@")[0].lower() in password.lower() and len(email.split("@")[0]) >= 3:
        raise WeakPassword("Your password cannot contain your user name.", target="password")


def code_matches(
    settings: Settings, signup: Signup | signup_service.CodeCheck | None, code: str
) -> bool:
    """Whether `code` is this sign-up's current code (an HMAC: cheap, constant-time)."""
    if signup is None:
        return False
    expected = code_digest(settings.signing_secret, str(signup.id), code.strip())
    return digests_match(expected, signup.code_digest)


async def hash_if_code_matches(
    settings: Settings,
    signup: Signup | signup_service.CodeCheck | None,
    code: str,
    password: str,
) -> str:
    """The password's argon2id hash, computed only for the right code.

    A wrong code gets an empty hash, which `verify` never uses: it counts the
    attempt and refuses first. So guessing codes costs no password hash.
    """
    if not code_matches(settings, signup, code):
        return ""
    return await hash_password(password)


def _check_code(settings: Settings, signup: Signup, code: str) -> None:
    if signup.status != signup_service.PENDING:
        raise SignupAlreadyCompleted()
    if signup.attempts >= settings.signup_code_max_attempts:
        raise TooManyAttempts(
            "Too many wrong codes. Ask for a new code.",
            retry_after=settings.signup_resend_interval_seconds,
        )
    if signup.expires_at <= clock.now():
        raise CodeExpired()
    if not code_matches(settings, signup, code):
        signup.attempts += 1
        remaining = settings.signup_code_max_attempts - signup.attempts
        raise InvalidCode(
            f"That code is not right. {remaining} attempt(s) left."
            if remaining
            else "That code is not right, and no attempts are left. Ask for a new code.",
            target="code",
            details={"attemptsRemaining": remaining},
        )


async def verify(
    *,
    db_session: AsyncSession,
    settings: Settings,
    catalog: Catalog,
    actor: audit.Actor,
    signup_id: uuid.UUID,
    code: str,
    password_hash: str,
    attempt: int = 0,
) -> SignupResult:
    """Accept the code, then join (or form) the domain's tenant and start the offer.

    `password_hash` is computed by the caller before the unit of work begins, so
    that the slow hash never holds a database lock. Every code entered counts
    against its network's hourly limit; a wrong code's count and attempt are kept
    (`InvalidCode` keeps the unit of work's changes).

    Races are settled by unique indexes: when another sign-up forms the same tenant
    or creates the same user at the same moment, this unit of work fails with
    IntegrityError, and its next `attempt` (see `complete`) joins what the winner made.
    """
    await limit_code_entries(db_session, settings, actor.client_address)
    signup, account_id = await signup_service.lock_with_account(
        db_session=db_session, signup_id=signup_id
    )
    _check_code(settings, signup, code)
    now = clock.now()
    user = None if account_id is None else await db_session.get(User, account_id)
    created = user is None
    new_domains = None
    if user is None:
        owner = await domain_service.find_owner(db_session=db_session, name=signup.domain)
        if owner is None:
            owner = domain_service.create_unmanaged_tenant(
                db_session=db_session,
                name=signup.domain,
                initial_suffix=settings.initial_domain_suffix,
                attempt=attempt,
            )
            new_domains = owner.created_domains
        # The tenant's policy may have changed since the code was sent.
        signup_service.ensure_tenant_accepts(
            owner.tenant, managed=owner.managed, domain=signup.domain
        )
        tenant = owner.tenant
        user = await directory_users.create(
            db_session=db_session,
            actor=actor,
            tenant_id=tenant.id,
            principal_name=signup.email,
            display_name=signup.display_name,
            password_hash=password_hash,
            preferred_language=signup.language,
            known_new=True,
            new_tenant=new_domains is not None,
        )
    else:
        tenant = await db_session.get(Tenant, user.tenant_id)
        assert tenant is not None
        # Already a member: only the self-service offer setting applies.
        signup_service.ensure_tenant_accepts(tenant, managed=False, domain=signup.domain)
    tenant_actor = audit.Actor(user.id, tenant.id, actor.client_address)
    await licensing_offers.add_offer(
        db_session=db_session,
        actor=tenant_actor,
        tenant_id=tenant.id,
        user_id=user.id,
        offer=signup.offer,
        new_user=created,
    )
    signup.status = signup_service.COMPLETED
    signup.completed_at = now
    signup.user_id = user.id
    audit.record(
        db_session,
        actor=tenant_actor,
        action="Complete sign-up",
        target_type="user",
        target_id=user.id,
        tenant_id=tenant.id,
        details={"email": signup.email, "offer": signup.offer, "newAccount": created},
    )
    return SignupResult(user=user, tenant=tenant, created=created, new_domains=new_domains)


async def complete(
    *,
    database: Database,
    settings: Settings,
    catalog: Catalog,
    actor: audit.Actor,
    signup_id: uuid.UUID,
    code: str,
    password_hash: str,
    then: Callable[[AsyncSession, SignupResult], Awaitable[T]],
) -> tuple[SignupResult, T]:
    """`verify` in its own unit of work, run again when it loses a race (IntegrityError),
    followed in the same unit of work by `then` (the answer's reads, a web session)."""
    async for attempt in database.attempts(retry_on=IntegrityError):
        async with attempt as db_session:
            result = await verify(
                db_session=db_session,
                settings=settings,
                catalog=catalog,
                actor=actor,
                signup_id=signup_id,
                code=code,
                password_hash=password_hash,
                attempt=attempt.number,
            )
            extra = await then(db_session, result)
    return result, extra
