"""Verifying a domain of a managed tenant, including the external takeover of an unmanaged one.

Entra's `availabilityStatus` tells which happened: `AvailableImmediately`, or
`EmailVerifiedDomainTakeoverScheduled` when the domain belonged to an unmanaged
(email-verified) tenant. Tenantry carries the takeover out at once, in the same
transaction as the verification: the unmanaged tenant's users, their
self-service offers and licenses move to the managed tenant (same id, address
and password, so every sign-in keeps working) and the unmanaged tenant is
closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.dns import TxtLookup
from tenantry.directory import transfer
from tenantry.directory.models import User
from tenantry.domains import messaging
from tenantry.domains import service as domain_service
from tenantry.domains.exceptions import DomainAlreadyVerified, VerificationRecordNotFound
from tenantry.domains.models import Domain
from tenantry.licensing import transfer as licensing_transfer
from tenantry.tenants import service as tenant_service
from tenantry.tenants.models import CLOSED, UNMANAGED, Tenant

AVAILABLE_IMMEDIATELY = "AvailableImmediately"
TAKEOVER = "EmailVerifiedDomainTakeoverScheduled"


@dataclass
class VerifyResult:
    domain: Domain
    availability_status: str
    moved_users: list[User] = field(default_factory=list)
    closed_tenant: Tenant | None = None


def check_record(domain: Domain, lookup: TxtLookup) -> None:
    """Refuse (retryably) when the TXT record is not published yet."""
    text = domain_service.verification_text(domain)
    if not lookup.contains(text):
        raise VerificationRecordNotFound(domain.name, text)


async def take_over(
    *, db_session: AsyncSession, actor: audit.Actor, unmanaged: Tenant, managed: Tenant, domain: str
) -> list[User]:
    """Move an unmanaged tenant's people into a managed tenant and close it."""
    locked = await tenant_service.get_for_update(db_session=db_session, tenant_id=unmanaged.id)
    if locked.state != UNMANAGED:
        # Its own candidate became the admin while we waited for the lock: the domain is
        # now verified in a managed organization, which nobody takes over.
        raise DomainAlreadyVerified(domain)
    await domain_service.close_tenant_domains(db_session=db_session, tenant_id=locked.id)
    await licensing_transfer.move_tenant(
        db_session=db_session, from_tenant_id=locked.id, to_tenant_id=managed.id
    )
    users = await transfer.move_tenant_users(
        db_session=db_session, from_tenant_id=locked.id, to_tenant_id=managed.id
    )
    locked.state = CLOSED
    locked.closed_at = clock.now()
    locked.merged_into_id = managed.id
    for user in users:
        messaging.send_moved(db_session=db_session, user=user, tenant=managed, domain=domain)
    audit.record(
        db_session,
        actor=actor,
        action="Take over unmanaged tenant",
        target_type="tenant",
        target_id=locked.id,
        tenant_id=managed.id,
        details={"domain": domain, "movedUsers": len(users)},
    )
    audit.record(
        db_session,
        actor=actor,
        action="Close tenant (taken over)",
        target_type="tenant",
        target_id=locked.id,
        tenant_id=locked.id,
        details={"mergedInto": str(managed.id), "domain": domain},
    )
    return users


async def verify(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant: Tenant,
    name: str,
    lookup: TxtLookup,
) -> VerifyResult:
    """Verify a domain whose TXT record was looked up by the caller (outside the transaction).

    Refused (`DomainAlreadyVerified`, naming nothing of the other organization) when
    another tenant verified it or a parent of it, or another managed tenant a
    subdomain of it (`domain_service.verified_elsewhere`, under the root's lock).
    """
    domain = await domain_service.get(db_session=db_session, tenant_id=tenant.id, name=name)
    if domain.is_verified:
        return VerifyResult(domain=domain, availability_status=AVAILABLE_IMMEDIATELY)
    check_record(domain, lookup)
    await domain_service.lock_root(db_session=db_session, name=domain.name)
    # Read again as the last verification under this root left it.
    domain = await domain_service.get(
        db_session=db_session, tenant_id=tenant.id, name=domain.name, fresh=True
    )
    if domain.is_verified:
        return VerifyResult(domain=domain, availability_status=AVAILABLE_IMMEDIATELY)
    if await domain_service.verified_elsewhere(
        db_session=db_session, tenant_id=tenant.id, name=domain.name
    ):
        raise DomainAlreadyVerified(domain.name)
    holder = await domain_service.viral_holder(
        db_session=db_session, tenant_id=tenant.id, name=domain.name
    )
    moved: list[User] = []
    if holder is not None:
        moved = await take_over(
            db_session=db_session, actor=actor, unmanaged=holder, managed=tenant, domain=domain.name
        )
    await domain_service.mark_verified(db_session=db_session, actor=actor, domain=domain)
    return VerifyResult(
        domain=domain,
        availability_status=TAKEOVER if holder is not None else AVAILABLE_IMMEDIATELY,
        moved_users=moved,
        closed_tenant=holder,
    )
