"""Become the admin: the internal takeover of an unmanaged tenant, in seed 002's four steps.

1. signed up (the candidate is a member of the unmanaged tenant);
2. run the wizard (`start`, from the admin or the upgrade entry point);
3. confirm domain ownership (`verify`: the TXT record is looked up in DNS);
4. buy licenses (`complete`): one transaction makes the tenant managed, the
   candidate Global Administrator, the domain verified, buys the subscription,
   gives every signed-up member a license of it, carries their self-service
   offers over, and writes the emails and audit events.

Until step 4 the candidate can manage nothing. Two candidates racing: the
tenant row is locked (SQLite: the write lock) and the verified-name unique
index settles a race with another tenant, so exactly one wins. The domain must
not be another organization's by the subdomain rule either (a parent verified
elsewhere): step 4 takes the lock of its registrable domain first, as every
verification does, and checks under it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog, Sku
from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.dns import TxtLookup
from tenantry.directory import roles as directory_roles
from tenantry.directory import users as directory_users
from tenantry.directory.constants import Role
from tenantry.directory.models import User
from tenantry.domains import flows as domain_flows
from tenantry.domains import service as domain_service
from tenantry.domains.exceptions import DomainAlreadyVerified
from tenantry.domains.models import Domain
from tenantry.licensing import assignments as licensing_assignments
from tenantry.licensing import offers as licensing_offers
from tenantry.licensing import subscriptions as licensing_subscriptions
from tenantry.licensing import transfer as licensing_transfer
from tenantry.tenants import messaging
from tenantry.tenants import service as tenant_service
from tenantry.tenants.exceptions import (
    BecomeAdminNotStarted,
    DomainVerificationRequired,
    InsufficientLicenses,
    InvalidEntryPoint,
    OfferNotAvailable,
    TenantAlreadyManaged,
)
from tenantry.tenants.models import MANAGED, UNMANAGED, AdminClaim, Tenant

ENTRY_POINTS = ("admin", "upgrade")


def completion_scope(user_id: uuid.UUID) -> str:
    """The idempotency scope of a candidate's purchase: two candidates never share an answer."""
    return f"becomeAdmin/complete:{user_id}"


STARTED, VERIFIED, COMPLETED = "started", "verified", "completed"


@dataclass(frozen=True)
class WizardState:
    tenant: Tenant
    claim: AdminClaim
    domain: Domain
    offers: list[Sku]
    minimum_licenses: int

    def view(self) -> dict[str, Any]:
        """The JSON of the wizard's state."""
        status = self.claim.status
        return {
            "tenantId": str(self.tenant.id),
            "status": status,
            "entryPoint": self.claim.entry_point,
            "domain": self.domain.name,
            "verificationDnsRecords": [domain_service.verification_record(self.domain)],
            "offers": [
                {
                    "skuId": str(sku.sku_id),
                    "skuPartNumber": sku.part_number,
                    "displayName": sku.display_name,
                }
                for sku in self.offers
            ],
            "minimumLicenses": self.minimum_licenses,
            "steps": [
                {"step": 1, "name": "signedUp", "done": True},
                {"step": 2, "name": "runWizard", "done": True},
                {"step": 3, "name": "confirmDomain", "done": status in (VERIFIED, COMPLETED)},
                {"step": 4, "name": "buyLicenses", "done": status == COMPLETED},
            ],
        }


def offers_for(catalog: Catalog, entry_point: str) -> list[Sku]:
    """The plans a candidate may buy from this entry point (catalog `upgradePaths`)."""
    part_numbers = catalog.upgrade_paths.get(entry_point) or tuple(catalog.skus)
    return [sku for p in part_numbers if (sku := catalog.sku(p)) is not None]


async def _state(
    db_session: AsyncSession, catalog: Catalog, tenant: Tenant, claim: AdminClaim
) -> WizardState:
    domain = await domain_service.get(
        db_session=db_session, tenant_id=tenant.id, name=claim.domain_name
    )
    members = await licensing_transfer.signed_up_user_ids(
        db_session=db_session, tenant_id=tenant.id
    )
    return WizardState(
        tenant=tenant,
        claim=claim,
        domain=domain,
        offers=offers_for(catalog, claim.entry_point),
        minimum_licenses=max(1, len(members)),
    )


async def _viral_domain(db_session: AsyncSession, tenant: Tenant) -> Domain:
    domains = await domain_service.get_all(db_session=db_session, tenant_id=tenant.id)
    viral = next((d for d in domains if d.is_viral), None)
    if viral is None:  # an unmanaged tenant is always formed from a domain
        raise TenantAlreadyManaged()
    return viral


async def start(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    user: User,
    tenant: Tenant,
    entry_point: str,
) -> WizardState:
    """Step 2: open (or resume) the wizard; says so, offering nothing, when there is an admin."""
    if entry_point not in ENTRY_POINTS:
        raise InvalidEntryPoint("entryPoint must be admin or upgrade.", target="entryPoint")
    if tenant.state != UNMANAGED:
        raise TenantAlreadyManaged()
    domain = await _viral_domain(db_session, tenant)
    claim = await db_session.get(AdminClaim, (tenant.id, user.id))
    if claim is None:
        claim = AdminClaim(
            tenant_id=tenant.id,
            user_id=user.id,
            entry_point=entry_point,
            domain_name=domain.name,
            status=STARTED,
            created_at=clock.now(),
        )
        db_session.add(claim)
        audit.record(
            db_session,
            actor=actor,
            action="Start become-the-admin",
            target_type="tenant",
            target_id=tenant.id,
            tenant_id=tenant.id,
            details={"entryPoint": entry_point, "domain": domain.name},
        )
    else:
        claim.entry_point = entry_point
    await db_session.flush()
    return await _state(db_session, catalog, tenant, claim)


