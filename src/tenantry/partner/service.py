"""The partner program's platform side: operators, agreement versions, reserved publisher names.

The rules, in the program's words:
- An **operator** runs this Tenantry instance's partner program. Operator is a platform
  role given to an existing user from the server's terminal (`tenantry operator add`),
  never a tenant role: being Global Administrator of a tenant grants nothing here.
- The **Collaboration agreement** is what an enrolling organization accepts. Operators
  publish versions (`tenantry partner agreement publish`), each in English, French and/or
  Dutch; the version published last is the current one, and until one is published the
  agreement that ships with Tenantry is. A published text never changes: a new text is a
  new version.
- A **publisher display name** identifies a partner account; two names that a person
  could mistake for each other are the same name (the UTS #39 skeleton after NFKC, case and
  white-space folding: `publisher_name_key`). Operators keep a list of reserved names that
  no account may take.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.audit import Actor
from tenantry.core.clock import clock
from tenantry.core.i18n import DEFAULT_LANGUAGE, LANGUAGES
from tenantry.directory import spoofing
from tenantry.directory import users as directory_users
from tenantry.directory.models import User
from tenantry.partner.exceptions import (
    AgreementVersionExists,
    AlreadyAnOperator,
    InvalidAgreement,
    NotAnOperator,
    PublisherNameRequired,
    PublisherNameTooLong,
    ReservedNameExists,
    ReservedNameNotFound,
    UnsupportedLanguage,
    UserNotFound,
)
from tenantry.partner.models import PartnerAgreement, PlatformOperator, ReservedPublisherName

PUBLISHER_NAME_LIMIT = 50
# The version of the agreement that ships in `partner/agreements/`; no published version
# may take its name, so an acceptance always says which text was accepted.
DEFAULT_AGREEMENT_VERSION = "tenantry-default-1"
AGREEMENT_TEXT_LIMIT = 200_000
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
_WHITE_SPACE = re.compile(r"\s+")


# --- operators --------------------------------------------------------------------------


async def _user_by_email(db_session: AsyncSession, email: str) -> User:
    user = await directory_users.get_by_principal_name(db_session=db_session, principal_name=email)
    if user is None:
        raise UserNotFound(email)
    return user


async def is_operator(*, db_session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether the user holds the platform role Operator."""
    return await db_session.get(PlatformOperator, user_id) is not None


async def add_operator(*, db_session: AsyncSession, email: str, actor: Actor) -> User:
    """Give an existing user the platform role Operator."""
    user = await _user_by_email(db_session, email)
    if await is_operator(db_session=db_session, user_id=user.id):
        raise AlreadyAnOperator(user.user_principal_name)
    db_session.add(PlatformOperator(user_id=user.id, created_at=clock.now()))
    audit.record(
        db_session,
        actor=actor,
        action="operator.added",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        details={"userPrincipalName": user.user_principal_name},
    )
    await db_session.flush()
    return user


async def remove_operator(*, db_session: AsyncSession, email: str, actor: Actor) -> User:
    """Take the platform role Operator from a user."""
    user = await _user_by_email(db_session, email)
    removed = await db_session.execute(
        delete(PlatformOperator).where(PlatformOperator.user_id == user.id)
    )
    if not removed.rowcount:
        raise NotAnOperator(user.user_principal_name)
    audit.record(
        db_session,
        actor=actor,
        action="operator.removed",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        details={"userPrincipalName": user.user_principal_name},
    )
    return user


async def list_operators(*, db_session: AsyncSession) -> list[tuple[User, PlatformOperator]]:
    """Every operator, by address."""
    rows = await db_session.execute(
        select(User, PlatformOperator)
        .join(PlatformOperator, PlatformOperator.user_id == User.id)
        .order_by(User.user_principal_name)
    )
    return [(user, operator) for user, operator in rows.all()]


# --- the Collaboration agreement ------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """One version of the agreement, in one language."""

    version: str
    language: str
    text: str


@cache
def _shipped_agreement(language: str) -> Agreement:
    text = resources.files("tenantry.partner").joinpath(f"agreements/{language}.txt")
    return Agreement(DEFAULT_AGREEMENT_VERSION, language, text.read_text("utf-8"))


def default_agreement(language: str) -> Agreement:
    """The agreement that ships with Tenantry, in `language` (English when unknown); read
    from the package once per language."""
    return _shipped_agreement(language if language in LANGUAGES else DEFAULT_LANGUAGE)


async def current_version(*, db_session: AsyncSession) -> str:
    """The version of the current agreement: the one published last, else the default."""
    version = await db_session.scalar(
        select(PartnerAgreement.version)
        .order_by(PartnerAgreement.published_at.desc(), PartnerAgreement.version.desc())
        .limit(1)
    )
    return version or DEFAULT_AGREEMENT_VERSION


async def current_agreement(*, db_session: AsyncSession, language: str) -> Agreement:
    """The current agreement in `language`, else in English, else in any language it has."""
    version = await current_version(db_session=db_session)
    if version == DEFAULT_AGREEMENT_VERSION:
        return default_agreement(language)
    texts = {
        row.language: row
        for row in await db_session.scalars(
            select(PartnerAgreement).where(PartnerAgreement.version == version)
        )
    }
    row = texts.get(language) or texts.get(DEFAULT_LANGUAGE) or next(iter(texts.values()))
    return Agreement(row.version, row.language, row.text)


@dataclass(frozen=True)
class AgreementVersion:
    """A published version of the agreement: the languages it has, when it was published."""

    version: str
    languages: tuple[str, ...]
    published_at: datetime | None  # None for the agreement that ships with Tenantry
    current: bool


