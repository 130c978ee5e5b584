"""Emails of engagements, each in its recipient's language, written to the outbox with the change.

To the deciders of a request (the engagement's owners and the Power Users of the requester's
organization): the request (name, organization, justification, deadline) and a reminder at
half the timeout. To the requester: approval (with the approver's note), denial, expiry. To a
member: an invitation when added, warnings before inactivity removes them, the removal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.i18n import DEFAULT_LANGUAGE, format_date, translate
from tenantry.core.mail import Priority, enqueue_translated
from tenantry.directory.models import User
from tenantry.engagements import access
from tenantry.engagements.models import (
    PROGRAM_OWNER,
    AccessRequest,
    Engagement,
    EngagementMember,
    ProgramRole,
)
from tenantry.partner.models import PlatformOperator


def language_of(user: User) -> str:
    return user.preferred_language or DEFAULT_LANGUAGE


def address_of(user: User) -> str:
    return user.mail or user.user_principal_name


def engagement_link(base_url: str, engagement_id: uuid.UUID) -> str:
    return f"{base_url.rstrip('/')}/engagements/{engagement_id}"


def approvals_link(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/engagements/approvals"


def _note(language: str, note: str | None) -> str:
    return translate(language, "mail.engagement_note", note=note) if note else ""


@dataclass(frozen=True)
class Decider:
    user: User
    engagement_id: uuid.UUID
    partner_account_id: uuid.UUID | None  # None: an owner, who decides for everyone


async def deciders(db_session: AsyncSession, engagement_ids: Iterable[uuid.UUID]) -> list[Decider]:
    """Everyone who may decide requests of these engagements: owners (operators) and Power
    Users (for their own partner account), whose sign-in is allowed."""
    ids = sorted(set(engagement_ids))
    if not ids:
        return []
    is_operator = exists().where(PlatformOperator.user_id == EngagementMember.user_id)
    rows = await db_session.execute(
        select(EngagementMember, User, is_operator)
        .join(User, User.id == EngagementMember.user_id)
        .where(
            EngagementMember.engagement_id.in_(ids),
            or_(EngagementMember.is_owner, EngagementMember.is_power_user),
            access.membership_counts(),
            User.account_enabled,
        )
    )
    found: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID | None], Decider] = {}
    for member, user, operator in rows.all():
        if member.is_owner and operator:
            found[(member.engagement_id, user.id, None)] = Decider(user, member.engagement_id, None)
        if member.is_power_user and member.partner_account_id is not None:
            key = (member.engagement_id, user.id, member.partner_account_id)
            found[key] = Decider(user, member.engagement_id, member.partner_account_id)
    program_owners = await db_session.execute(
        select(Engagement.id, User)
        .join(ProgramRole, ProgramRole.program_id == Engagement.program_id)
        .join(User, User.id == ProgramRole.user_id)
        .join(PlatformOperator, PlatformOperator.user_id == User.id)
        .where(Engagement.id.in_(ids), ProgramRole.role == PROGRAM_OWNER, User.account_enabled)
    )
    for engagement_id, user in program_owners.all():
        found[(engagement_id, user.id, None)] = Decider(user, engagement_id, None)
    return list(found.values())


def deciders_of(request: AccessRequest, everyone: list[Decider]) -> list[User]:
    """Who decides this request, each once, the requester never."""
    people: dict[uuid.UUID, User] = {}
    for decider in everyone:
        if (
            decider.engagement_id != request.engagement_id
            or decider.user.id == request.requester_id
        ):
            continue
        if decider.partner_account_id in (None, request.partner_account_id):
            people[decider.user.id] = decider.user
    return sorted(people.values(), key=lambda user: user.display_name)


def send_request(
    db_session: AsyncSession,
    *,
    request: AccessRequest,
    engagement: Engagement,
    requester: User,
    organization: str,
    deciders: list[User],
    base_url: str,
    reminder: bool = False,
) -> int:
    """Tell each decider of a request (or remind them, at half the timeout)."""
    for decider in deciders:
        language = language_of(decider)
        enqueue_translated(
            db_session,
            recipient=address_of(decider),
            language=language,
            message="engagement_request_reminder" if reminder else "engagement_request",
            tenant_id=decider.tenant_id,
            name=decider.display_name,
            requester=requester.display_name,
            requester_email=address_of(requester),
            organization=organization,
            engagement=engagement.display_name,
            justification=request.justification,
            deadline=format_date(language, request.expires_at),
            link=approvals_link(base_url),
        )
    return len(deciders)


def send_decision(
    db_session: AsyncSession,
    *,
    request: AccessRequest,
    engagement: Engagement,
    requester: User,
    base_url: str,
) -> None:
    """Tell the requester that their request was approved, denied or expired."""
    language = language_of(requester)
    enqueue_translated(
        db_session,
        recipient=address_of(requester),
        language=language,
        message=f"engagement_request_{request.state}",
        tenant_id=requester.tenant_id,
        name=requester.display_name,
        engagement=engagement.display_name,
        note=_note(language, request.decision_justification),
        link=engagement_link(base_url, engagement.id),
    )


def decision_row(
    *,
    recipient: str,
    language: str | None,
    tenant_id: uuid.UUID,
    state: str,
    name: str,
    engagement_name: str,
    engagement_id: uuid.UUID,
    note: str | None,
    base_url: str,
    now: datetime,
) -> dict[str, Any]:
    """The outbox row of `send_decision`, for writing many at once (`insert(OutboxMessage)`)."""
    language = language or DEFAULT_LANGUAGE
    params = {
        "name": name,
        "engagement": engagement_name,
        "note": _note(language, note),
        "link": engagement_link(base_url, engagement_id),
    }
    return {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "recipient": recipient,
        "subject": translate(language, f"mail.engagement_request_{state}.subject", **params),
        "body_text": translate(language, f"mail.engagement_request_{state}.body", **params),
        "status": "pending",
        "priority": int(Priority.NORMAL),
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def send_invitation(
    db_session: AsyncSession,
    *,
    engagement: Engagement,
    member: User,
    inviter: User,
    role: str,
    base_url: str,
) -> None:
    """Invite a person just added to an engagement, with its link."""
    language = language_of(member)
    enqueue_translated(
        db_session,
        recipient=address_of(member),
        language=language,
        message="engagement_invitation",
        tenant_id=member.tenant_id,
        name=member.display_name,
        inviter=inviter.display_name,
        engagement=engagement.display_name,
        role=translate(language, f"engagement.role.{role}"),
        link=engagement_link(base_url, engagement.id),
    )


def send_inactivity_warning(
    db_session: AsyncSession,
    *,
    engagement: Engagement,
    member: User,
    days: int,
    removal_at: datetime,
    base_url: str,
) -> None:
    """Warn a member that inactivity will end their access on `removal_at`."""
    language = language_of(member)
    enqueue_translated(
        db_session,
        priority=Priority.BULK,
        recipient=address_of(member),
        language=language,
        message="engagement_inactivity_warning",
        tenant_id=member.tenant_id,
        name=member.display_name,
        engagement=engagement.display_name,
        days=days,
        limit=engagement.inactivity_days,
        date=format_date(language, removal_at),
        link=engagement_link(base_url, engagement.id),
    )


def send_removed_for_inactivity(
    db_session: AsyncSession, *, engagement: Engagement, member: User, base_url: str
) -> None:
    """Tell a member that inactivity ended their access."""
    language = language_of(member)
    enqueue_translated(
        db_session,
        priority=Priority.BULK,
        recipient=address_of(member),
        language=language,
        message="engagement_access_removed",
        tenant_id=member.tenant_id,
        name=member.display_name,
        engagement=engagement.display_name,
        limit=engagement.inactivity_days,
        link=engagement_link(base_url, engagement.id),
    )
