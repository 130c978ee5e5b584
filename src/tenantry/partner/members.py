"""A partner account's members: users and groups of its linked tenants, with their roles.

The rules (SPEC §3.7; seed 003, "Comment configurer l'accès pour plusieurs utilisateurs"):
- Owners and Managers add several users and groups of the linked tenants at once, with
  one or more roles; someone already a member keeps their roles and gains these. All or
  nothing: one id that is not a user or group of a linked tenant (unknown, or another
  organization's: the same answer) refuses the whole request.
- A Global Administrator of their tenant (linked, since they are a member) may also
  create new users of that tenant here; the directory's own user creation makes them, with
  a temporary password shown once.
- A member's roles may change; a member may be removed, which leaves their tenant account
  as it is. Only an Owner gives or takes the Owner role.
- The account always keeps a user holding the Owner role (`access.ensure_an_owner`): every
  change to members runs under the account's row lock and checks it after the change.
Every change is audited. Reading them: `roster`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core import audit
from tenantry.core.audit import Actor
from tenantry.core.clock import clock
from tenantry.core.errors import TenantryError
from tenantry.directory import flows as directory_flows
from tenantry.directory import groups as directory_groups
from tenantry.directory import users as directory_users
from tenantry.directory.models import Group, User
from tenantry.partner import access, accounts, links, roster
from tenantry.partner.access import ROLES, Access
from tenantry.partner.exceptions import (
    InvalidPartnerRole,
    NoMembersGiven,
    NotGlobalAdministrator,
    PartnerGroupsNotFound,
    PartnerUsersNotFound,
    TooManyPartnerMembers,
)
from tenantry.partner.models import PartnerAccountMember, PartnerMemberRole
from tenantry.partner.roster import GROUP, USER, MemberEntry
from tenantry.tenants.models import Tenant

MAX_MEMBERS_PER_REQUEST = 1000
MAX_NEW_USERS_PER_REQUEST = 50


@dataclass(frozen=True)
class NewUser:
    """A tenant user to create and add, its temporary password already hashed."""

    user_principal_name: str
    display_name: str
    usage_location: str | None
    password_hash: str
    temporary_password: str


@dataclass(frozen=True)
class Added:
    members: list[MemberEntry]
    added: int
    already_members: int


def check_roles(roles: Iterable[str], language: str) -> list[str]:
    """The roles asked for, each once, in the roles' own order; unknown or none → 400."""
    asked = set(roles)
    unknown = sorted(asked - set(ROLES))
    if unknown or not asked:
        raise InvalidPartnerRole(language, ", ".join(repr(role) for role in unknown) or "[]")
    return [role for role in ROLES if role in asked]


async def _resolve_managing(
    db_session: AsyncSession, *, account_id: uuid.UUID, actor: Actor, language: str
) -> Access:
    """The account, locked, for an Owner or Manager (403 for other members, 404 for others)."""
    assert actor.user_id is not None and actor.tenant_id is not None
    rights = await access.resolve(
        db_session=db_session,
        account_id=account_id,
        tenant_id=actor.tenant_id,
        user_id=actor.user_id,
        language=language,
        lock=True,
    )
    access.require_manager(rights, language)
    return rights


# --- adding --------------------------------------------------------------------------------


def _split_user_keys(keys: Sequence[str]) -> tuple[list[uuid.UUID], list[str]]:
    ids: list[uuid.UUID] = []
    addresses: list[str] = []
    for key in keys:
        try:
            ids.append(uuid.UUID(key))
        except ValueError:
            addresses.append(key)
    return ids, addresses


async def _users_of_linked_tenants(
    db_session: AsyncSession, keys: Sequence[str], linked: set[uuid.UUID], language: str
) -> list[User]:
    """The users these ids or addresses name in the linked tenants, in the request's order."""
    ids, addresses = _split_user_keys(keys)
    by_id = {
        user.id: user
        for user in await directory_users.get_many(db_session=db_session, user_ids=ids)
        if user.tenant_id in linked
    }
    by_address = {
        name: user
        for name, user in (
            await directory_users.get_many_by_principal_name(
                db_session=db_session, tenant_id=None, principal_names=addresses
            )
        ).items()
        if user.tenant_id in linked
    }
    found: dict[uuid.UUID, User] = {}
    missing: list[str] = []
    for key in keys:
        try:
            user = by_id.get(uuid.UUID(key))
        except ValueError:
            user = by_address.get(directory_users.principal_name_key(key))
        if user is None:
            missing.append(key[:320])
        else:
            found.setdefault(user.id, user)
    if missing:
        raise PartnerUsersNotFound(language, list(dict.fromkeys(missing)))
    return list(found.values())


