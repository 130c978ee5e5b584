"""Members of an engagement: who holds which role, added and removed by owners and Power Users.

The rules (Microsoft Collaborate's "Managing users"; SPEC §3.8):
- Roles: `participant`, `powerUser`, `contentPublisher`, `owner`. Owners and content
  publishers are the operator's side (operators only); participants and Power Users are
  partner users, of a partner account the engagement is open to.
- Owners manage every member; the people they may add are those of the engagement's named
  organizations (every active partner account when it is open to all).
- A Power User adds and removes Participants and Power Users of their own partner account
  only (anyone else: 403), several at once, optionally with an invitation email. A Power
  User is not a Participant unless added as one.
- The list shows each member's last access. Owners see every member with name and
  organization; a Power User sees their own organization's members, and of the others only
  the organization's name and how many they are.
- Removing someone from an engagement leaves their partner account and tenant account alone.
Every change is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.paging import decode_token, encode_token
from tenantry.directory.models import User, UserSearchTerm
from tenantry.directory.search import fold, prefix_upper_bound
from tenantry.engagements import access, identity, messaging
from tenantry.engagements.access import Access
from tenantry.engagements.exceptions import (
    EngagementClosed,
    LastEngagementOwner,
    MemberNotFound,
    MemberOutsideEngagement,
    MemberOutsideYourOrganization,
    NotEngagementManager,
    OperatorRoleRequired,
    RoleNotYours,
)
from tenantry.engagements.identity import Caller
from tenantry.engagements.models import (
    CLOSED,
    OWNER,
    PARTNER_ROLES,
    ROLE_COLUMNS,
    Engagement,
    EngagementAudience,
    EngagementMember,
)
from tenantry.partner.models import ACTIVE as ACCOUNT_ACTIVE
from tenantry.partner.models import PartnerAccount, PlatformOperator

MAX_AT_ONCE = 100
DEFAULT_TOP = 100
MAX_TOP = 10_000
CANDIDATES = 50


async def managed(db_session: AsyncSession, caller: Caller, engagement_id: uuid.UUID) -> Access:
    """The engagement, for its owners and Power Users; 403 for others who see it, else 404."""
    seen = await access.access_to(db_session, caller, engagement_id)
    if not seen.is_owner and seen.power_user_account is None:
        raise NotEngagementManager(caller.language)
    return seen


def _prefix_match(search: str | None) -> Any:
    """A condition on `User`: a word of the name or address starts with the search."""
    words = fold(search or "").split()
    if not words:
        return None
    conditions = []
    for word in words[:4]:
        upper = prefix_upper_bound(word)
        term = UserSearchTerm.term >= word
        if upper is not None:
            term = term & (UserSearchTerm.term < upper)
        conditions.append(
            User.id.in_(
                select(UserSearchTerm.user_id).where(
                    UserSearchTerm.tenant_id == User.tenant_id, term
                )
            )
        )
    return conditions


@dataclass(frozen=True)
class MemberRow:
    member: EngagementMember
    user: User
    organization: str | None  # the partner account's publisher name (None: operator side)


@dataclass(frozen=True)
class Organization:
    partner_account_id: uuid.UUID | None
    display_name: str | None
    member_count: int


async def list_members(
    *,
    db_session: AsyncSession,
    caller: Caller,
    engagement_id: uuid.UUID,
    role: str | None = None,
    search: str | None = None,
    top: int = DEFAULT_TOP,
    skip_token: str | None = None,
) -> tuple[Access, list[MemberRow], list[Organization], str | None]:
    """The members the caller may see (see the module's rules), by name, a page at a time;
    the organizations' counts; the next page's token."""
    seen = await managed(db_session, caller, engagement_id)
    query = (
        select(EngagementMember, User, PartnerAccount.publisher_display_name)
        .join(User, User.id == EngagementMember.user_id)
        .outerjoin(PartnerAccount, PartnerAccount.id == EngagementMember.partner_account_id)
        .where(EngagementMember.engagement_id == engagement_id, access.membership_counts())
    )
    if not seen.is_owner:
        query = query.where(EngagementMember.partner_account_id == seen.power_user_account)
    if role is not None:
        query = query.where(getattr(EngagementMember, ROLE_COLUMNS[role]))
    for condition in _prefix_match(search) or []:
        query = query.where(condition)
    if skip_token is not None:
        after = decode_token(skip_token) or {}
        try:
            key, last = str(after["key"]), uuid.UUID(str(after["id"]))
        except (KeyError, ValueError):
            raise MemberNotFound(caller.language) from None
        query = query.where(tuple_(User.display_name_key, User.id) > (key, last))
    top = max(1, min(top, MAX_TOP))
    rows = (
        await db_session.execute(query.order_by(User.display_name_key, User.id).limit(top + 1))
    ).all()
    found = [MemberRow(*row) for row in rows[:top]]
    token = None
    if len(rows) > top:
        token = encode_token({"key": found[-1].user.display_name_key, "id": str(found[-1].user.id)})
    counts = await db_session.execute(
        select(
            EngagementMember.partner_account_id,
            PartnerAccount.publisher_display_name,
            func.count(),
        )
        .outerjoin(PartnerAccount, PartnerAccount.id == EngagementMember.partner_account_id)
        .where(EngagementMember.engagement_id == engagement_id, access.membership_counts())
        .group_by(EngagementMember.partner_account_id, PartnerAccount.publisher_display_name)
        .order_by(PartnerAccount.publisher_display_name)
    )
    organizations = [Organization(*row) for row in counts.all()]
    return seen, found, organizations, token


async def _open_accounts(db_session: AsyncSession, engagement: Engagement) -> Any:
    """The ids of the active partner accounts the engagement is open to (a subquery)."""
    query = select(PartnerAccount.id).where(PartnerAccount.state == ACCOUNT_ACTIVE)
    if not engagement.all_partner_accounts:
        query = query.where(
            PartnerAccount.id.in_(
                select(EngagementAudience.partner_account_id).where(
                    EngagementAudience.engagement_id == engagement.id
                )
            )
        )
    return query


async def candidates(
    *, db_session: AsyncSession, caller: Caller, engagement_id: uuid.UUID, search: str | None
) -> tuple[list[tuple[User, PartnerAccount]], dict[uuid.UUID, EngagementMember]]:
    """People the caller may add: of their own organization (a Power User) or of the
    engagement's organizations (an owner), whose name or address starts with the search."""
    seen = await managed(db_session, caller, engagement_id)
    if seen.is_owner:
        accounts = await _open_accounts(db_session, seen.engagement)
    else:
        accounts = select(PartnerAccount.id).where(
            PartnerAccount.id == seen.power_user_account, PartnerAccount.state == ACCOUNT_ACTIVE
        )
    query = (
        select(User, PartnerAccount)
        .join(PartnerAccount, identity.account_people(PartnerAccount.tenant_id))
        .where(PartnerAccount.id.in_(accounts), User.account_enabled)
    )
    for condition in _prefix_match(search) or []:
        query = query.where(condition)
    rows = [
        (user, account)
        for user, account in (
            await db_session.execute(
                query.order_by(User.display_name_key, User.id).limit(CANDIDATES)
            )
        ).all()
    ]
    held = {
        member.user_id: member
        for member in await db_session.scalars(
            select(EngagementMember).where(
                EngagementMember.engagement_id == engagement_id,
                EngagementMember.user_id.in_([user.id for user, _ in rows]),
            )
        )
    }
    return rows, held


async def add(
    *,
    db_session: AsyncSession,
    caller: Caller,
    engagement_id: uuid.UUID,
    user_ids: list[uuid.UUID],
    role: str,
    send_invitation: bool,
    inviter: User,
    base_url: str,
) -> list[MemberRow]:
    """Give several people one role at once (those who hold it keep it); invite them by email
    when asked. All or nothing: one person the caller may not add refuses the whole request."""
    language = caller.language
    seen = await managed(db_session, caller, engagement_id)
    engagement = seen.engagement
    if engagement.state == CLOSED:
        raise EngagementClosed(language)
    if not seen.is_owner and role not in PARTNER_ROLES:
        raise RoleNotYours(language)
    wanted = list(dict.fromkeys(user_ids))[:MAX_AT_ONCE]
    outside: type[MemberOutsideEngagement | MemberOutsideYourOrganization] = (
        MemberOutsideEngagement if seen.is_owner else MemberOutsideYourOrganization
    )
    users = list(
        await db_session.scalars(
            select(User).where(User.id.in_(wanted), User.account_enabled).order_by(User.id)
        )
    )
    if len(users) != len(wanted):
        raise outside(language)
    accounts: dict[uuid.UUID, uuid.UUID | None] = {}
    if role in PARTNER_ROLES:
        of_people = await identity.accounts_of_people(db_session, users)
        if seen.is_owner:
            allowed = set(await db_session.scalars(await _open_accounts(db_session, engagement)))
        else:
            allowed = {seen.power_user_account}
        for user in users:
            account = of_people.get(user.id)
            if account is None or account.id not in allowed or account.state != ACCOUNT_ACTIVE:
                raise outside(language)
            accounts[user.id] = account.id
    else:
        operators = set(
            await db_session.scalars(
                select(PlatformOperator.user_id).where(PlatformOperator.user_id.in_(wanted))
            )
        )
        if operators != set(wanted):
            raise OperatorRoleRequired(language)
    existing = {
        member.user_id: member
        for member in await db_session.scalars(
            select(EngagementMember)
            .where(
                EngagementMember.engagement_id == engagement_id,
                EngagementMember.user_id.in_(wanted),
            )
            .with_for_update()
        )
    }
    now = clock.now()
    column = ROLE_COLUMNS[role]
    rows: list[MemberRow] = []
    for user in users:
        member = existing.get(user.id)
        if member is None:
            member = EngagementMember(
                engagement_id=engagement_id,
                user_id=user.id,
                partner_account_id=accounts.get(user.id),
                added_by=caller.user_id,
                added_at=now,
                last_access_at=now,
            )
            for flag in ROLE_COLUMNS.values():
                setattr(member, flag, False)
            db_session.add(member)
        elif member.partner_account_id is None and accounts.get(user.id) is not None:
            member.partner_account_id = accounts[user.id]
        if not getattr(member, column):
            setattr(member, column, True)
            audit.record(
                db_session,
                actor=caller.actor,
                action="engagement.memberAdded",
                target_type="engagement",
                target_id=engagement_id,
                details={"userId": str(user.id), "role": role},
            )
            if send_invitation:
                messaging.send_invitation(
                    db_session,
                    engagement=engagement,
                    member=user,
                    inviter=inviter,
                    role=role,
                    base_url=base_url,
                )
        rows.append(MemberRow(member, user, None))
    # Someone added by another request at the same moment: the primary key speaks here.
    await db_session.flush()
    return rows


async def remove(
    *,
    db_session: AsyncSession,
    caller: Caller,
    engagement_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str | None,
) -> EngagementMember | None:
    """Take one role (or every role the caller manages) from a member; the row goes with its
    last role. Their partner account and tenant account stay as they are."""
    language = caller.language
    seen = await managed(db_session, caller, engagement_id)
    member = await db_session.scalar(
        select(EngagementMember)
        .where(
            EngagementMember.engagement_id == engagement_id,
            EngagementMember.user_id == user_id,
            access.membership_counts(),
        )
        .with_for_update()
    )
    if member is None:
        raise MemberNotFound(language)
    if not seen.is_owner:
        if member.partner_account_id != seen.power_user_account:
            raise MemberOutsideYourOrganization(language)
        if role is not None and role not in PARTNER_ROLES:
            raise RoleNotYours(language)
    manageable = set(ROLE_COLUMNS) if seen.is_owner else set(PARTNER_ROLES)
    roles = [role] if role is not None else [r for r in member.roles() if r in manageable]
    roles = [r for r in roles if getattr(member, ROLE_COLUMNS[r])]
    if not roles:
        raise MemberNotFound(language)
    if OWNER in roles:
        owners = await db_session.scalar(
            select(func.count()).where(
                EngagementMember.engagement_id == engagement_id, EngagementMember.is_owner
            )
        )
        if (owners or 0) <= 1:
            raise LastEngagementOwner(language)
    for removed in roles:
        setattr(member, ROLE_COLUMNS[removed], False)
    audit.record(
        db_session,
        actor=caller.actor,
        action="engagement.memberRemoved",
        target_type="engagement",
        target_id=engagement_id,
        details={"userId": str(user_id), "roles": roles},
    )
    if not member.roles():
        await db_session.delete(member)
        await db_session.flush()
        return None
    await db_session.flush()
    return member
