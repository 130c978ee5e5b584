"""Domains of tenants: which tenant a name leads to, and the domains a new tenant gets."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.clock import clock
from tenantry.domains import names
from tenantry.domains.models import Domain
from tenantry.tenants import service as tenant_service
from tenantry.tenants.models import MANAGED, UNMANAGED, Tenant


def new_verification_token() -> str:
    """A token for a `tenantry-verify=` TXT record (unique per tenant and domain)."""
    return secrets.token_hex(12)


@dataclass(frozen=True)
class DomainOwner:
    """The tenant a domain name leads to, and how."""

    tenant: Tenant
    domain: Domain
    managed: bool


async def get_all(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> list[Domain]:
    """The domains of a tenant, initial first then by name."""
    query = (
        select(Domain)
        .where(Domain.tenant_id == tenant_id)
        .order_by(Domain.is_initial.desc(), Domain.name)
    )
    return list((await db_session.scalars(query)).all())


async def find_owner(*, db_session: AsyncSession, name: str) -> DomainOwner | None:
    """The tenant that holds `name`: a managed tenant that verified it (or verified a root
    above it), else the unmanaged tenant formed from exactly that name, else None."""
    chain = names.parents(name)
    verified = (
        await db_session.execute(
            select(Domain, Tenant)
            .join(Tenant, Tenant.id == Domain.tenant_id)
            .where(Domain.name.in_(chain), Domain.is_verified, Tenant.state == MANAGED)
        )
    ).all()
    for candidate in chain:  # most specific first
        for domain, tenant in verified:
            if domain.name == candidate and (candidate == name or domain.is_root):
                return DomainOwner(tenant=tenant, domain=domain, managed=True)
    viral = (
        await db_session.execute(
            select(Domain, Tenant)
            .join(Tenant, Tenant.id == Domain.tenant_id)
            .where(Domain.name == name, Domain.is_viral, Tenant.state == UNMANAGED)
        )
    ).first()
    if viral is not None:
        return DomainOwner(tenant=viral[1], domain=viral[0], managed=False)
    return None


def _initial_label(name: str) -> str:
    label = re.sub(r"[^a-z0-9-]", "", name.split(".")[0].replace("xn--", "")) or "org"
    return label[:40].strip("-") or "org"


async def _initial_name(db_session: AsyncSession, suffix: str, name: str) -> str:
    base = _initial_label(name)
    candidate = f"{base}.{suffix}"
    taken = await db_session.scalar(select(Domain.name).where(Domain.name == candidate).limit(1))
    if taken is None:
        return candidate
    return f"{base}{secrets.randbelow(10**6):06d}.{suffix}"


async def create_unmanaged_tenant(
    *, db_session: AsyncSession, name: str, initial_suffix: str
) -> DomainOwner:
    """The unmanaged tenant of `name`, created now unless another request just created it.

    The partial unique index on viral names decides between concurrent sign-ups:
    the loser's insert fails inside a savepoint and it joins the winner's tenant.
    """
    for _attempt in range(5):
        now = clock.now()
        try:
            async with db_session.begin_nested():
                tenant = tenant_service.create(
                    db_session=db_session, display_name=names.display(name)
                )
                await db_session.flush()
                domain = Domain(
                    tenant_id=tenant.id,
                    name=name,
                    is_viral=True,
                    is_root=True,
                    verification_token=new_verification_token(),
                    created_at=now,
                )
                initial = Domain(
                    tenant_id=tenant.id,
                    name=await _initial_name(db_session, initial_suffix, name),
                    is_initial=True,
                    is_default=True,
                    is_verified=True,
                    is_root=True,
                    verification_token=new_verification_token(),
                    created_at=now,
                    verified_at=now,
                )
                db_session.add_all([domain, initial])
                await db_session.flush()
        except IntegrityError:
            # Either another sign-up formed this tenant first (join it), or another
            # tenant took the same initial name (try again with a new one).
            owner = await find_owner(db_session=db_session, name=name)
            if owner is not None:
                return owner
            continue
        return DomainOwner(tenant=tenant, domain=domain, managed=False)
    raise RuntimeError(f"could not create a tenant for {name}")
