"""Reading a partner account's members: the list, one member, their roles and who they are.

The list goes in the order members were added (`created_at`, then the row's id, which
the `$skiptoken` holds), so pages stay put while members are added; `$filter` takes
`tenantId eq`, `memberType eq` and `role eq`, each answered through an index. A page
costs four queries whatever its size: the members, their roles, their users, their groups.
A member is named by its user's or group's id (as Graph names members), or its user's
sign-in address.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.db import UTCDateTime
from tenantry.core.paging import decode_token, encode_token
from tenantry.directory import groups as directory_groups
from tenantry.directory import users as directory_users
from tenantry.directory.exceptions import InvalidFilter, InvalidSkipToken
from tenantry.directory.models import Group, User
from tenantry.directory.query import FilterProperty, Queryable, expect_text, parse_filter
from tenantry.partner.access import ROLES, Access
from tenantry.partner.exceptions import MemberNotFound
from tenantry.partner.models import PartnerAccountMember, PartnerMemberRole

DEFAULT_TOP = 100
MAX_TOP = 999
USER = "user"
GROUP = "group"


@dataclass
class MemberEntry:
    """A member as the API shows it: the row, its roles, the user or group it is."""

    member: PartnerAccountMember
    roles: list[str]
    user: User | None = None
    group: Group | None = None
    temporary_password: str | None = None


@dataclass(frozen=True)
class MemberPage:
    items: list[MemberEntry]
    next_skip_token: str | None


async def roles_of(
    db_session: AsyncSession, member_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """Each member's roles, in the roles' own order (one query)."""
    found: dict[uuid.UUID, set[str]] = {member_id: set() for member_id in member_ids}
    if member_ids:
        query = select(PartnerMemberRole.member_id, PartnerMemberRole.role).where(
            PartnerMemberRole.member_id.in_(list(member_ids))
        )
        for member_id, role in (await db_session.execute(query)).all():
            found[member_id].add(role)
    return {member_id: [r for r in ROLES if r in held] for member_id, held in found.items()}


async def entries(
    db_session: AsyncSession, rows: Sequence[PartnerAccountMember]
) -> list[MemberEntry]:
    """The members with their roles, users and groups: three queries, whatever the count."""
    roles = await roles_of(db_session, [row.id for row in rows])
    users = {
        user.id: user
        for user in await directory_users.get_many(
            db_session=db_session, user_ids=[r.user_id for r in rows if r.user_id is not None]
        )
    }
    groups = {
        group.id: group
        for group in await directory_groups.get_many(
            db_session=db_session,
            tenant_ids={r.tenant_id for r in rows if r.group_id is not None},
            group_ids=[r.group_id for r in rows if r.group_id is not None],
        )
    }
    return [
        MemberEntry(
            member=row,
            roles=roles[row.id],
            user=users.get(row.user_id) if row.user_id else None,
            group=groups.get(row.group_id) if row.group_id else None,
        )
        for row in rows
    ]


def _tenant_eq(value: Any) -> ColumnElement[bool]:
    try:
        tenant_id = uuid.UUID(str(expect_text("tenantId")(value)))
    except ValueError:
        raise InvalidFilter("tenantId is compared with a tenant id.", target="$filter") from None
    return PartnerAccountMember.tenant_id == tenant_id


def _member_type_eq(value: Any) -> ColumnElement[bool]:
    kind = expect_text("memberType")(value)
    if kind == USER:
        return PartnerAccountMember.user_id.is_not(None)
    if kind == GROUP:
        return PartnerAccountMember.group_id.is_not(None)
    raise InvalidFilter("memberType is 'user' or 'group'.", target="$filter")


def _role_eq(value: Any) -> ColumnElement[bool]:
    role = expect_text("role")(value)
    if role not in ROLES:
        raise InvalidFilter("role is one of " + ", ".join(ROLES) + ".", target="$filter")
    return exists().where(
        PartnerMemberRole.member_id == PartnerAccountMember.id,
        PartnerMemberRole.partner_account_id == PartnerAccountMember.partner_account_id,
        PartnerMemberRole.role == role,
    )


MEMBERS = Queryable(
    name="partner account members",
    id_attribute="id",
    properties={
        "tenantId": FilterProperty(eq=_tenant_eq),
        "memberType": FilterProperty(eq=_member_type_eq),
        "role": FilterProperty(eq=_role_eq),
    },
    orderings={"addedDateTime": "created_at"},
    default_order="addedDateTime",
    search_kinds={},
)


def _keyset(token: str) -> ColumnElement[bool]:
    """Rows after the one a `$skiptoken` names (the list goes by when members were added)."""
    payload = decode_token(token) or {}
    try:
        added = datetime.fromisoformat(str(payload["t"]))
        member_id = uuid.UUID(str(payload["i"]))
        if added.tzinfo is None:
            raise ValueError("not a time of this list")
    except (KeyError, ValueError) as exc:
        raise InvalidSkipToken(
            "The $skiptoken is not valid: follow @odata.nextLink as given.", target="$skiptoken"
        ) from exc
    return tuple_(PartnerAccountMember.created_at, PartnerAccountMember.id) > tuple_(
        literal(added, UTCDateTime()), literal(member_id, PartnerAccountMember.id.type)
    )


async def list_members(
    *,
    db_session: AsyncSession,
    rights: Access,
    filter_text: str | None,
    top: int,
    skip_token: str | None,
) -> MemberPage:
    """One page of the account's members (any member or an operator reads them)."""
    query: Select[tuple[PartnerAccountMember]] = select(PartnerAccountMember).where(
        PartnerAccountMember.partner_account_id == rights.account.id,
        *parse_filter(filter_text or "", MEMBERS),
    )
    if skip_token:
        query = query.where(_keyset(skip_token))
    top = max(1, min(top, MAX_TOP))
    rows = list(
        (
            await db_session.scalars(
                query.order_by(PartnerAccountMember.created_at, PartnerAccountMember.id).limit(
                    top + 1
                )
            )
        ).all()
    )
    next_token = None
    if len(rows) > top:
        rows = rows[:top]
        last = rows[-1]
        next_token = encode_token({"t": last.created_at.isoformat(), "i": str(last.id)})
    return MemberPage(items=await entries(db_session, rows), next_skip_token=next_token)


async def find(
    db_session: AsyncSession, *, account_id: uuid.UUID, key: str, language: str
) -> PartnerAccountMember:
    """A member by its user's or group's id, or its user's sign-in address; 404 otherwise."""
    query = select(PartnerAccountMember).where(
        PartnerAccountMember.partner_account_id == account_id
    )
    try:
        object_id = uuid.UUID(key)
    except ValueError:
        user = await directory_users.get_by_principal_name(
            db_session=db_session, principal_name=key
        )
        if user is None:
            raise MemberNotFound(language) from None
        query = query.where(PartnerAccountMember.user_id == user.id)
    else:
        query = query.where(
            (PartnerAccountMember.user_id == object_id)
            | (PartnerAccountMember.group_id == object_id)
        )
    member = await db_session.scalar(query)
    if member is None:
        raise MemberNotFound(language)
    return member


async def get_member(
    *, db_session: AsyncSession, rights: Access, key: str, language: str
) -> MemberEntry:
    """One member of the account."""
    member = await find(db_session, account_id=rights.account.id, key=key, language=language)
    return (await entries(db_session, [member]))[0]
