"""Engagements: created by operators, found by partner users, joined.

The rules (Microsoft Collaborate; seed 003 "Demander l'accès"; SPEC §3.8):
- An operator creates an engagement, alone or in a program where they are Program Owner or
  may create engagements, and becomes its **Engagement Owner**. It has a description, terms
  of use (its own, or the default terms), a join policy (`open`: joining needs only the
  terms accepted; `approvalRequired`: an access request an owner or a Power User decides),
  an audience (every active partner account, or those named), a timeout for requests
  (default 14 days) and a limit of inactivity (default 180 days).
- Owners change it (`PATCH`) or close it: a closed engagement takes no one new, and its
  pending requests are canceled.
- A partner user whose partner account is active sees the engagements open to it ("Join
  engagements"), reads one's description and terms, accepts the terms and joins one that
  needs no approval: they are a Participant at once. Which terms they accepted is kept.
Every change is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, not_, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.i18n import translate
from tenantry.directory.search import sort_key
from tenantry.engagements import access
from tenantry.engagements.access import Access
from tenantry.engagements.exceptions import (
    AlreadyParticipant,
    ApprovalRequired,
    EngagementClosed,
    InvalidEngagementText,
    NotEngagementCreator,
    NotEngagementOwner,
    NotOperator,
    TermsNotAccepted,
    UnknownPartnerAccount,
)
from tenantry.engagements.identity import Caller
from tenantry.engagements.models import (
    ACTIVE,
    APPROVAL_REQUIRED,
    CANCELED,
    CLOSED,
    ENGAGEMENT_CREATOR,
    PENDING_APPROVAL,
    PROGRAM_OWNER,
    AccessRequest,
    Engagement,
    EngagementAudience,
    EngagementMember,
    Program,
    ProgramRole,
)
from tenantry.partner.models import PartnerAccount

DEFAULT_TERMS_VERSION = "tenantry-default-terms-1"
NAME_LIMIT = 256
DESCRIPTION_LIMIT = 10_000
TERMS_LIMIT = 200_000
LIST_LIMIT = 200


@dataclass(frozen=True)
class Audience:
    all_partner_accounts: bool
    partner_account_ids: list[uuid.UUID]


@dataclass(frozen=True)
class EngagementFields:
    """What an operator sets on an engagement (None in an update: unchanged)."""

    display_name: str | None = None
    description: str | None = None
    terms_of_use: str | None = None
    terms_given: bool = False  # `termsOfUse` was in the body (null: the default terms)
    join_policy: str | None = None
    audience: Audience | None = None
    request_timeout_days: int | None = None
    inactivity_days: int | None = None
    program_id: uuid.UUID | None = None


def terms_of(engagement: Engagement, language: str) -> tuple[str, str]:
    """The terms of use in force (text, version): the engagement's own, or the default."""
    if engagement.terms_of_use is not None:
        return engagement.terms_of_use, f"custom-{engagement.terms_revision}"
    return translate(language, "engagement.default_terms"), DEFAULT_TERMS_VERSION


def _text(value: str, *, field: str, limit: int, language: str, required: bool = True) -> str:
    cleaned = value.strip()
    if (required and not cleaned) or len(cleaned) > limit:
        raise InvalidEngagementText(language, field=field, limit=str(limit))
    return cleaned


async def _check_audience(db_session: AsyncSession, audience: Audience, language: str) -> None:
    wanted = set(audience.partner_account_ids)
    if not wanted:
        return
    found = set(
        await db_session.scalars(select(PartnerAccount.id).where(PartnerAccount.id.in_(wanted)))
    )
    if found != wanted:
        raise UnknownPartnerAccount(language)


async def _set_audience(
    db_session: AsyncSession, engagement: Engagement, audience: Audience
) -> None:
    engagement.all_partner_accounts = audience.all_partner_accounts
    await db_session.execute(
        delete(EngagementAudience).where(EngagementAudience.engagement_id == engagement.id)
    )
    for account_id in sorted(set(audience.partner_account_ids)):
        db_session.add(
            EngagementAudience(engagement_id=engagement.id, partner_account_id=account_id)
        )


async def may_create_in(db_session: AsyncSession, caller: Caller, program_id: uuid.UUID) -> bool:
    """Whether the caller is a Program Owner of the program or may create engagements in it."""
    roles = set(
        await db_session.scalars(
            select(ProgramRole.role).where(
                ProgramRole.program_id == program_id, ProgramRole.user_id == caller.user_id
            )
        )
    )
    return bool(roles & {PROGRAM_OWNER, ENGAGEMENT_CREATOR})


