"""Domains of tenants: which tenant a name leads to, and the domains a new tenant gets.

Entra's rule for subdomains: a subdomain belongs to the tenant that verified its
root (or any parent of it). So a name is refused to a tenant when another tenant
has verified it or a parent of it, and when another *managed* tenant has verified
a subdomain of it (`verified_elsewhere`); signing up at any subdomain of a managed
tenant's verified domain joins that tenant (`find_owner`); and a subdomain added
under a root this tenant verified is verified with it (`add`, `mark_verified`).
Names differ, so no unique index can settle a race between `contoso.com` and
`sales.contoso.com`: every verification first takes the lock of its registrable
domain (`lock_root`) and checks after it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.directory import transfer
from tenantry.domains import names
from tenantry.domains.exceptions import (
    DomainAlreadyExists,
    DomainAlreadyVerified,
    DomainHasSubdomains,
    DomainInUse,
    DomainIsDefault,
    DomainNotFound,
    DomainNotVerified,
    InitialDomain,
    TooManyObjects,
    WouldLockOutAdministrators,
)
from tenantry.domains.models import Domain
from tenantry.tenants import service as tenant_service
from tenantry.tenants.models import MANAGED, UNMANAGED, Tenant

log = logging.getLogger("tenantry.domains")


def new_verification_token() -> str:
    """A token for a `tenantry-verify=` TXT record (unique per tenant and domain)."""
    return secrets.token_hex(12)


@dataclass(frozen=True)
class DomainOwner:
    """The tenant a domain name leads to, and how."""

    tenant: Tenant
    domain: Domain
    managed: bool
    created_domains: list[Domain] | None = None  # set when this call formed the tenant


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
    # One query for both cases: verified names of managed tenants along the chain, and
    # the unmanaged tenant formed from exactly this name.
    rows = (
        await db_session.execute(
            select(Domain, Tenant)
            .join(Tenant, Tenant.id == Domain.tenant_id)
            .where(
                Domain.name.in_(chain),
                or_(
                    and_(Domain.is_verified, Tenant.state == MANAGED),
                    and_(Domain.name == name, Domain.is_viral, Tenant.state == UNMANAGED),
                ),
            )
        )
    ).all()
    for candidate in chain:  # most specific first
        for domain, tenant in rows:
            if (
                tenant.state == MANAGED
                and domain.name == candidate
                and (candidate == name or domain.is_root)
            ):
                return DomainOwner(tenant=tenant, domain=domain, managed=True)
    for domain, tenant in rows:
        if tenant.state == UNMANAGED:
            return DomainOwner(tenant=tenant, domain=domain, managed=False)
    return None


def _initial_label(name: str) -> str:
    label = re.sub(r"[^a-z0-9-]", "", name.split(".")[0].replace("xn--", "")) or "org"
    return label[:40].strip("-") or "org"


def _initial_name(suffix: str, name: str, attempt: int) -> str:
    """`contoso.<suffix>` for contoso.com; later attempts add six random digits."""
    base = _initial_label(name)
    if attempt == 0:
        return f"{base}.{suffix}"
    return f"{base}{secrets.randbelow(10**6):06d}.{suffix}"


def create_unmanaged_tenant(
    *, db_session: AsyncSession, name: str, initial_suffix: str, attempt: int = 0
) -> DomainOwner:
    """A new unmanaged tenant formed from `name`, with its viral and initial domains.

    The rows are written by the unit of work's next flush (the tenant first: the
    domains refer to it). Unique indexes decide the races there: the partial
    index on viral names between concurrent sign-ups of one domain, the index on
    names when the initial name is taken. The loser's transaction fails with
    IntegrityError; run it again (`Database.attempts`) with the next `attempt`: it
    joins the winner's tenant, or its initial name gets six random digits.
    """
    now = clock.now()
    tenant = tenant_service.create(db_session=db_session, display_name=names.display(name))
    # Every column given on both rows: the flush then inserts them in one statement.
    domain = Domain(
        tenant_id=tenant.id,
        name=name,
        is_initial=False,
        is_default=False,
        is_verified=False,
        is_viral=True,
        is_root=True,
        verification_token=new_verification_token(),
        created_at=now,
        verified_at=None,
    )
    initial = Domain(
        tenant_id=tenant.id,
        name=_initial_name(initial_suffix, name, attempt),
        is_initial=True,
        is_default=True,
        is_verified=True,
        is_viral=False,
        is_root=True,
        verification_token=new_verification_token(),
        created_at=now,
        verified_at=now,
    )
    db_session.add_all([domain, initial])
    return DomainOwner(
        tenant=tenant, domain=domain, managed=False, created_domains=[domain, initial]
    )
    raise RuntimeError(f"could not create a tenant for {name}")


VERIFY_PREFIX = "tenantry-verify="
RECORD_TTL = 3600
FORCE_DELETE_LIMIT = 1000


def verification_text(domain: Domain) -> str:
    """The TXT value that proves ownership: unique to the tenant and the domain."""
    return f"{VERIFY_PREFIX}{domain.verification_token}"


def verification_record(domain: Domain) -> dict[str, object]:
    """The TXT record to publish at the domain itself (`@`), Graph's domainDnsTxtRecord shape."""
    return {
        "id": f"txt-{domain.name}",
        "recordType": "Txt",
        "label": domain.name,
        "text": verification_text(domain),
        "ttl": RECORD_TTL,
        "isOptional": False,
        "supportedService": "None",
    }


