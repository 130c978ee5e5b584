"""Who may see what of an engagement, and with which powers.

The rules (Microsoft Collaborate's "Access Management"; SPEC §3.8):
- An engagement exists for a caller who is a member of it (while the partner account they
  take part for is active), who owns it (an Engagement Owner, or a Program Owner of its
  program, both operators), or to whom it is open: not closed, and open to all partner
  accounts or to theirs, which is active. For anyone else it does not exist (404).
- An Engagement Owner holds every other role of the engagement.
- A Power User acts for their own partner account only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tenantry.engagements.exceptions import EngagementNotFound
from tenantry.engagements.identity import Caller
from tenantry.engagements.models import (
    ACTIVE,
    PROGRAM_OWNER,
    Engagement,
    EngagementAudience,
    EngagementMember,
    ProgramRole,
)
from tenantry.partner.models import ACTIVE as ACCOUNT_ACTIVE
from tenantry.partner.models import PartnerAccount


def active_account(account_id: object) -> object:
    """A condition: the partner account (a column or value) is active. (An alias of the
    table, so that it is never correlated away in a query that joins partner accounts.)"""
    account = aliased(PartnerAccount)
    return exists().where(account.id == account_id, account.state == ACCOUNT_ACTIVE)


def membership_counts() -> object:
    """A condition on `EngagementMember` rows: the membership is in force (operator side, or
    its partner account active)."""
    return or_(
        EngagementMember.partner_account_id.is_(None),
        active_account(EngagementMember.partner_account_id),
    )


def open_to(account_id: uuid.UUID | None) -> object:
    """A condition on `Engagement` rows: open (not closed) to this active partner account."""
    if account_id is None:
        return False
    return and_(
        Engagement.state == ACTIVE,
        or_(
            Engagement.all_partner_accounts,
            exists().where(
                EngagementAudience.engagement_id == Engagement.id,
                EngagementAudience.partner_account_id == account_id,
            ),
        ),
    )


@dataclass(frozen=True)
class Access:
    """What the caller may do in one engagement."""

    engagement: Engagement
    member: EngagementMember | None  # their membership, only when it is in force
    is_owner: bool  # Engagement Owner, or Program Owner of its program
    is_open_to_them: bool  # they may join or request access

    @property
    def is_power_user(self) -> bool:
        return self.is_owner or (self.member is not None and self.member.is_power_user)

    @property
    def is_participant(self) -> bool:
        return self.member is not None and self.member.is_participant

    @property
    def power_user_account(self) -> uuid.UUID | None:
        """The partner account whose people they manage as a Power User (owners: None)."""
        if self.member is not None and self.member.is_power_user:
            return self.member.partner_account_id
        return None

    def roles(self) -> list[str]:
        roles = self.member.roles() if self.member is not None else []
        if self.is_owner and "owner" not in roles:
            roles.append("owner")
        return roles


async def owns_program(
    db_session: AsyncSession, caller: Caller, program_id: uuid.UUID | None
) -> bool:
    """Whether the caller (an operator) is a Program Owner of this program."""
    if program_id is None or not caller.is_operator:
        return False
    role = await db_session.get(ProgramRole, (program_id, caller.user_id, PROGRAM_OWNER))
    return role is not None


async def access_to(
    db_session: AsyncSession,
    caller: Caller,
    engagement_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Access:
    """The caller's access to the engagement; 404 when it does not exist for them."""
    query = select(Engagement).where(Engagement.id == engagement_id)
    if lock:
        query = query.with_for_update()
    engagement = await db_session.scalar(query)
    if engagement is None:
        raise EngagementNotFound(caller.language)
    member = await db_session.scalar(
        select(EngagementMember).where(
            EngagementMember.engagement_id == engagement_id,
            EngagementMember.user_id == caller.user_id,
            membership_counts(),
        )
    )
    is_owner = caller.is_operator and (
        (member is not None and member.is_owner)
        or await owns_program(db_session, caller, engagement.program_id)
    )
    account_id = caller.active_account_id
    is_open = False
    if account_id is not None and engagement.state == ACTIVE:
        is_open = engagement.all_partner_accounts or (
            await db_session.get(EngagementAudience, (engagement.id, account_id)) is not None
        )
    if member is None and not is_owner and not is_open:
        raise EngagementNotFound(caller.language)
    return Access(engagement, member, is_owner, is_open)
