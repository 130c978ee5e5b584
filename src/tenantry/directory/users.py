"""A tenant's users: finding, adding, changing and deleting them, and writing to them all.

Their admin roles are `directory.roles`, their groups `directory.groups`. Their
password, sessions and sign-in lockouts are sign-in state, owned by `auth`
(`auth.passwords`, `auth.service`, `auth.lockout`), which depends on the directory,
never the reverse: blocking a user's sign-in here tells `auth` through
`directory.events.sign_in_blocked`, and `auth` ends their sessions.
"""

from __future__ import annotations

import contextlib
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit, mail
from tenantry.core.clock import clock
from tenantry.core.errors import Conflict, InvalidRequest, NotFound
from tenantry.directory import events, spoofing
from tenantry.directory import roles as directory_roles
from tenantry.directory.constants import USAGE_LOCATIONS, Source
from tenantry.directory.exceptions import (
    ConfusableUserName,
    InvalidCountryCode,
    InvalidFilter,
    InvalidUserPrincipalName,
    InvalidValue,
    PropertyManagedBySync,
    UnverifiedDomain,
    UserAlreadyExists,
)
from tenantry.directory.models import GroupMember, User, UserSearchTerm
from tenantry.directory.query import (
    FilterProperty,
    ListParams,
    Page,
    Queryable,
    expect_bool,
    expect_text,
    page,
    prefix_range,
)
from tenantry.directory.search import ADDRESS, NAME, fold, sort_key
from tenantry.domains import names as domain_names
from tenantry.domains import service as domain_service


class Unset(Enum):
    UNSET = 0


UNSET = Unset.UNSET
"""A keyword left out of an update (None means "clear the value")."""

# What ends the local part of a guest's user name, as in Entra (`directory.guests`).
GUEST_MARKER = "#EXT#"