async def get(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, name: str, fresh: bool = False
) -> Domain:
    """A domain of the tenant by name (`fresh`: read again even when the session has it);
    other tenants' domains are simply not found."""
    try:
        normalized = names.normalize(name)
    except names.InvalidRequest as exc:
        raise DomainNotFound(name) from exc
    domain = await db_session.get(Domain, (tenant_id, normalized), populate_existing=fresh)
    if domain is None:
        raise DomainNotFound(normalized)
    return domain


async def add(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    name: str,
    initial_suffix: str,
) -> Domain:
    """Attach a domain to a tenant: unverified, or verified at once under a root it verified."""
    normalized = names.normalize_registrable(name)
    if normalized == initial_suffix or normalized.endswith("." + initial_suffix):
        raise names.InvalidDomainName(
            f"Names under {initial_suffix} are reserved for initial domains.", target="id"
        )
    if await db_session.get(Domain, (tenant_id, normalized)) is not None:
        raise DomainAlreadyExists(
            f"{normalized} is already a domain of your organization.", target="id"
        )
    await lock_root(db_session=db_session, name=normalized)
    own = {d.name: d for d in await get_all(db_session=db_session, tenant_id=tenant_id)}
    root = next(
        (
            own[parent]
            for parent in names.parents(normalized)[1:]
            if parent in own and own[parent].is_verified
        ),
        None,
    )
    if root is not None and await verified_elsewhere(
        db_session=db_session, tenant_id=tenant_id, name=normalized
    ):
        # Only where names broke the rule before it was enforced (`nested_verifications`).
        raise DomainAlreadyVerified(normalized)
    now = clock.now()
    domain = Domain(
        tenant_id=tenant_id,
        name=normalized,
        is_verified=root is not None,
        is_root=root is None,
        verification_token=new_verification_token(),
        created_at=now,
        verified_at=now if root is not None else None,
    )
    db_session.add(domain)
    try:
        async with db_session.begin_nested():
            await db_session.flush()
    except IntegrityError as exc:
        raise DomainAlreadyVerified(normalized) from exc
    audit.record(
        db_session,
        actor=actor,
        action="Add verified domain" if root is not None else "Add unverified domain",
        target_type="domain",
        target_id=normalized,
        tenant_id=tenant_id,
    )
    return domain


