"""Guests of a partner account: inviting several at once as members with one role, sending
a pending invitation again, and which invitations are pending.

The rules (issue 11 §5, the partner pages):
- An Owner or Manager of the account invites up to `MAX_GUESTS` addresses at once. Each
  becomes a guest of the caller's own organization (Graph's invitation, `guests.invitations`,
  emailed), and a member of the account with the role chosen. The caller must be allowed
  to invite guests in their organization (a Global Administrator or User Administrator, as
  `POST /v1/invitations`). All or nothing: one refused address refuses them all, and no
  guest, member or email is left behind (one unit of work; the emails go through the outbox).
- An invitation is pending while its guest, a member of the account (themselves), is still
  `externalUserState` PendingAcceptance. Once they accept, they are a member like another.
- Resending is for an Owner or Manager, for a pending guest member of the caller's own
  organization (the invitation's tenant): a new link, the old one stops working.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core.audit import Actor
from tenantry.directory import roles as directory_roles
from tenantry.directory.constants import Role
from tenantry.directory.models import User
from tenantry.guests import invitations
from tenantry.guests.exceptions import GuestNotFound
from tenantry.guests.models import PENDING_ACCEPTANCE, Invitation
from tenantry.partner import access, members
from tenantry.partner.exceptions import (
    GuestInviterRequired,
    NoGuestsGiven,
    TooManyGuests,
)
from tenantry.partner.models import PartnerAccountMember
from tenantry.partner.roster import MemberEntry
from tenantry.tenants.models import Tenant

MAX_GUESTS = 10
INVITERS = frozenset({Role.GLOBAL_ADMINISTRATOR.value, Role.USER_ADMINISTRATOR.value})


@dataclass(frozen=True)
class Guest:
    address: str
    name: str | None = None


@dataclass(frozen=True)
class Pending:
    """A pending invitation of a guest member: the guest, their roles, when last invited."""

    user: User
    roles: list[str]
    invited_at: datetime | None


async def _managing(
    db_session: AsyncSession, *, account_id: uuid.UUID, actor: Actor, language: str
) -> access.Access:
    assert actor.user_id is not None and actor.tenant_id is not None
    rights = await access.resolve(
        db_session=db_session,
        account_id=account_id,
        tenant_id=actor.tenant_id,
        user_id=actor.user_id,
        language=language,
    )
    access.require_manager(rights, language)
    return rights


async def invite(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    base_url: str,
    account_id: uuid.UUID,
    actor: Actor,
    tenant: Tenant,
    inviter: User,
    guests: Sequence[Guest],
    role: str,
    language: str,
) -> list[invitations.InvitationResult]:
    """Invite `guests` to the caller's organization and add them to the account with `role`,
    all or none (the caller's unit of work holds them all)."""
    await _managing(db_session, account_id=account_id, actor=actor, language=language)
    members.check_roles([role], language)
    if not guests:
        raise NoGuestsGiven(language)
    if len(guests) > MAX_GUESTS:
        raise TooManyGuests(language, MAX_GUESTS)
    held = await directory_roles.roles_of(
        db_session=db_session, tenant_id=tenant.id, user_id=inviter.id
    )
    if not INVITERS.intersection(held):
        raise GuestInviterRequired(language)
    redirect_url = base_url.rstrip("/") + "/"
    results = []
    for guest in guests:
        results.append(
            await invitations.invite(
                db_session=db_session,
                base_url=base_url,
                actor=actor,
                tenant=tenant,
                inviter=inviter,
                email=guest.address,
                redirect_url=redirect_url,
                display_name=guest.name,
                send_message=True,
                message=invitations.MessageInfo(language=language),
            )
        )
    await members.add(
        db_session=db_session,
        catalog=catalog,
        account_id=account_id,
        actor=actor,
        language=language,
        roles=[role],
        user_keys=[str(result.guest.id) for result in results],
    )
    return results


async def resend(
    *,
    db_session: AsyncSession,
    base_url: str,
    account_id: uuid.UUID,
    actor: Actor,
    tenant: Tenant,
    inviter: User,
    user_id: uuid.UUID,
    language: str,
) -> invitations.InvitationResult:
    """Send a pending guest member's invitation again (GuestNotFound for anyone else)."""
    await _managing(db_session, account_id=account_id, actor=actor, language=language)
    member = await db_session.scalar(
        select(PartnerAccountMember.id).where(
            PartnerAccountMember.partner_account_id == account_id,
            PartnerAccountMember.user_id == user_id,
        )
    )
    if member is None:
        raise GuestNotFound()
    return await invitations.resend(
        db_session=db_session,
        base_url=base_url,
        actor=actor,
        tenant=tenant,
        inviter=inviter,
        user_id=user_id,
    )


async def pending(*, db_session: AsyncSession, entries: Sequence[MemberEntry]) -> list[Pending]:
    """The pending invitations among these members: guests not yet accepted (one query for
    when each was last invited)."""
    waiting = [
        entry
        for entry in entries
        if entry.user is not None and entry.user.external_user_state == PENDING_ACCEPTANCE
    ]
    invited: dict[uuid.UUID, datetime] = {}
    if waiting:
        query = (
            select(Invitation.user_id, func.max(Invitation.created_at))
            .where(Invitation.user_id.in_([entry.user.id for entry in waiting if entry.user]))
            .group_by(Invitation.user_id)
        )
        invited = {user_id: at for user_id, at in (await db_session.execute(query)).all()}
    return [
        Pending(user=entry.user, roles=entry.roles, invited_at=invited.get(entry.user.id))
        for entry in waiting
        if entry.user is not None
    ]