async def create(
    *, db_session: AsyncSession, caller: Caller, fields: EngagementFields
) -> Engagement:
    """A new engagement; the operator who creates it becomes its Engagement Owner."""
    language = caller.language
    if not caller.is_operator:
        raise NotOperator(language)
    if fields.program_id is not None:
        program = await db_session.get(Program, fields.program_id)
        if program is None or not await may_create_in(db_session, caller, fields.program_id):
            raise NotEngagementCreator(language)
    audience = fields.audience or Audience(False, [])
    await _check_audience(db_session, audience, language)
    now = clock.now()
    name = _text(
        fields.display_name or "", field="displayName", limit=NAME_LIMIT, language=language
    )
    terms = fields.terms_of_use
    engagement = Engagement(
        id=uuid.uuid4(),
        program_id=fields.program_id,
        display_name=name,
        display_name_key=sort_key(name),
        description=_text(
            fields.description or "",
            field="description",
            limit=DESCRIPTION_LIMIT,
            language=language,
            required=False,
        ),
        terms_of_use=None
        if terms is None
        else _text(terms, field="termsOfUse", limit=TERMS_LIMIT, language=language),
        terms_revision=0 if terms is None else 1,
        join_policy=fields.join_policy or APPROVAL_REQUIRED,
        all_partner_accounts=audience.all_partner_accounts,
        request_timeout_days=fields.request_timeout_days or 14,
        inactivity_days=fields.inactivity_days or 180,
        state=ACTIVE,
        created_by=caller.user_id,
        created_at=now,
        updated_at=now,
        closed_at=None,
    )
    db_session.add(engagement)
    await db_session.flush()
    await _set_audience(db_session, engagement, audience)
    db_session.add(
        EngagementMember(
            engagement_id=engagement.id,
            user_id=caller.user_id,
            partner_account_id=None,
            is_owner=True,
            added_by=caller.user_id,
            added_at=now,
            last_access_at=now,
        )
    )
    audit.record(
        db_session,
        actor=caller.actor,
        action="engagement.created",
        target_type="engagement",
        target_id=engagement.id,
        details={
            "displayName": name,
            "joinPolicy": engagement.join_policy,
            "allPartnerAccounts": audience.all_partner_accounts,
            "partnerAccountIds": sorted(str(a) for a in audience.partner_account_ids),
            "programId": str(fields.program_id) if fields.program_id else None,
        },
    )
    await db_session.flush()
    return engagement


async def owned(
    db_session: AsyncSession, caller: Caller, engagement_id: uuid.UUID, *, lock: bool = False
) -> Access:
    """The engagement, for one of its owners; 403 for others who see it, else 404."""
    seen = await access.access_to(db_session, caller, engagement_id, lock=lock)
    if not seen.is_owner:
        raise NotEngagementOwner(caller.language)
    return seen


async def update(
    *,
    db_session: AsyncSession,
    caller: Caller,
    engagement_id: uuid.UUID,
    fields: EngagementFields,
) -> Engagement:
    """Change an engagement (its owners); new terms of use are a new version."""
    language = caller.language
    engagement = (await owned(db_session, caller, engagement_id, lock=True)).engagement
    if engagement.state == CLOSED:
        raise EngagementClosed(language)
    changed: dict[str, Any] = {}
    if fields.display_name is not None:
        name = _text(fields.display_name, field="displayName", limit=NAME_LIMIT, language=language)
        engagement.display_name, engagement.display_name_key = name, sort_key(name)
        changed["displayName"] = name
    if fields.description is not None:
        engagement.description = _text(
            fields.description,
            field="description",
            limit=DESCRIPTION_LIMIT,
            language=language,
            required=False,
        )
        changed["description"] = True
    if fields.terms_given:
        terms = fields.terms_of_use
        cleaned = (
            None
            if terms is None
            else _text(terms, field="termsOfUse", limit=TERMS_LIMIT, language=language)
        )
        if cleaned != engagement.terms_of_use:
            engagement.terms_of_use = cleaned
            if cleaned is not None:
                engagement.terms_revision += 1
            changed["termsOfUseVersion"] = terms_of(engagement, language)[1]
    for name, value in (
        ("joinPolicy", fields.join_policy),
        ("requestTimeoutDays", fields.request_timeout_days),
        ("inactivityDays", fields.inactivity_days),
    ):
        if value is not None:
            attribute = {
                "joinPolicy": "join_policy",
                "requestTimeoutDays": "request_timeout_days",
                "inactivityDays": "inactivity_days",
            }[name]
            setattr(engagement, attribute, value)
            changed[name] = value
    if fields.audience is not None:
        await _check_audience(db_session, fields.audience, language)
        await _set_audience(db_session, engagement, fields.audience)
        changed["audience"] = {
            "allPartnerAccounts": fields.audience.all_partner_accounts,
            "partnerAccountIds": sorted(str(a) for a in fields.audience.partner_account_ids),
        }
    if changed:
        engagement.updated_at = clock.now()
        audit.record(
            db_session,
            actor=caller.actor,
            action="engagement.updated",
            target_type="engagement",
            target_id=engagement.id,
            details=changed,
        )
        await db_session.flush()
    return engagement