async def get_state(
    *, db_session: AsyncSession, catalog: Catalog, user: User, tenant: Tenant
) -> WizardState:
    """Where the candidate stopped."""
    claim = await db_session.get(AdminClaim, (tenant.id, user.id))
    if claim is None:
        raise BecomeAdminNotStarted()
    return await _state(db_session, catalog, tenant, claim)


async def verify(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    user: User,
    tenant: Tenant,
    lookup: TxtLookup,
) -> WizardState:
    """Step 3: the TXT record was found; the candidate now holds a pending claim."""
    if tenant.state != UNMANAGED:
        raise TenantAlreadyManaged()
    claim = await db_session.get(AdminClaim, (tenant.id, user.id))
    if claim is None:
        raise BecomeAdminNotStarted()
    state = await _state(db_session, catalog, tenant, claim)
    domain_flows.check_record(state.domain, lookup)
    if claim.status == STARTED:
        claim.status = VERIFIED
        claim.verified_at = clock.now()
        audit.record(
            db_session,
            actor=actor,
            action="Confirm domain ownership (become-the-admin)",
            target_type="domain",
            target_id=state.domain.name,
            tenant_id=tenant.id,
        )
    return state


async def complete(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    user: User,
    tenant_id: uuid.UUID,
    sku_part_number: str,
    quantity: int,
    country_letter_code: str | None = None,
) -> Tenant:
    """Step 4: buy the licenses; the organization is managed and the candidate its admin."""
    country = directory_users.normalize_usage_location(country_letter_code)
    claimed_name = await db_session.scalar(
        select(AdminClaim.domain_name).where(
            AdminClaim.tenant_id == tenant_id, AdminClaim.user_id == user.id
        )
    )
    if claimed_name is not None:
        # The domain's root before the tenant: the order of an external takeover too.
        await domain_service.lock_root(db_session=db_session, name=claimed_name)
    tenant = await tenant_service.get_for_update(db_session=db_session, tenant_id=tenant_id)
    if tenant.state != UNMANAGED:
        raise TenantAlreadyManaged()
    claim = await db_session.get(AdminClaim, (tenant.id, user.id))
    if claim is None:
        raise BecomeAdminNotStarted()
    if claim.status != VERIFIED:
        raise DomainVerificationRequired()
    allowed = {sku.part_number: sku for sku in offers_for(catalog, claim.entry_point)}
    sku = allowed.get(sku_part_number)
    if sku is None:
        raise OfferNotAvailable(
            f"{sku_part_number} is not offered here. Choose one of: {', '.join(allowed)}.",
            target="skuPartNumber",
        )
    member_ids = await licensing_transfer.signed_up_user_ids(
        db_session=db_session, tenant_id=tenant.id
    )
    needed = max(1, len(member_ids))
    if quantity < needed:
        raise InsufficientLicenses(
            f"Buy at least {needed} licenses: one for each person who signed up.",
            target="quantity",
            details={"minimumLicenses": needed},
        )
    domain = await domain_service.get(
        db_session=db_session, tenant_id=tenant.id, name=claim.domain_name
    )
    if await domain_service.verified_elsewhere(
        db_session=db_session, tenant_id=tenant.id, name=domain.name
    ):
        raise DomainAlreadyVerified(domain.name)
    await domain_service.mark_verified(db_session=db_session, actor=actor, domain=domain)
    await domain_service.set_default(db_session=db_session, actor=actor, domain=domain)
    now = clock.now()
    tenant.state = MANAGED
    tenant.managed_at = now
    if country:
        tenant.country_letter_code = country
    directory_roles.grant_role(
        db_session=db_session,
        actor=actor,
        tenant_id=tenant.id,
        user_id=user.id,
        role=Role.GLOBAL_ADMINISTRATOR,
    )
    await licensing_subscriptions.purchase(
        db_session=db_session,
        catalog=catalog,
        actor=actor,
        tenant_id=tenant.id,
        sku_part_number=sku.part_number,
        quantity=quantity,
    )
    members = await directory_users.get_many(db_session=db_session, user_ids=member_ids)
    for member in members:
        if member.usage_location is None and tenant.country_letter_code:
            member.usage_location = tenant.country_letter_code
        # The self-service access people had carries over: no usage-location gate here.
        await licensing_assignments.assign_license(
            db_session=db_session,
            catalog=catalog,
            actor=actor,
            tenant_id=tenant.id,
            user=member,
            sku_id=sku.sku_id,
            check_usage_location=False,
        )
    await licensing_offers.move_offers_to_subscription(
        db_session=db_session, actor=actor, tenant_id=tenant.id, sku=sku
    )
    claim.status = COMPLETED
    claim.completed_at = now
    recipients = members if any(m.id == user.id for m in members) else [*members, user]
    for member in recipients:
        messaging.send_now_managed(db_session=db_session, member=member, admin=user, tenant=tenant)
    audit.record(
        db_session,
        actor=actor,
        action="Become the admin (internal takeover)",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        details={
            "domain": domain.name,
            "sku": sku.part_number,
            "quantity": quantity,
            "licensed": len(members),
        },
    )
    return tenant