async def agreement_versions(*, db_session: AsyncSession) -> list[AgreementVersion]:
    """Every version, the current one first, ending with the one that ships with Tenantry."""
    current = await current_version(db_session=db_session)
    found: dict[str, tuple[list[str], datetime]] = {}
    for row in await db_session.scalars(
        select(PartnerAgreement).order_by(
            PartnerAgreement.published_at.desc(), PartnerAgreement.version.desc()
        )
    ):
        languages, published_at = found.setdefault(row.version, ([], row.published_at))
        languages.append(row.language)
        found[row.version] = (languages, min(published_at, row.published_at))
    versions = [
        AgreementVersion(version, tuple(sorted(languages)), published_at, version == current)
        for version, (languages, published_at) in found.items()
    ]
    versions.append(
        AgreementVersion(
            DEFAULT_AGREEMENT_VERSION, LANGUAGES, None, current == DEFAULT_AGREEMENT_VERSION
        )
    )
    return versions


async def publish_agreement(
    *, db_session: AsyncSession, version: str, language: str, text: str, actor: Actor
) -> Agreement:
    """Publish one language of a new version (it becomes current), or a translation of the
    current one. A published text never changes."""
    if language not in LANGUAGES:
        raise UnsupportedLanguage(
            f"The language must be one of {', '.join(LANGUAGES)}.", target="language"
        )
    if not _VERSION.fullmatch(version) or version == DEFAULT_AGREEMENT_VERSION:
        raise InvalidAgreement(
            "The version is 1 to 40 letters, digits, dots, dashes or underscores, and not "
            f"{DEFAULT_AGREEMENT_VERSION} (the agreement that ships with Tenantry).",
            target="version",
        )
    text = text.strip()
    if not text or len(text) > AGREEMENT_TEXT_LIMIT or "\x00" in text:
        raise InvalidAgreement(
            f"The agreement text cannot be empty or longer than {AGREEMENT_TEXT_LIMIT} characters.",
            target="text",
        )
    published = set(
        await db_session.scalars(
            select(PartnerAgreement.language).where(PartnerAgreement.version == version)
        )
    )
    if language in published:
        raise AgreementVersionExists(
            f"Version {version} of the agreement is already published in {language}: "
            "a published text never changes, publish a new version.",
            target="version",
        )
    if published and version != await current_version(db_session=db_session):
        raise AgreementVersionExists(
            f"Version {version} is no longer the current agreement: only the current "
            "version takes new translations.",
            target="version",
        )
    db_session.add(
        PartnerAgreement(version=version, language=language, text=text, published_at=clock.now())
    )
    audit.record(
        db_session,
        actor=actor,
        action="partnerAgreement.published",
        target_type="partnerAgreement",
        target_id=version,
        details={"version": version, "language": language},
    )
    await db_session.flush()
    return Agreement(version, language, text)


# --- publisher names ------------------------------------------------------------------------


def clean_publisher_name(value: str, *, field: str = "publisherDisplayName") -> str:
    """The name without outer spaces; refused when empty, over 50 characters, or holding a
    character that hides what it says (control, bidi override, zero-width)."""
    spoofing.check_person_name(value, field=field)
    name = _WHITE_SPACE.sub(" ", value).strip()
    if not name:
        raise PublisherNameRequired()
    if len(name) > PUBLISHER_NAME_LIMIT:
        raise PublisherNameTooLong()
    return name


def publisher_name_key(name: str) -> str:
    """What two names a person could mistake share: a digest of the UTS #39 skeleton of the
    name after NFKC, case and white-space folding (`Contoso Labs`, `CONTOSO  LABS` and a
    Cyrillic `Соntoso Labs` have one key)."""
    folded = spoofing.folded_skeleton(_WHITE_SPACE.sub(" ", name).strip())
    # White space again: NFKC turns some characters into spaces.
    folded = _WHITE_SPACE.sub(" ", folded).strip()
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


async def is_reserved(*, db_session: AsyncSession, name: str) -> bool:
    """Whether the name (or a look-alike) is reserved."""
    key = publisher_name_key(name)
    return await db_session.get(ReservedPublisherName, key) is not None


async def reserve_name(
    *, db_session: AsyncSession, name: str, actor: Actor
) -> ReservedPublisherName:
    """Keep a publisher name (and its look-alikes) from every partner account."""
    name = clean_publisher_name(name, field="name")
    key = publisher_name_key(name)
    existing = await db_session.get(ReservedPublisherName, key)
    if existing is not None:
        raise ReservedNameExists(f"{name} is already reserved (as {existing.name}).", target="name")
    reserved = ReservedPublisherName(name_key=key, name=name, created_at=clock.now())
    db_session.add(reserved)
    audit.record(
        db_session,
        actor=actor,
        action="publisherName.reserved",
        target_type="publisherName",
        target_id=name,
    )
    await db_session.flush()
    return reserved


async def release_name(*, db_session: AsyncSession, name: str, actor: Actor) -> str:
    """Take a name (given in any of its look-alike spellings) off the reserved list."""
    reserved = await db_session.get(ReservedPublisherName, publisher_name_key(name))
    if reserved is None:
        raise ReservedNameNotFound(f"{name} is not reserved.", target="name")
    await db_session.delete(reserved)
    audit.record(
        db_session,
        actor=actor,
        action="publisherName.released",
        target_type="publisherName",
        target_id=reserved.name,
    )
    await db_session.flush()
    return reserved.name


async def reserved_names(*, db_session: AsyncSession) -> list[ReservedPublisherName]:
    """Every reserved name, alphabetically."""
    return list(
        await db_session.scalars(select(ReservedPublisherName).order_by(ReservedPublisherName.name))
    )