async def close(
    *, db_session: AsyncSession, caller: Caller, engagement_id: uuid.UUID
) -> Engagement:
    """Close an engagement: no one joins or requests any more; pending requests are canceled."""
    engagement = (await owned(db_session, caller, engagement_id, lock=True)).engagement
    if engagement.state == CLOSED:
        raise EngagementClosed(caller.language)
    now = clock.now()
    engagement.state, engagement.closed_at, engagement.updated_at = CLOSED, now, now
    canceled = await db_session.execute(
        sql_update(AccessRequest)
        .where(
            AccessRequest.engagement_id == engagement.id,
            AccessRequest.state == PENDING_APPROVAL,
        )
        .values(state=CANCELED, updated_at=now, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        db_session,
        actor=caller.actor,
        action="engagement.closed",
        target_type="engagement",
        target_id=engagement.id,
        details={"canceledRequests": max(canceled.rowcount or 0, 0)},  # type: ignore[attr-defined]
    )
    await db_session.flush()
    return engagement


# --- reading ----------------------------------------------------------------------------------


def _search(query: Any, search: str | None) -> Any:
    if search:
        folded = sort_key(search.strip())
        if folded:
            escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Engagement.display_name_key.like(f"%{escaped}%", escape="\\"))
    return query


async def list_mine(
    *, db_session: AsyncSession, caller: Caller, search: str | None = None
) -> list[tuple[Engagement, EngagementMember | None, bool]]:
    """The engagements the caller takes part in or owns (with their membership, and whether
    they own it through its program)."""
    member_rows = await db_session.execute(
        _search(
            select(Engagement, EngagementMember)
            .join(EngagementMember, EngagementMember.engagement_id == Engagement.id)
            .where(EngagementMember.user_id == caller.user_id, access.membership_counts()),
            search,
        )
        .order_by(Engagement.display_name_key, Engagement.id)
        .limit(LIST_LIMIT)
    )
    found: dict[uuid.UUID, tuple[Engagement, EngagementMember | None, bool]] = {
        engagement.id: (engagement, member, False) for engagement, member in member_rows.all()
    }
    if caller.is_operator:
        program_owned = await db_session.scalars(
            _search(
                select(Engagement)
                .join(ProgramRole, ProgramRole.program_id == Engagement.program_id)
                .where(ProgramRole.user_id == caller.user_id, ProgramRole.role == PROGRAM_OWNER),
                search,
            ).limit(LIST_LIMIT)
        )
        for engagement in program_owned:
            member = found.get(engagement.id, (engagement, None, False))[1]
            found[engagement.id] = (engagement, member, True)
    return sorted(found.values(), key=lambda row: (row[0].display_name_key, str(row[0].id)))


async def list_available(
    *, db_session: AsyncSession, caller: Caller, search: str | None = None
) -> list[Engagement]:
    """The engagements open to the caller's active partner account that they have not joined
    ("Join engagements")."""
    account_id = caller.active_account_id
    if account_id is None:
        return []
    joined = exists().where(
        EngagementMember.engagement_id == Engagement.id,
        EngagementMember.user_id == caller.user_id,
        EngagementMember.is_participant,
    )
    rows = await db_session.scalars(
        _search(select(Engagement).where(access.open_to(account_id), not_(joined)), search)
        .order_by(Engagement.display_name_key, Engagement.id)
        .limit(LIST_LIMIT)
    )
    return list(rows)


async def pending_request_of(
    db_session: AsyncSession, caller: Caller, engagement_id: uuid.UUID
) -> AccessRequest | None:
    """The caller's pending request for the engagement, if any."""
    return await db_session.scalar(
        select(AccessRequest).where(
            AccessRequest.engagement_id == engagement_id,
            AccessRequest.requester_id == caller.user_id,
            AccessRequest.state == PENDING_APPROVAL,
        )
    )


