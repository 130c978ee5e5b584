"""Starting a sign-up: checks, the one-time code and its resending."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Delete, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.hotread import HotReader, HotReadError
from tenantry.core.housekeeping import pruner
from tenantry.core.security import code_digest, new_code
from tenantry.directory import users as directory_users
from tenantry.directory.models import User
from tenantry.domains import service as domain_service
from tenantry.signup import messaging, policy
from tenantry.signup.exceptions import (
    DomainManagedByAdministrator,
    ResendThrottled,
    SelfServiceDisabled,
    SignupAlreadyCompleted,
    SignupNotFound,
    UnknownOffer,
)
from tenantry.signup.models import Signup
from tenantry.tenants.models import Tenant

PENDING = "pending"
COMPLETED = "completed"

MANAGED_DOMAIN_MESSAGE = (
    "Your organization's administrator manages the accounts for {domain}. "
    "Ask your administrator to add you."
)
SELF_SERVICE_DISABLED_MESSAGE = (
    "Your organization does not allow people to sign up for offers themselves. "
    "Ask your administrator."
)


def ensure_tenant_accepts(tenant: Tenant, *, managed: bool, domain: str) -> None:
    """Refuse when the tenant that holds the domain does not let people sign up themselves."""
    if managed and not tenant.allow_email_verified_users_to_join:
        raise DomainManagedByAdministrator(
            MANAGED_DOMAIN_MESSAGE.format(domain=domain), target="email"
        )
    if not tenant.allowed_to_sign_up_email_based_subscriptions:
        raise SelfServiceDisabled(SELF_SERVICE_DISABLED_MESSAGE, target="email")


def _issue_code(settings: Settings, signup: Signup) -> str:
    code = new_code()
    signup.code_digest = code_digest(settings.signing_secret, str(signup.id), code)
    return code


async def start(
    *,
    db_session: AsyncSession,
    settings: Settings,
    catalog: Catalog,
    actor: audit.Actor,
    email: str,
    display_name: str,
    offer: str | None,
    language: str,
) -> Signup:
    """Check the address, then email a one-time code; nothing else is created until it is used."""
    work_email = policy.check(email, extra_consumer_file=settings.consumer_domains_file)
    directory_users.check_person_name(display_name, field="displayName")
    chosen_offer = catalog.offer(offer) if offer else catalog.default_offer
    if chosen_offer is None:
        raise UnknownOffer(f"There is no self-service offer named {offer}.", target="offer")
    owner = await domain_service.find_owner(db_session=db_session, name=work_email.domain)
    if owner is not None:
        ensure_tenant_accepts(owner.tenant, managed=owner.managed, domain=work_email.domain)
    now = clock.now()
    signup = Signup(
        id=uuid.uuid4(),
        email=work_email.address,
        domain=work_email.domain,
        display_name=display_name.strip(),
        offer=chosen_offer.part_number,
        language=language,
        code_digest="",
        status=PENDING,
        attempts=0,
        sends=1,
        last_sent_at=now,
        expires_at=now + timedelta(seconds=settings.signup_code_ttl_seconds),
        created_at=now,
    )
    code = _issue_code(settings, signup)
    db_session.add(signup)
    messaging.send_code(
        db_session=db_session,
        signup=signup,
        code=code,
        minutes=settings.signup_code_ttl_seconds // 60,
    )
    audit.record(
        db_session,
        actor=actor,
        action="Start sign-up",
        target_type="signup",
        target_id=signup.id,
        tenant_id=owner.tenant.id if owner else None,
        details={"email": work_email.address, "offer": chosen_offer.part_number},
    )
    return signup


async def get_for_update(*, db_session: AsyncSession, signup_id: uuid.UUID) -> Signup:
    """A sign-up, its row locked so that concurrent code entries count one by one."""
    signup = (
        await db_session.scalars(
            select(Signup)
            .where(Signup.id == signup_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if signup is None:
        raise SignupNotFound()
    return signup


async def lock_with_account(
    *, db_session: AsyncSession, signup_id: uuid.UUID
) -> tuple[Signup, uuid.UUID | None]:
    """A sign-up locked as `get_for_update` does, and in the same statement the id of the
    account that already has its address (None: a new person)."""
    row = (
        await db_session.execute(
            select(Signup, User.id)
            .outerjoin(User, User.user_principal_name == Signup.email)
            .where(Signup.id == signup_id)
            .with_for_update(of=Signup)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        raise SignupNotFound()
    return row[0], row[1]


async def resend(
    *, db_session: AsyncSession, settings: Settings, actor: audit.Actor, signup_id: uuid.UUID
) -> Signup:
    """A new code for a pending sign-up, at most once a minute and a few times in all."""
    signup = await get_for_update(db_session=db_session, signup_id=signup_id)
    if signup.status != PENDING:
        raise SignupAlreadyCompleted()
    now = clock.now()
    wait = settings.signup_resend_interval_seconds - (now - signup.last_sent_at).total_seconds()
    if wait > 0:
        raise ResendThrottled(
            "A code was sent a moment ago. Wait a little before asking for another one.",
            retry_after=int(wait) + 1,
        )
    if signup.sends >= settings.signup_max_sends:
        raise ResendThrottled(
            "Too many codes were sent for this sign-up. Start again later.",
            retry_after=settings.signup_code_ttl_seconds,
        )
    code = _issue_code(settings, signup)
    signup.sends += 1
    signup.attempts = 0
    signup.last_sent_at = now
    signup.expires_at = now + timedelta(seconds=settings.signup_code_ttl_seconds)
    messaging.send_code(
        db_session=db_session,
        signup=signup,
        code=code,
        minutes=settings.signup_code_ttl_seconds // 60,
    )
    audit.record(
        db_session,
        actor=actor,
        action="Resend sign-up code",
        target_type="signup",
        target_id=signup.id,
        details={"email": signup.email},
    )
    return signup


@dataclass(frozen=True)
class CodeCheck:
    """What checking a code needs before any transaction: the sign-up's address and digest."""

    id: uuid.UUID
    email: str
    code_digest: str


async def read_code_check(
    *, database: Database, reader: HotReader, signup_id: uuid.UUID
) -> CodeCheck | None:
    """A sign-up's address and code digest, read without a transaction (None: no such sign-up).

    One indexed read on the raw driver connection when it can (`core.hotread`),
    else through an ordinary read-only unit of work.
    """
    if reader.available:
        try:
            rows = await reader.fetch_all(
                "SELECT email, code_digest FROM signups WHERE id = :id",
                {"id": reader.uuid_param(signup_id)},
            )
        except HotReadError:
            pass
        else:
            return CodeCheck(signup_id, rows[0][0], rows[0][1]) if rows else None
    async with database.unit_of_work(readonly=True) as db_session:
        signup = await db_session.get(Signup, signup_id)
    return None if signup is None else CodeCheck(signup.id, signup.email, signup.code_digest)


KEPT_ABANDONED = timedelta(days=7)


@pruner("abandonedSignups")
def prune_abandoned(now: datetime) -> Delete:
    """Delete sign-ups never completed, a week after their code expired (their address and
    name are kept no longer than that); completed ones stay with their account."""
    return delete(Signup).where(Signup.status == PENDING, Signup.expires_at < now - KEPT_ABANDONED)
