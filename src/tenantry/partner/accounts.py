"""Partner accounts: enrollment by a Global Administrator, reading and changing one.

The rules (seed 003, "Inscription"):
- Only a Global Administrator of a managed tenant enrolls; anyone else reads "We couldn't
  validate your identity as a global administrator" with the hint to find one.
- The country or region is chosen once and never changes; the account type is `company`
  (individual accounts are deprecated) and never changes either.
- The publisher display name has at most 50 characters, is nobody else's (a look-alike is
  the same name: `service.publisher_name_key`) and is not reserved by the operators.
- Contact and approver each give a name, an email address and a phone number (stored in
  E.164; an extension is refused).
- The current Collaboration agreement is accepted; which version, when, by whom and from
  where is kept on the account.
- One partner account per tenant.
Every refusal leaves nothing behind. Two enrollments racing for one name or one tenant
are settled by the unique indexes (`models.PartnerAccount`): the caller runs `enroll` in
`Database.attempts`, so the loser's next attempt sees the winner and is refused.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.audit import Actor
from tenantry.core.clock import clock
from tenantry.directory import roles as directory_roles
from tenantry.directory import spoofing
from tenantry.directory.constants import USAGE_LOCATIONS, Role
from tenantry.directory.exceptions import InvalidValue
from tenantry.partner import access, service
from tenantry.partner.exceptions import (
    AccountTypeNotSupported,
    AgreementNotAccepted,
    InvalidContactEmail,
    InvalidCountryOrRegion,
    InvalidPhoneNumber,
    NotGlobalAdministrator,
    PartnerAccountExists,
    PublisherNameReserved,
    PublisherNameTaken,
    PublisherNameTooLong,
)
from tenantry.partner.models import PENDING_APPROVAL, PartnerAccount, ReservedPublisherName
from tenantry.tenants.models import MANAGED, Tenant

COMPANY = "company"
PERSON_NAME_LIMIT = 256


@dataclass(frozen=True)
class Person:
    """A contact or an approver: name, email address, phone number (E.164 once checked)."""

    name: str
    email: str
    phone: str


@dataclass(frozen=True)
class Enrollment:
    """What the enrollment form sends."""

    country_or_region: str
    account_type: str
    publisher_display_name: str
    contact: Person
    approver: Person
    agreement_version: str
    agreement_accepted: bool


async def is_global_administrator(
    *, db_session: AsyncSession, tenant: Tenant, user_id: uuid.UUID
) -> bool:
    """Whether the user is a Global Administrator of this tenant, and the tenant is managed."""
    if tenant.state != MANAGED:
        return False
    held = await directory_roles.roles_of(
        db_session=db_session, tenant_id=tenant.id, user_id=user_id
    )
    return Role.GLOBAL_ADMINISTRATOR.value in held


def check_phone(value: str, *, field: str, language: str) -> str:
    """The number in E.164; refused (naming the field) unless a valid number with no extension.

    A number without `+` is read as in no region: it must carry its country code."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(language, field) from None
    if number.extension or not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(language, field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_email(value: str, *, field: str, language: str) -> str:
    """A deliverable-looking address (its syntax only: no DNS lookup), normalized."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidContactEmail(language, field) from None


def check_person_name(value: str, *, field: str) -> str:
    """A contact's or approver's name, white space folded: 1 to 256 characters, nothing hidden."""
    spoofing.check_person_name(value, field=field)
    name = " ".join(value.split())
    if not name or len(name) > PERSON_NAME_LIMIT:
        raise InvalidValue(f"{field} must have 1 to {PERSON_NAME_LIMIT} characters.", target=field)
    return name


def check_person(person: Person, *, field: str, language: str) -> Person:
    """The contact or approver, each part checked and normalized (fields named in camelCase)."""
    name = check_person_name(person.name, field=f"{field}.name")
    return Person(
        name=name,
        email=check_email(person.email, field=f"{field}.email", language=language),
        phone=check_phone(person.phone, field=f"{field}.phone", language=language),
    )


def check_country(value: str, *, language: str) -> str:
    """The country or region as an ISO 3166-1 alpha-2 code (upper case)."""
    country = value.strip().upper()
    if country not in USAGE_LOCATIONS:
        raise InvalidCountryOrRegion(language)
    return country


def check_account_type(value: str, *, language: str) -> str:
    """`company`: individual accounts are deprecated (seed 003)."""
    if value != COMPANY:
        raise AccountTypeNotSupported(language)
    return value


def check_publisher_name(value: str, *, language: str) -> tuple[str, str]:
    """The name (outer and repeated spaces removed) and its look-alike key; too long → 400."""
    try:
        name = service.clean_publisher_name(value)
    except PublisherNameTooLong:
        raise PublisherNameTooLong(language) from None
    return name, service.publisher_name_key(name)


async def refuse_taken_or_reserved(
    db_session: AsyncSession, *, key: str, language: str, account_id: uuid.UUID | None = None
) -> None:
    holder = await db_session.scalar(
        select(PartnerAccount.id).where(PartnerAccount.publisher_name_key == key)
    )
    if holder is not None and holder != account_id:
        raise PublisherNameTaken(language)
    if await db_session.get(ReservedPublisherName, key) is not None:
        raise PublisherNameReserved(language)


async def availability(*, db_session: AsyncSession, name: str, language: str) -> str | None:
    """None when the name is free, else the code of the refusal enrolling with it would meet."""
    try:
        _, key = check_publisher_name(name, language=language)
        await refuse_taken_or_reserved(db_session, key=key, language=language)
    except (PublisherNameTaken, PublisherNameReserved, PublisherNameTooLong) as refusal:
        return refusal.code
    return None


async def enroll(
    *,
    db_session: AsyncSession,
    tenant: Tenant,
    actor: Actor,
    enrollment: Enrollment,
    language: str,
) -> PartnerAccount:
    """Enroll the tenant in the partner program: the account waits for its approver."""
    assert actor.user_id is not None
    if not await is_global_administrator(
        db_session=db_session, tenant=tenant, user_id=actor.user_id
    ):
        raise NotGlobalAdministrator(language)
    country = check_country(enrollment.country_or_region, language=language)
    check_account_type(enrollment.account_type, language=language)
    name, key = check_publisher_name(enrollment.publisher_display_name, language=language)
    contact = check_person(enrollment.contact, field="contact", language=language)
    approver = check_person(enrollment.approver, field="approver", language=language)
    current = await service.current_version(db_session=db_session)
    if enrollment.agreement_accepted is not True or enrollment.agreement_version != current:
        raise AgreementNotAccepted(language)
    existing = await db_session.scalar(
        select(PartnerAccount.id).where(PartnerAccount.tenant_id == tenant.id)
    )
    if existing is not None:
        raise PartnerAccountExists(language)
    await refuse_taken_or_reserved(db_session, key=key, language=language)

    now = clock.now()
    account = PartnerAccount(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        state=PENDING_APPROVAL,
        country_or_region=country,
        account_type=COMPANY,
        publisher_display_name=name,
        publisher_name_key=key,
        contact_name=contact.name,
        contact_email=contact.email,
        contact_phone=contact.phone,
        approver_name=approver.name,
        approver_email=approver.email,
        approver_phone=approver.phone,
        agreement_version=current,
        agreement_accepted_at=now,
        agreement_accepted_by=actor.user_id,
        agreement_client_address=actor.client_address,
        created_by=actor.user_id,
        language=language,
        created_at=now,
        updated_at=now,
    )
    db_session.add(account)
    audit.record(
        db_session,
        actor=actor,
        action="partnerAccount.enrolled",
        target_type="partnerAccount",
        target_id=account.id,
        details={"publisherDisplayName": name, "agreementVersion": current},
    )
    # The unique indexes speak here, inside the attempt, when another enrollment won.
    await db_session.flush()
    return account


async def get_visible(
    *,
    db_session: AsyncSession,
    account_id: uuid.UUID,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    language: str,
) -> PartnerAccount:
    """The account, for its members and the operators; 404 for anyone else (nothing says
    whether it exists)."""
    rights = await access.resolve(
        db_session=db_session,
        account_id=account_id,
        tenant_id=tenant_id,
        user_id=user_id,
        language=language,
    )
    return rights.account


async def get_for_tenant(
    *, db_session: AsyncSession, tenant_id: uuid.UUID
) -> PartnerAccount | None:
    """The tenant's partner account, if it enrolled (one per tenant)."""
    return await db_session.scalar(
        select(PartnerAccount).where(PartnerAccount.tenant_id == tenant_id)
    )


@dataclass(frozen=True)
class ListedAccount:
    """A partner account in the operators' list, with the name of the organization it is for."""

    account: PartnerAccount
    organization: str


async def get_all(
    *,
    db_session: AsyncSession,
    state: str | None = None,
    search: str | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 25,
) -> list[ListedAccount]:
    """Every partner account (operators), newest first: of one state, whose publisher or
    organization name contains `search` (any case), after the keyset `after`."""
    query = select(PartnerAccount, Tenant.display_name).join(
        Tenant, Tenant.id == PartnerAccount.tenant_id
    )
    if state:
        query = query.where(PartnerAccount.state == state)
    if search:
        needle = search.lower()
        query = query.where(
            or_(
                func.lower(PartnerAccount.publisher_display_name).contains(needle, autoescape=True),
                func.lower(Tenant.display_name).contains(needle, autoescape=True),
            )
        )
    if after is not None:
        created_at, account_id = after
        query = query.where(
            or_(
                PartnerAccount.created_at < created_at,
                and_(PartnerAccount.created_at == created_at, PartnerAccount.id < account_id),
            )
        )
    query = query.order_by(PartnerAccount.created_at.desc(), PartnerAccount.id.desc()).limit(limit)
    rows = await db_session.execute(query)
    return [ListedAccount(account, organization) for account, organization in rows.all()]