async def _groups_of_linked_tenants(
    db_session: AsyncSession, keys: Sequence[str], linked: set[uuid.UUID], language: str
) -> list[Group]:
    ids: dict[str, uuid.UUID | None] = {}
    for key in keys:
        try:
            ids[key] = uuid.UUID(key)
        except ValueError:
            ids[key] = None
    groups = {
        group.id: group
        for group in await directory_groups.get_many(
            db_session=db_session,
            tenant_ids=linked,
            group_ids=[value for value in ids.values() if value is not None],
        )
    }
    missing = [key[:64] for key, value in ids.items() if value is None or value not in groups]
    if missing:
        raise PartnerGroupsNotFound(language, missing)
    found: dict[uuid.UUID, Group] = {}
    for value in ids.values():
        assert value is not None
        found.setdefault(value, groups[value])
    return list(found.values())


async def _create_users(
    db_session: AsyncSession,
    *,
    catalog: Catalog,
    actor: Actor,
    new_users: Sequence[NewUser],
    language: str,
) -> list[tuple[User, str]]:
    """New users of the caller's tenant, made by the directory (a Global Administrator's)."""
    assert actor.user_id is not None and actor.tenant_id is not None
    tenant = await db_session.get(Tenant, actor.tenant_id)
    assert tenant is not None
    if not await accounts.is_global_administrator(
        db_session=db_session, tenant=tenant, user_id=actor.user_id
    ):
        raise NotGlobalAdministrator(language)
    created = []
    for index, new_user in enumerate(new_users):
        try:
            user = await directory_flows.create_user(
                db_session=db_session,
                catalog=catalog,
                actor=actor,
                tenant_id=tenant.id,
                principal_name=new_user.user_principal_name,
                display_name=new_user.display_name,
                password_hash=new_user.password_hash,
                must_change_password=True,
                usage_location=new_user.usage_location,
            )
        except TenantryError as error:
            # Which of the new users was refused, in the body's own terms.
            error.target = f"newUsers[{index}]" + (f".{error.target}" if error.target else "")
            raise
        created.append((user, new_user.temporary_password))
    return created


async def add(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    account_id: uuid.UUID,
    actor: Actor,
    language: str,
    roles: Sequence[str],
    user_keys: Sequence[str] = (),
    group_ids: Sequence[str] = (),
    new_users: Sequence[NewUser] = (),
) -> Added:
    """Add users and groups of the linked tenants (and new users of the caller's tenant) to
    the account with these roles, all at once or not at all."""
    rights = await _resolve_managing(
        db_session, account_id=account_id, actor=actor, language=language
    )
    wanted_roles = check_roles(roles, language)
    access.require_owner_for(rights, wanted_roles, language)
    if not (user_keys or group_ids or new_users):
        raise NoMembersGiven(language)
    if len(new_users) > MAX_NEW_USERS_PER_REQUEST:
        raise TooManyPartnerMembers(language, MAX_NEW_USERS_PER_REQUEST)
    if len(user_keys) + len(group_ids) + len(new_users) > MAX_MEMBERS_PER_REQUEST:
        raise TooManyPartnerMembers(language, MAX_MEMBERS_PER_REQUEST)
    linked = await links.linked_tenant_ids(db_session=db_session, account_id=account_id)
    users = await _users_of_linked_tenants(db_session, list(user_keys), linked, language)
    groups = await _groups_of_linked_tenants(db_session, list(group_ids), linked, language)
    passwords: dict[uuid.UUID, str] = {}
    if new_users:
        for user, password in await _create_users(
            db_session, catalog=catalog, actor=actor, new_users=new_users, language=language
        ):
            users.append(user)
            passwords[user.id] = password

    existing = await _existing(db_session, account_id, users, groups)
    now = clock.now()
    rows: list[PartnerAccountMember] = []
    for principal in [*users, *groups]:
        found = existing.get(principal.id)
        if found is None:
            is_user = isinstance(principal, User)
            found = PartnerAccountMember(
                id=uuid.uuid4(),
                partner_account_id=account_id,
                tenant_id=principal.tenant_id,
                user_id=principal.id if is_user else None,
                group_id=None if is_user else principal.id,
                created_by=actor.user_id,
                created_at=now,
            )
        rows.append(found)
    known = {member.id for member in existing.values()}
    created = [row for row in rows if row.id not in known]
    if created:
        # One INSERT for every new member, and one for every role they lack.
        await db_session.execute(
            insert(PartnerAccountMember),
            [_member_values(row) for row in created],
        )
    held = await roster.roles_of(db_session, [m.id for m in existing.values()])
    missing_roles = [
        {"member_id": row.id, "role": role, "partner_account_id": account_id}
        for row in rows
        for role in wanted_roles
        if role not in held.get(row.id, [])
    ]
    if missing_roles:
        await db_session.execute(insert(PartnerMemberRole), missing_roles)
    gained = {role["member_id"] for role in missing_roles}
    for row in rows:
        if row.id in known and row.id not in gained:
            continue  # a member who held these roles already: nothing changed
        audit.record(
            db_session,
            actor=actor,
            action="partnerAccount.memberRolesChanged"
            if row.id in known
            else "partnerAccount.memberAdded",
            target_type="partnerAccount",
            target_id=account_id,
            details=_audit_details(row, wanted_roles),
        )
    entries = await roster.entries(db_session, rows)
    for entry in entries:
        if entry.member.user_id in passwords:
            entry.temporary_password = passwords[entry.member.user_id]
    return Added(members=entries, added=len(created), already_members=len(rows) - len(created))