async def audience_of(
    db_session: AsyncSession, engagement_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """The named partner accounts (id, publisher name) of each engagement."""
    rows = await db_session.execute(
        select(
            EngagementAudience.engagement_id,
            PartnerAccount.id,
            PartnerAccount.publisher_display_name,
        )
        .join(PartnerAccount, PartnerAccount.id == EngagementAudience.partner_account_id)
        .where(EngagementAudience.engagement_id.in_(engagement_ids))
        .order_by(PartnerAccount.publisher_display_name)
    )
    found: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    for engagement_id, account_id, name in rows.all():
        found.setdefault(engagement_id, []).append((account_id, name))
    return found


async def record_access(
    *, db_session: AsyncSession, caller: Caller, engagement_id: uuid.UUID, now: datetime
) -> bool:
    """Note that the caller opened the engagement (at most once an hour is written): their
    inactivity starts again, and its warnings are cleared."""
    result = await db_session.execute(
        sql_update(EngagementMember)
        .where(
            EngagementMember.engagement_id == engagement_id,
            EngagementMember.user_id == caller.user_id,
            or_(
                EngagementMember.last_access_at < now - timedelta(hours=1),
                EngagementMember.inactivity_warning.is_not(None),
            ),
        )
        .values(last_access_at=now, inactivity_warning=None, inactivity_warned_at=None)
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) > 0  # type: ignore[attr-defined]


# --- joining ----------------------------------------------------------------------------------


async def upsert_participant(
    db_session: AsyncSession,
    *,
    engagement: Engagement,
    user_id: uuid.UUID,
    partner_account_id: uuid.UUID,
    terms_version: str | None,
    added_by: uuid.UUID | None,
    now: datetime,
) -> EngagementMember:
    """Make the person a Participant (keeping their other roles); a concurrent insert of the
    same row fails on the primary key, and the caller's attempt runs again."""
    member = await db_session.scalar(
        select(EngagementMember)
        .where(EngagementMember.engagement_id == engagement.id, EngagementMember.user_id == user_id)
        .with_for_update()
    )
    if member is None:
        member = EngagementMember(
            engagement_id=engagement.id,
            user_id=user_id,
            partner_account_id=partner_account_id,
            added_by=added_by,
            added_at=now,
            last_access_at=now,
        )
        db_session.add(member)
    member.is_participant = True
    if member.partner_account_id is None and not member.is_owner:
        member.partner_account_id = partner_account_id
    if terms_version is not None:
        member.terms_version, member.terms_accepted_at = terms_version, now
    member.last_access_at = now
    member.inactivity_warning = member.inactivity_warned_at = None
    await db_session.flush()
    return member


async def join(
    *, db_session: AsyncSession, caller: Caller, engagement_id: uuid.UUID, accept_terms: bool
) -> tuple[Engagement, EngagementMember]:
    """Join an engagement that needs no approval, accepting its terms of use."""
    language = caller.language
    seen = await access.access_to(db_session, caller, engagement_id)
    engagement = seen.engagement
    if seen.is_participant:
        raise AlreadyParticipant(language)
    if not seen.is_open_to_them or caller.active_account_id is None:
        if engagement.state == CLOSED:
            raise EngagementClosed(language)
        raise ApprovalRequired(language)
    if engagement.join_policy == APPROVAL_REQUIRED:
        raise ApprovalRequired(language)
    if accept_terms is not True:
        raise TermsNotAccepted(language)
    _, version = terms_of(engagement, language)
    member = await upsert_participant(
        db_session,
        engagement=engagement,
        user_id=caller.user_id,
        partner_account_id=caller.active_account_id,
        terms_version=version,
        added_by=caller.user_id,
        now=clock.now(),
    )
    audit.record(
        db_session,
        actor=caller.actor,
        action="engagement.joined",
        target_type="engagement",
        target_id=engagement.id,
        details={"termsOfUseVersion": version, "partnerAccountId": str(caller.active_account_id)},
    )
    return engagement, member


async def count_members(
    db_session: AsyncSession, engagement_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many participants each engagement has (memberships in force)."""
    rows = await db_session.execute(
        select(EngagementMember.engagement_id, func.count())
        .where(
            EngagementMember.engagement_id.in_(engagement_ids),
            EngagementMember.is_participant,
            access.membership_counts(),
        )
        .group_by(EngagementMember.engagement_id)
    )
    return {engagement_id: count for engagement_id, count in rows.all()}