def _root_lock_key(name: str) -> int:
    """The PostgreSQL advisory lock key of `name`'s registrable domain (64 bits of a hash)."""
    root = names.registrable(name)
    digest = hashlib.blake2b(f"tenantry.domain-root:{root}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_root(*, db_session: AsyncSession, name: str) -> None:
    """Hold the lock of `name`'s registrable domain until the unit of work ends.

    Verifications of `contoso.com` and `sales.contoso.com` (and their takeovers)
    queue on the lock of `contoso.com`, so each checks `verified_elsewhere` after
    the other committed. PostgreSQL: a transaction-level advisory lock (read
    committed, so the next statement sees the winner's rows); SQLite: a write unit
    of work already holds the database's one write lock. Take it before locking
    any tenant row: a takeover locks the unmanaged tenant after it.
    """
    if db_session.get_bind().dialect.name == "postgresql":
        await db_session.execute(select(func.pg_advisory_xact_lock(_root_lock_key(name))))


async def verified_elsewhere(*, db_session: AsyncSession, tenant_id: uuid.UUID, name: str) -> bool:
    """Whether `name` is another organization's by Entra's rule: another tenant verified it
    or a parent of it, or another managed tenant verified a subdomain of it.

    Call it holding `lock_root`. The subdomain probe reads the verified names (a
    `LIKE '%.name'` has no index to use); it runs only when a domain is verified.
    """
    above = select(Domain.name).where(
        Domain.name.in_(names.parents(name)),
        Domain.is_verified,
        Domain.tenant_id != tenant_id,
    )
    below = (
        select(Domain.name)
        .join(Tenant, Tenant.id == Domain.tenant_id)
        .where(
            Domain.name.endswith("." + name, autoescape=True),
            Domain.is_verified,
            Domain.is_initial.is_(False),
            Domain.tenant_id != tenant_id,
            Tenant.state == MANAGED,
        )
    )
    return bool(await db_session.scalar(select(or_(above.exists(), below.exists()))))


@dataclass(frozen=True)
class NestedVerification:
    """A verified name and a verified subdomain of it held by another tenant."""

    parent: str
    parent_tenant_id: uuid.UUID
    subdomain: str
    subdomain_tenant_id: uuid.UUID


async def nested_verifications(*, db_session: AsyncSession) -> list[NestedVerification]:
    """The pairs of verified names that break the subdomain rule, verified before it was
    enforced. They are left as they are (moving a domain is the admins' decision)."""
    rows = await db_session.execute(
        select(Domain.name, Domain.tenant_id)
        .where(Domain.is_verified, Domain.is_initial.is_(False))
        .order_by(Domain.name)
    )
    holders = {name: tenant_id for name, tenant_id in rows}
    pairs = []
    for name, tenant_id in holders.items():
        labels = name.split(".")
        for start in range(1, len(labels)):
            parent = ".".join(labels[start:])
            holder = holders.get(parent)
            if holder is not None and holder != tenant_id:
                pairs.append(NestedVerification(parent, holder, name, tenant_id))
    return pairs


async def warn_of_nested_verifications(*, db_session: AsyncSession) -> int:
    """Log one warning per pair of `nested_verifications` for the operator; returns how many."""
    pairs = await nested_verifications(db_session=db_session)
    for pair in pairs:
        log.warning(
            "%s is verified in tenant %s, and its subdomain %s in another tenant, %s: a "
            "subdomain belongs to the tenant that verified its parent, and new sign-ups at "
            "%s go there. Ask the two organizations which one keeps it; Tenantry moves "
            "neither.",
            pair.parent,
            pair.parent_tenant_id,
            pair.subdomain,
            pair.subdomain_tenant_id,
            pair.subdomain,
        )
    return len(pairs)


async def viral_holder(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, name: str
) -> Tenant | None:
    """The unmanaged tenant (other than this one) that was formed from this name."""
    row = (
        await db_session.execute(
            select(Tenant)
            .join(Domain, Domain.tenant_id == Tenant.id)
            .where(
                Domain.name == name,
                Domain.is_viral,
                Tenant.id != tenant_id,
                Tenant.state == UNMANAGED,
            )
        )
    ).scalar_one_or_none()
    return row


async def mark_verified(*, db_session: AsyncSession, actor: audit.Actor, domain: Domain) -> None:
    """Verify a domain and the unverified subdomains under it in the same tenant.

    The partial unique index on verified names settles a race with another
    tenant verifying the same name: the loser gets DomainAlreadyVerified.
    """
    now = clock.now()
    subdomains = [
        d
        for d in await get_all(db_session=db_session, tenant_id=domain.tenant_id)
        if d.name.endswith("." + domain.name) and not d.is_verified
    ]
    try:
        async with db_session.begin_nested():
            domain.is_verified = True
            domain.is_viral = False
            domain.verified_at = now
            for subdomain in subdomains:
                subdomain.is_verified = True
                subdomain.is_root = False
                subdomain.verified_at = now
            await db_session.flush()
    except IntegrityError as exc:
        raise DomainAlreadyVerified(domain.name) from exc
    audit.record(
        db_session,
        actor=actor,
        action="Verify domain",
        target_type="domain",
        target_id=domain.name,
        tenant_id=domain.tenant_id,
        details={"subdomains": [d.name for d in subdomains]},
    )


async def set_default(*, db_session: AsyncSession, actor: audit.Actor, domain: Domain) -> Domain:
    """Make a verified domain the tenant's default (new users' addresses)."""
    if not domain.is_verified:
        raise DomainNotVerified(f"Verify {domain.name} before making it the default.", target="id")
    await db_session.execute(
        update(Domain)
        .where(Domain.tenant_id == domain.tenant_id, Domain.name != domain.name)
        .values(is_default=False)
    )
    domain.is_default = True
    audit.record(
        db_session,
        actor=actor,
        action="Set default domain",
        target_type="domain",
        target_id=domain.name,
        tenant_id=domain.tenant_id,
    )
    return domain


async def remove(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    domain: Domain,
    force: bool = False,
    disable_user_accounts: bool = True,
) -> int:
    """Detach a domain; with `force`, its users move to the initial domain (and are disabled).

    Returns how many users were renamed.
    """
    if domain.is_initial:
        raise InitialDomain(
            f"{domain.name} is the initial domain: it cannot be removed.", target="id"
        )
    if domain.is_default:
        raise DomainIsDefault(
            f"{domain.name} is the default domain. Make another domain the default first.",
            target="id",
        )
    others = await get_all(db_session=db_session, tenant_id=domain.tenant_id)
    children = [d.name for d in others if d.name.endswith("." + domain.name)]
    if children:
        raise DomainHasSubdomains(
            f"Remove the subdomains of {domain.name} first: {', '.join(children)}.", target="id"
        )
    in_use = await transfer.count_on_domain(
        db_session=db_session, tenant_id=domain.tenant_id, name=domain.name
    )
    if in_use and not force:
        raise DomainInUse(
            f"{in_use} user(s) have addresses at {domain.name}. Change them first, or force "
            "the removal to move them to the initial domain.",
            target="id",
            details={"objectsInUse": in_use},
        )
    if in_use > FORCE_DELETE_LIMIT:
        raise TooManyObjects(
            f"{in_use} objects use {domain.name}; a forced removal handles at most "
            f"{FORCE_DELETE_LIMIT}.",
            target="id",
        )
    if in_use and disable_user_accounts:
        keepers = await transfer.enabled_global_admins_off_domain(
            db_session=db_session, tenant_id=domain.tenant_id, name=domain.name
        )
        if keepers == 0:
            raise WouldLockOutAdministrators(
                f"Every Global Administrator signs in with an address at {domain.name}: removing "
                "it would disable them all. Give another administrator an address on another "
                "domain first, or keep the accounts enabled.",
                target="id",
            )
    renamed = 0
    if in_use:
        initial = next(d for d in others if d.is_initial)
        users = await transfer.rename_to_domain(
            db_session=db_session,
            tenant_id=domain.tenant_id,
            old=domain.name,
            new=initial.name,
            disable=disable_user_accounts,
        )
        renamed = len(users)
    await db_session.delete(domain)
    audit.record(
        db_session,
        actor=actor,
        action="Force delete domain" if force else "Remove domain",
        target_type="domain",
        target_id=domain.name,
        tenant_id=domain.tenant_id,
        details={"renamedUsers": renamed, "disabled": bool(renamed and disable_user_accounts)},
    )
    return renamed


async def close_tenant_domains(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Remove every domain of a tenant being closed (its names become free)."""
    await db_session.execute(delete(Domain).where(Domain.tenant_id == tenant_id))


async def verified_holder(*, db_session: AsyncSession, name: str) -> uuid.UUID | None:
    """The tenant that verified exactly this name (an initial domain included), or None."""
    try:
        normalized = names.normalize(name)
    except names.InvalidRequest:
        return None
    return await db_session.scalar(
        select(Domain.tenant_id).where(Domain.name == normalized, Domain.is_verified)
    )


async def default_names(
    *, db_session: AsyncSession, tenant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Each tenant's default domain name, in one query."""
    if not tenant_ids:
        return {}
    rows = await db_session.execute(
        select(Domain.tenant_id, Domain.name).where(
            Domain.tenant_id.in_(tenant_ids), Domain.is_default
        )
    )
    return {tenant_id: name for tenant_id, name in rows.all()}