def _member_values(row: PartnerAccountMember) -> dict[str, Any]:
    return {
        "id": row.id,
        "partner_account_id": row.partner_account_id,
        "tenant_id": row.tenant_id,
        "user_id": row.user_id,
        "group_id": row.group_id,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }


def _audit_details(row: PartnerAccountMember, roles: Sequence[str]) -> dict[str, Any]:
    kind, object_id = (USER, row.user_id) if row.user_id else (GROUP, row.group_id)
    return {
        "memberType": kind,
        "id": str(object_id),
        "tenantId": str(row.tenant_id),
        "roles": list(roles),
    }


async def _existing(
    db_session: AsyncSession, account_id: uuid.UUID, users: list[User], groups: list[Group]
) -> dict[uuid.UUID, PartnerAccountMember]:
    """The members among these users and groups, by the user's or group's id (one query)."""
    user_ids = [user.id for user in users]
    group_ids = [group.id for group in groups]
    if not user_ids and not group_ids:
        return {}
    query = select(PartnerAccountMember).where(
        PartnerAccountMember.partner_account_id == account_id,
        PartnerAccountMember.user_id.in_(user_ids) | PartnerAccountMember.group_id.in_(group_ids),
    )
    return {
        (member.user_id or member.group_id): member  # type: ignore[misc]
        for member in (await db_session.scalars(query)).all()
    }


# --- changing and removing -----------------------------------------------------------------


async def set_roles(
    *,
    db_session: AsyncSession,
    account_id: uuid.UUID,
    key: str,
    roles: Sequence[str],
    actor: Actor,
    language: str,
) -> MemberEntry:
    """Replace a member's roles; the account keeps an Owner."""
    rights = await _resolve_managing(
        db_session, account_id=account_id, actor=actor, language=language
    )
    wanted = check_roles(roles, language)
    member = await roster.find(db_session, account_id=account_id, key=key, language=language)
    held = (await roster.roles_of(db_session, [member.id]))[member.id]
    access.require_owner_for(rights, set(held) ^ set(wanted), language)
    if set(held) != set(wanted):
        await db_session.execute(
            delete(PartnerMemberRole).where(
                PartnerMemberRole.member_id == member.id, PartnerMemberRole.role.not_in(wanted)
            )
        )
        added = [role for role in wanted if role not in held]
        if added:
            await db_session.execute(
                insert(PartnerMemberRole),
                [
                    {"member_id": member.id, "role": role, "partner_account_id": account_id}
                    for role in added
                ],
            )
        await access.ensure_an_owner(
            db_session=db_session, account_id=account_id, language=language
        )
        details = _audit_details(member, wanted) | {"previousRoles": held}
        audit.record(
            db_session,
            actor=actor,
            action="partnerAccount.memberRolesChanged",
            target_type="partnerAccount",
            target_id=account_id,
            details=details,
        )
    return (await roster.entries(db_session, [member]))[0]


async def remove(
    *, db_session: AsyncSession, account_id: uuid.UUID, key: str, actor: Actor, language: str
) -> None:
    """Take a member out of the account (their tenant account stays); it keeps an Owner."""
    rights = await _resolve_managing(
        db_session, account_id=account_id, actor=actor, language=language
    )
    member = await roster.find(db_session, account_id=account_id, key=key, language=language)
    held = (await roster.roles_of(db_session, [member.id]))[member.id]
    access.require_owner_for(rights, held, language)
    details = _audit_details(member, held)
    await db_session.execute(
        delete(PartnerAccountMember)
        .where(PartnerAccountMember.id == member.id)
        .execution_options(synchronize_session=False)
    )
    await access.ensure_an_owner(db_session=db_session, account_id=account_id, language=language)
    audit.record(
        db_session,
        actor=actor,
        action="partnerAccount.memberRemoved",
        target_type="partnerAccount",
        target_id=account_id,
        details=details,
    )