async def get(*, db_session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """A user of the tenant, or NotFound (also for another tenant's users)."""
    user = await db_session.get(User, user_id)
    if user is None or user.tenant_id != tenant_id:
        raise NotFound("The user does not exist.", target="id")
    return user


async def get_by_principal_name(*, db_session: AsyncSession, principal_name: str) -> User | None:
    """The user who signs in with that address, in any tenant."""
    if "\x00" in principal_name:
        return None  # no address holds U+0000, and PostgreSQL cannot compare text holding it
    return await db_session.scalar(
        select(User).where(User.user_principal_name == principal_name_key(principal_name))
    )


async def resolve(*, db_session: AsyncSession, tenant_id: uuid.UUID, key: str) -> User:
    """A user of the tenant by id or by userPrincipalName (as Graph's `/users/{id | upn}`)."""
    try:
        user_id = uuid.UUID(key)
    except ValueError:
        user = None
        if "@" in key:
            user = await get_by_principal_name(db_session=db_session, principal_name=key)
        if user is None or user.tenant_id != tenant_id:
            raise NotFound("The user does not exist.", target="id") from None
        return user
    return await get(db_session=db_session, tenant_id=tenant_id, user_id=user_id)


def principal_name_key(value: str) -> str:
    """The form in which an address is stored and found: `jan@xn--bcher-kva.de` for
    `Jan@Bücher.de` (the local part in NFC and lower case, the domain in its lower-case
    IDNA A-label form, as the tenant's domains are kept).

    Sign-up, user creation and every lookup by address (sign-in, `/users/{upn}`, role
    and group members, the audit log's actor) go through this one function, so an address
    typed in its Unicode form finds the account its ASCII form finds. A value that is not
    an address comes back trimmed and in lower case: it finds nobody.
    """
    candidate = unicodedata.normalize("NFC", (value or "").strip())
    local, at, domain = candidate.rpartition("@")
    if at and local and domain:
        with contextlib.suppress(InvalidRequest):  # not a domain name: no account has it
            domain = domain_names.normalize(domain)
        candidate = f"{local}@{domain}"
    candidate = candidate.lower()
    local, at, domain = candidate.rpartition("@")
    if at and local.endswith(GUEST_MARKER.lower()):
        # A guest's name keeps Graph's marker as Graph writes it: kim_fabrikam.com#EXT#@…
        candidate = f"{local[: -len(GUEST_MARKER)]}{GUEST_MARKER}@{domain}"
    return candidate


def normalize_principal_name(value: str) -> str:
    """A valid sign-in address in its stored form (`principal_name_key`);
    InvalidUserPrincipalName otherwise."""
    candidate = (value or "").strip()
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidUserPrincipalName(
            f"{candidate or 'An empty value'} is not a valid user name: use an email address "
            f"such as alain@contoso.com ({exc}).",
            target="userPrincipalName",
        ) from exc
    if GUEST_MARKER.lower() in checked.local_part.lower():
        raise InvalidUserPrincipalName(
            f"{candidate} is not a valid user name: {GUEST_MARKER} marks the names of guests, "
            "who are invited (POST /v1/invitations).",
            target="userPrincipalName",
        )
    return principal_name_key(f"{checked.local_part}@{checked.ascii_domain}")


def normalize_usage_location(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 country code in upper case, None for an empty value."""
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    if code not in USAGE_LOCATIONS:
        raise InvalidCountryCode(
            f"{value.strip()} is not a usage location: use a two-letter ISO 3166-1 country "
            "code such as FR, BE, NL or US.",
            target="usageLocation",
        )
    return code


async def verified_domains(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> set[str]:
    """The names of the tenant's verified domains (initial domain included)."""
    domains = await domain_service.get_all(db_session=db_session, tenant_id=tenant_id)
    return {domain.name for domain in domains if domain.is_verified}


def check_principal_name_domain(principal_name: str, domains: Iterable[str]) -> None:
    """Refuse an address whose domain is not one of the tenant's verified domains."""
    domain = principal_name.rsplit("@", 1)[-1]
    allowed = sorted(domains)
    if domain not in allowed:
        raise UnverifiedDomain(
            f"The domain of {principal_name} is not a verified domain of your organization. "
            "Use one of: " + ", ".join(allowed) + ".",
            target="userPrincipalName",
        )


async def create(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    principal_name: str,
    display_name: str,
    password_hash: str | None,
    source: Source = Source.CLOUD,
    usage_location: str | None = None,
    given_name: str | None = None,
    surname: str | None = None,
    preferred_language: str | None = None,
    must_change_password: bool = False,
    account_enabled: bool = True,
    mail: str | None = None,
    known_new: bool = False,
    new_tenant: bool = False,
    external_user_state: str | None = None,
) -> User:
    """A new user in a tenant; UserAlreadyExists when the address is taken anywhere,
    ConfusableUserName when it looks like the address of one of the tenant's users.

    `known_new`: the caller has just looked the address up in this unit of work and
    found nobody (the unique index still refuses a user created since). `new_tenant`:
    the tenant was formed in this unit of work, so nobody in it can look alike. `mail`
    (the address, when it is not the user name) and `external_user_state`: a guest's
    (`directory.guests.create_guest`).
    """
    principal_name = principal_name_key(principal_name)
    for field, value in (
        ("displayName", display_name),
        ("givenName", given_name),
        ("surname", surname),
    ):
        check_person_name(value, field=field)
    if not known_new and await get_by_principal_name(
        db_session=db_session, principal_name=principal_name
    ):
        raise UserAlreadyExists(
            f"A user with the address {principal_name} already exists.", target="userPrincipalName"
        )
    name_skeleton = spoofing.principal_name_skeleton(principal_name)
    if not new_tenant:
        await _refuse_lookalike(db_session, tenant_id, principal_name, name_skeleton)
    user = User(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_principal_name=principal_name,
        mail=mail or principal_name,
        display_name=display_name,
        given_name=given_name,
        surname=surname,
        source=source.value,
        usage_location=usage_location,
        account_enabled=account_enabled,
        password_hash=password_hash,
        must_change_password=must_change_password,
        preferred_language=preferred_language,
        failed_sign_ins=0,
        created_at=clock.now(),
        name_skeleton=name_skeleton,
        external_user_state=external_user_state,
        external_user_state_changed_at=clock.now() if external_user_state else None,
    )
    if known_new:
        # The caller settles a race on the address by running its whole unit of work again
        # (sign-up: `Database.attempts`); what it added before goes in this same flush.
        db_session.add(user)
        await db_session.flush()
    else:
        await db_session.flush()  # what the caller added before is not this insert's concern
        try:
            # A savepoint: losing to a user created at this very moment leaves the
            # transaction usable, and the loser gets the same refusal as a late comer.
            async with db_session.begin_nested():
                db_session.add(user)
        except IntegrityError as exc:
            # Lost to a user created at this moment: with this address, or one alike.
            await _refuse_lookalike(db_session, tenant_id, principal_name, name_skeleton)
            raise UserAlreadyExists(
                f"A user with the address {principal_name} already exists.",
                target="userPrincipalName",
            ) from exc
    audit.record(
        db_session,
        actor=actor,
        action="Add user",
        target_type="user",
        target_id=user.id,
        tenant_id=tenant_id,
        details={"userPrincipalName": principal_name, "source": source.value},
    )
    return user


async def _refuse_lookalike(
    db_session: AsyncSession, tenant_id: uuid.UUID, principal_name: str, name_skeleton: str
) -> None:
    """ConfusableUserName when another user of the tenant has an address that looks like
    this one (the same UTS #39 skeleton, `directory.spoofing`).

    The unique index on (tenant_id, name_skeleton) settles a race: of two look-alikes
    created at once, the second insert fails, and its caller's retry lands here.
    """
    lookalike = await db_session.scalar(
        select(User.user_principal_name)
        .where(User.tenant_id == tenant_id, User.name_skeleton == name_skeleton)
        .limit(1)
    )
    if lookalike is not None and lookalike != principal_name:
        raise ConfusableUserName(
            f"{principal_name} looks too much like the user name of {lookalike}, who already "
            "exists: people could mistake one for the other. Choose another user name.",
            target="userPrincipalName",
            details={"similarTo": lookalike},
        )


def _user_match(tenant_id: uuid.UUID) -> Any:
    def match(kinds: Sequence[str], prefix: str) -> Any:
        # IN (…), not a correlated EXISTS: both databases can start from the terms index.
        return User.id.in_(
            select(UserSearchTerm.user_id).where(
                UserSearchTerm.tenant_id == tenant_id,
                UserSearchTerm.kind.in_(kinds),
                prefix_range(UserSearchTerm.term, prefix),
            )
        )

    return match


def _usage_location_eq(value: Any) -> Any:
    code = expect_text("usageLocation", nullable=True)(value)
    return User.usage_location.is_(None) if code is None else User.usage_location == code.upper()


def _source_eq(value: Any) -> Any:
    source = expect_text("source")(value)
    if source not in {s.value for s in Source}:
        raise InvalidFilter(
            "source is one of " + ", ".join(repr(s.value) for s in Source) + ".", target="$filter"
        )
    return User.source == source


def _user_type_eq(value: Any) -> Any:
    """Graph's userType: Guest for the users of `source` guest, Member for everyone else."""
    user_type = expect_text("userType")(value)
    if user_type not in ("Member", "Guest"):
        raise InvalidFilter("userType is 'Member' or 'Guest'.", target="$filter")
    if user_type == "Guest":
        return User.source == Source.GUEST.value
    return User.source != Source.GUEST.value


def _external_user_state_eq(value: Any) -> Any:
    state = expect_text("externalUserState", nullable=True)(value)
    if state is None:
        return User.external_user_state.is_(None)
    return User.external_user_state == state


def _address_eq(column: Any, name: str) -> Any:
    check = expect_text(name)
    return lambda value: column == principal_name_key(check(value) or "")


USERS = Queryable(
    name="users",
    id_attribute="id",
    properties={
        "accountEnabled": FilterProperty(
            eq=lambda v: User.account_enabled == expect_bool("accountEnabled")(v)
        ),
        "usageLocation": FilterProperty(eq=_usage_location_eq),
        "source": FilterProperty(eq=_source_eq),
        "userType": FilterProperty(eq=_user_type_eq),
        "externalUserState": FilterProperty(eq=_external_user_state_eq),
        "displayName": FilterProperty(
            eq=lambda v: User.display_name_key == sort_key(expect_text("displayName")(v) or ""),
            startswith=lambda v: prefix_range(User.display_name_key, fold(v)),
        ),
        "userPrincipalName": FilterProperty(
            eq=_address_eq(User.user_principal_name, "userPrincipalName"),
            startswith=lambda v: prefix_range(User.user_principal_name, v.strip().lower()),
        ),
        "mail": FilterProperty(
            eq=_address_eq(User.mail, "mail"),
            startswith=lambda v: prefix_range(User.mail, v.strip().lower()),
        ),
    },
    orderings={"displayName": "display_name_key", "userPrincipalName": "user_principal_name"},
    default_order="displayName",
    search_kinds={"displayName": NAME, "mail": ADDRESS, "userPrincipalName": ADDRESS},
)


async def list_users(
    *,
    db_session: AsyncSession,
    tenant_id: uuid.UUID,
    params: ListParams,
    group_id: uuid.UUID | None = None,
) -> Page[User]:
    """A page of the tenant's users (or of one group's members) under `$filter`, `$search`, …."""
    query: Select[tuple[User]] = select(User).where(User.tenant_id == tenant_id)
    if group_id is not None:
        query = query.join(
            GroupMember,
            and_(GroupMember.tenant_id == User.tenant_id, GroupMember.user_id == User.id),
        ).where(GroupMember.group_id == group_id)
    return await page(
        db_session=db_session,
        query=query,
        entity=User,
        queryable=USERS,
        params=params,
        match=_user_match(tenant_id),
    )


def check_text(value: str | None, *, field: str) -> None:
    """InvalidValue when a text holds U+0000 (PostgreSQL text cannot hold it; no text has it)."""
    if value is not None and "\x00" in value:
        raise InvalidValue(f"{field} cannot contain the NUL character.", target=field)


def check_person_name(value: str | None, *, field: str) -> None:
    """InvalidValue when a name people read holds a character that hides what it says
    (control characters, line breaks, bidi overrides, zero-width characters)."""
    check_text(value, field=field)
    spoofing.check_person_name(value, field=field)


def check_name(
    value: str | None, *, field: str, limit: int, required: bool, free_text: bool = False
) -> str | None:
    """A name without its outer spaces, at most `limit` characters; None when optional and empty.

    `free_text` (a description): line breaks and other characters a name may not hold are
    allowed; only U+0000 is refused.
    """
    if free_text:
        check_text(value, field=field)
    else:
        check_person_name(value, field=field)
    if value is None:
        if required:
            raise InvalidValue(f"{field} is required.", target=field)
        return None
    value = value.strip()
    if required and not value:
        raise InvalidValue(f"{field} cannot be empty.", target=field)
    if len(value) > limit:
        raise InvalidValue(f"{field} is longer than {limit} characters.", target=field)
    return value or None


async def update(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    user: User,
    display_name: str | Unset = UNSET,
    given_name: str | Unset | None = UNSET,
    surname: str | Unset | None = UNSET,
    usage_location: str | Unset | None = UNSET,
    account_enabled: bool | Unset = UNSET,
    by_sync: bool = False,
) -> User:
    """Change a user's names, usage location or sign-in; blocking sign-in ends their sessions.

    Names and sign-in of a synced user belong to the directory that provides
    them (`by_sync` is how that directory's provisioning changes them).
    """
    wanted: dict[str, Any] = {}
    if display_name is not UNSET:
        wanted["display_name"] = check_name(
            display_name, field="displayName", limit=256, required=True
        )
    if given_name is not UNSET:
        wanted["given_name"] = check_name(given_name, field="givenName", limit=128, required=False)
    if surname is not UNSET:
        wanted["surname"] = check_name(surname, field="surname", limit=128, required=False)
    if usage_location is not UNSET:
        wanted["usage_location"] = normalize_usage_location(usage_location)
    if account_enabled is not UNSET:
        wanted["account_enabled"] = bool(account_enabled)
    changes = {name: value for name, value in wanted.items() if getattr(user, name) != value}
    if not changes:
        return user
    if not by_sync:
        managed = sorted(
            set(changes) & {"display_name", "given_name", "surname", "account_enabled"}
        )
        if user.source == Source.SYNCED.value and managed:
            raise PropertyManagedBySync(
                "This user is synced from your other directory: change their names and "
                "sign-in there.",
                target=_GRAPH_NAMES[managed[0]],
            )
        if user.source == Source.SYNCED.value:
            owned = await events.owned_properties(db_session=db_session, user=user)
            refused = sorted(owned & {_GRAPH_NAMES[name] for name in changes})
            if refused:
                raise PropertyManagedBySync(
                    f"This user is synced from your other directory, which provides their "
                    f"{refused[0]}: change it there.",
                    target=refused[0],
                )
        await directory_roles.ensure_may_manage(db_session, actor, user)
    blocking = changes.get("account_enabled") is False
    if blocking and await directory_roles.is_global_admin(db_session, user):
        await directory_roles.ensure_other_global_admin(
            db_session, tenant_id=user.tenant_id, user_id=user.id, doing="block this user"
        )
    modified = {
        _GRAPH_NAMES[name]: {"oldValue": getattr(user, name), "newValue": value}
        for name, value in changes.items()
    }
    for name, value in changes.items():
        setattr(user, name, value)
    if blocking:
        await events.sign_in_blocked(
            db_session=db_session, actor=actor, tenant_id=user.tenant_id, user_id=user.id
        )
    await db_session.flush()
    audit.record(
        db_session,
        actor=actor,
        action="Update user",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        details={"userPrincipalName": user.user_principal_name, "modifiedProperties": modified},
    )
    if "account_enabled" in changes:
        audit.record(
            db_session,
            actor=actor,
            action="Enable account" if user.account_enabled else "Disable account",
            target_type="user",
            target_id=user.id,
            tenant_id=user.tenant_id,
            details={"userPrincipalName": user.user_principal_name},
        )
    return user


_GRAPH_NAMES = {
    "display_name": "displayName",
    "given_name": "givenName",
    "surname": "surname",
    "usage_location": "usageLocation",
    "account_enabled": "accountEnabled",
}


async def delete_user(
    *, db_session: AsyncSession, actor: audit.Actor, user: User, by_sync: bool = False
) -> None:
    """Delete a user for good: their sessions, roles and memberships go with them.

    Their licenses must be released first (`directory.flows.delete_user` does).
    """
    if user.source == Source.SYNCED.value and not by_sync:
        raise PropertyManagedBySync(
            "This user is synced from your other directory: delete them there.", target="id"
        )
    if not by_sync:
        await directory_roles.ensure_may_manage(db_session, actor, user)
    if await directory_roles.is_global_admin(db_session, user):
        await directory_roles.ensure_other_global_admin(
            db_session, tenant_id=user.tenant_id, user_id=user.id, doing="delete this user"
        )
    await events.user_deleting(
        db_session=db_session, actor=actor, tenant_id=user.tenant_id, user_id=user.id
    )
    user_id, tenant_id, principal_name = user.id, user.tenant_id, user.user_principal_name
    await db_session.delete(user)
    try:
        await db_session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "This user still has records that keep them (such as licenses): remove those first.",
            code="userInUse",
        ) from exc
    audit.record(
        db_session,
        actor=actor,
        action="Delete user",
        target_type="user",
        target_id=user_id,
        tenant_id=tenant_id,
        details={"userPrincipalName": principal_name},
    )


async def send_message_to_all(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    subject: str,
    body: str,
) -> int:
    """One email per active user of the tenant, written to the outbox in one statement."""
    check_text(subject, field="subject")
    if any(ord(char) < 32 or ord(char) == 127 for char in subject):
        # A line break in a mail header would end it (and could add headers of its own).
        raise InvalidValue("subject must be one line of text.", target="subject")
    recipients = select(User.mail).where(
        User.tenant_id == tenant_id, User.account_enabled.is_(True), User.mail.is_not(None)
    )
    count = await mail.enqueue_select(
        db_session, recipients=recipients, subject=subject, body_text=body, tenant_id=tenant_id
    )
    audit.record(
        db_session,
        actor=actor,
        action="Send message to all users",
        target_type="tenant",
        target_id=tenant_id,
        tenant_id=tenant_id,
        details={"subject": subject, "recipients": count},
    )
    return count


async def count_members(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """How many users a tenant has."""
    return (
        await db_session.scalar(
            select(func.count()).select_from(User).where(User.tenant_id == tenant_id)
        )
        or 0
    )


async def get_many(*, db_session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> list[User]:
    """Users by id, in one query."""
    ids = list(user_ids)
    if not ids:
        return []
    return list((await db_session.scalars(select(User).where(User.id.in_(ids)))).all())


async def get_many_by_principal_name(
    *, db_session: AsyncSession, tenant_id: uuid.UUID | None, principal_names: Iterable[str]
) -> dict[str, User]:
    """The tenant's users (any tenant's, with `tenant_id` None) among these sign-in
    addresses, in one query, by their stored form (`principal_name_key`).

    An address holding U+0000 finds nobody, as in `get_by_principal_name`.
    """
    wanted = sorted(
        {
            principal_name_key(name)
            for name in principal_names
            if name.strip() and "\x00" not in name
        }
    )
    if not wanted:
        return {}
    query = select(User).where(User.user_principal_name.in_(wanted))
    if tenant_id is not None:
        query = query.where(User.tenant_id == tenant_id)
    return {user.user_principal_name: user for user in (await db_session.scalars(query)).all()}
