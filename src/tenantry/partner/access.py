"""Who may see and change a partner account: its roles, and a person's rights in it.

The rules (SPEC §3.7, seed 003 "Comment configurer l'accès pour plusieurs utilisateurs"):
- An account's roles are Owner (who enrolled), Manager (everything but finance; links
  tenants), Developer, Business Contributor, Finance Contributor and Marketer. Users and
  groups of a linked tenant hold them; a person's rights are the union of their own roles
  and those of the groups they belong to.
- Any member reads the account, its linked tenants and its members; Owners and Managers
  change them. Only an Owner gives or takes the Owner role, so a Manager cannot make
  themselves Owner.
- Operators of the partner program read every account (they change its state, not its
  members).
- To anyone else an account does not exist: every route answers 404, as for an id that
  names nothing, so another account's ids leak nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.directory import groups as directory_groups
from tenantry.partner import service
from tenantry.partner.exceptions import (
    LastOwner,
    OwnerRoleRequired,
    PartnerAccountNotFound,
    PartnerRoleRequired,
)
from tenantry.partner.models import PartnerAccount, PartnerAccountMember, PartnerMemberRole


class PartnerRole(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    DEVELOPER = "developer"
    BUSINESS_CONTRIBUTOR = "businessContributor"
    FINANCE_CONTRIBUTOR = "financeContributor"
    MARKETER = "marketer"


ROLES = tuple(role.value for role in PartnerRole)
# Who changes the account, its linked tenants and its members.
MANAGERS = frozenset({PartnerRole.OWNER.value, PartnerRole.MANAGER.value})


@dataclass(frozen=True)
class Access:
    """What the caller may do with one account: their effective roles, and whether they
    are an operator of the partner program."""

    account: PartnerAccount
    roles: frozenset[str]
    operator: bool

    @property
    def member(self) -> bool:
        return bool(self.roles)

    @property
    def manages(self) -> bool:
        return bool(self.roles & MANAGERS)

    @property
    def owner(self) -> bool:
        return PartnerRole.OWNER.value in self.roles


def memberships_of(tenant_id: uuid.UUID, user_id: uuid.UUID) -> ColumnElement[bool]:
    """The condition "this member row is the user, or one of the user's groups"."""
    return (PartnerAccountMember.tenant_id == tenant_id) & or_(
        PartnerAccountMember.user_id == user_id,
        PartnerAccountMember.group_id.in_(directory_groups.group_ids_query(tenant_id, user_id)),
    )


async def effective_roles(
    *,
    db_session: AsyncSession,
    account_id: uuid.UUID,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
) -> frozenset[str]:
    """The user's roles in the account: their own and their groups', together (one query)."""
    query = (
        select(PartnerMemberRole.role)
        .join(PartnerAccountMember, PartnerAccountMember.id == PartnerMemberRole.member_id)
        .where(
            PartnerAccountMember.partner_account_id == account_id,
            memberships_of(tenant_id, user_id),
        )
        .distinct()
    )
    return frozenset((await db_session.scalars(query)).all())


async def resolve(
    *,
    db_session: AsyncSession,
    account_id: uuid.UUID,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    language: str,
    lock: bool = False,
) -> Access:
    """The account and what the caller may do with it; 404 unless they are a member of it
    (themselves or through a group) or an operator.

    `lock`: take the account's row lock first (`SELECT … FOR UPDATE`; on SQLite the write
    transaction holds the database) so that changes to its members, which must leave it an
    Owner, run one after the other, and the roles read here are the committed ones.
    """
    account = await db_session.get(PartnerAccount, account_id, with_for_update=lock or None)
    if account is not None:
        roles = await effective_roles(
            db_session=db_session, account_id=account.id, tenant_id=tenant_id, user_id=user_id
        )
        if roles:
            return Access(account=account, roles=roles, operator=False)
        if await service.is_operator(db_session=db_session, user_id=user_id):
            return Access(account=account, roles=roles, operator=True)
    raise PartnerAccountNotFound(language)


def require_manager(access: Access, language: str) -> None:
    """Refuse (403: they know the account exists) a caller who is not an Owner or a Manager."""
    if not access.manages:
        raise PartnerRoleRequired(language)


def require_owner_for(access: Access, roles: Iterable[str], language: str) -> None:
    """Refuse a change touching the Owner role unless the caller is an Owner."""
    if PartnerRole.OWNER.value in set(roles) and not access.owner:
        raise OwnerRoleRequired(language)


async def ensure_an_owner(
    *, db_session: AsyncSession, account_id: uuid.UUID, language: str
) -> None:
    """Refuse (409 `lastOwner`) a change that left the account without a user holding the
    Owner role themselves.

    A group's Owner role does not count: the directory may empty the group without the
    account knowing. Run under the account's row lock (`resolve(lock=True)`), after the
    change, so two changes at once cannot each leave the other's Owner as the last one.
    """
    owners = await db_session.scalar(
        select(func.count())
        .select_from(PartnerMemberRole)
        .join(PartnerAccountMember, PartnerAccountMember.id == PartnerMemberRole.member_id)
        .where(
            PartnerMemberRole.partner_account_id == account_id,
            PartnerMemberRole.role == PartnerRole.OWNER.value,
            PartnerAccountMember.user_id.is_not(None),
        )
    )
    if not owners:
        raise LastOwner(language)
