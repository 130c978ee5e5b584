"""Access requests: asked by a partner user, decided once by an owner or a Power User.

The rules (Entra entitlement management's access package requests; SPEC §3.8):
- Where an engagement needs approval, a partner user whose partner account is active
  accepts its terms of use and writes a justification (required, at most 1,000
  characters). The request is `pendingApproval` until someone decides or it times out
  (the engagement's `requestTimeoutDays`, 14 by default). One pending request per person
  and engagement (a partial unique index: a second, even at the same instant, is
  `requestAlreadyPending`).
- One decision decides: an owner of the engagement, or a Power User of the requester's
  partner account, approves (`delivered`: the requester is a Participant) or denies
  (`denied`), with an optional note shown to the requester. Nobody decides their own
  request. Two deciders at once: a conditional UPDATE of the pending row lets exactly one
  win; the other gets `requestAlreadyDecided`.
- The requester may cancel while pending (`canceled`). A denied, canceled or expired request
  may be resubmitted: a new request.
- A request exists for its requester and its deciders; for anyone else it does not (404).
Every change is audited; the emails (`messaging`) commit with the change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.paging import decode_token, encode_token
from tenantry.directory.models import User
from tenantry.engagements import access, messaging, service
from tenantry.engagements.exceptions import (
    AccessRequestNotFound,
    AlreadyParticipant,
    ApprovalNotRequired,
    CannotDecideOwnRequest,
    EngagementClosed,
    JustificationRequired,
    JustificationTooLong,
    NotAllowedToDecide,
    NotRequester,
    RequestAlreadyDecided,
    RequestAlreadyPending,
    TermsNotAccepted,
)
from tenantry.engagements.identity import Caller
from tenantry.engagements.models import (
    APPROVAL_REQUIRED,
    CANCELED,
    DELIVERED,
    DENIED,
    PENDING_APPROVAL,
    PROGRAM_OWNER,
    AccessRequest,
    Engagement,
    EngagementMember,
    ProgramRole,
)
from tenantry.partner.models import PartnerAccount

JUSTIFICATION_LIMIT = 1000
DEFAULT_TOP = 100
MAX_TOP = 999


def _justification(value: str | None, language: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise JustificationRequired(language)
        return None
    if len(text) > JUSTIFICATION_LIMIT:
        raise JustificationTooLong(language, limit=str(JUSTIFICATION_LIMIT))
    return text


async def submit(
    *,
    db_session: AsyncSession,
    caller: Caller,
    engagement_id: uuid.UUID,
    justification: str | None,
    accept_terms: bool,
    requester: User,
    base_url: str,
) -> AccessRequest:
    """Ask for access to an engagement that needs approval; its deciders are emailed."""
    language = caller.language
    seen = await access.access_to(db_session, caller, engagement_id)
    engagement = seen.engagement
    if seen.is_participant:
        raise AlreadyParticipant(language)
    account_id = caller.active_account_id
    if not seen.is_open_to_them or account_id is None:
        raise EngagementClosed(language)
    if engagement.join_policy != APPROVAL_REQUIRED:
        raise ApprovalNotRequired(language)
    if accept_terms is not True:
        raise TermsNotAccepted(language)
    text = _justification(justification, language, required=True)
    assert text is not None
    if await service.pending_request_of(db_session, caller, engagement.id) is not None:
        raise RequestAlreadyPending(language)
    now = clock.now()
    timeout = timedelta(days=engagement.request_timeout_days)
    request = AccessRequest(
        id=uuid.uuid4(),
        engagement_id=engagement.id,
        requester_id=caller.user_id,
        partner_account_id=account_id,
        justification=text,
        terms_version=service.terms_of(engagement, language)[1],
        state=PENDING_APPROVAL,
        created_at=now,
        expires_at=now + timeout,
        remind_at=now + timeout / 2,
        updated_at=now,
    )
    db_session.add(request)
    # A request submitted at the same instant meets the partial unique index here.
    await db_session.flush()
    audit.record(
        db_session,
        actor=caller.actor,
        action="engagement.accessRequest.submitted",
        target_type="accessRequest",
        target_id=request.id,
        details={
            "engagementId": str(engagement.id),
            "partnerAccountId": str(account_id),
            "termsOfUseVersion": request.terms_version,
        },
    )
    assert caller.partner_account is not None
    everyone = await messaging.deciders(db_session, [engagement.id])
    messaging.send_request(
        db_session,
        request=request,
        engagement=engagement,
        requester=requester,
        organization=caller.partner_account.publisher_display_name,
        deciders=messaging.deciders_of(request, everyone),
        base_url=base_url,
    )
    return request


# --- who sees and decides a request -----------------------------------------------------------


@dataclass(frozen=True)
class Scopes:
    """What a caller decides: every request of some engagements (as owner), and those of one
    partner account in others (as its Power User)."""

    owned: list[uuid.UUID]
    as_power_user: list[tuple[uuid.UUID, uuid.UUID]]

    def condition(self) -> Any:
        parts: list[Any] = []
        if self.owned:
            parts.append(AccessRequest.engagement_id.in_(self.owned))
        # A Power User's engagements, grouped by the account they act for (usually one): the
        # account's index leads, the engagements filter.
        by_account: dict[uuid.UUID, list[uuid.UUID]] = {}
        for engagement_id, account_id in self.as_power_user:
            by_account.setdefault(account_id, []).append(engagement_id)
        for account_id, engagement_ids in sorted(by_account.items()):
            parts.append(
                and_(
                    AccessRequest.partner_account_id == account_id,
                    AccessRequest.engagement_id.in_(engagement_ids),
                )
            )
        return or_(*parts) if parts else None

    def covers(self, request: AccessRequest) -> bool:
        return request.engagement_id in self.owned or (
            (request.engagement_id, request.partner_account_id) in self.as_power_user
        )


async def scopes_of(
    db_session: AsyncSession, caller: Caller, *, engagement_id: uuid.UUID | None = None
) -> Scopes:
    """The requests the caller may decide."""
    query = select(
        EngagementMember.engagement_id,
        EngagementMember.partner_account_id,
        EngagementMember.is_owner,
        EngagementMember.is_power_user,
    ).where(
        EngagementMember.user_id == caller.user_id,
        or_(EngagementMember.is_owner, EngagementMember.is_power_user),
        access.membership_counts(),
    )
    if engagement_id is not None:
        query = query.where(EngagementMember.engagement_id == engagement_id)
    owned: set[uuid.UUID] = set()
    pairs: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for eid, account_id, is_owner, is_power_user in (await db_session.execute(query)).all():
        if is_owner and caller.is_operator:
            owned.add(eid)
        elif is_power_user and account_id is not None:
            pairs.add((eid, account_id))
    if caller.is_operator:
        programs = (
            select(Engagement.id)
            .join(ProgramRole, ProgramRole.program_id == Engagement.program_id)
            .where(ProgramRole.user_id == caller.user_id, ProgramRole.role == PROGRAM_OWNER)
        )
        if engagement_id is not None:
            programs = programs.where(Engagement.id == engagement_id)
        owned.update(await db_session.scalars(programs))
    return Scopes(sorted(owned), sorted(pair for pair in pairs if pair[0] not in owned))


async def _visible(
    db_session: AsyncSession, caller: Caller, request_id: uuid.UUID, *, lock: bool = False
) -> tuple[AccessRequest, bool]:
    """The request and whether the caller may decide it; 404 unless they asked or decide it."""
    query = select(AccessRequest).where(AccessRequest.id == request_id)
    if lock:
        query = query.with_for_update()
    request = await db_session.scalar(query)
    if request is None:
        raise AccessRequestNotFound(caller.language)
    scopes = await scopes_of(db_session, caller, engagement_id=request.engagement_id)
    decides = scopes.covers(request)
    if request.requester_id != caller.user_id and not decides:
        raise AccessRequestNotFound(caller.language)
    return request, decides


async def get(*, db_session: AsyncSession, caller: Caller, request_id: uuid.UUID) -> AccessRequest:
    """A request, for its requester and its deciders."""
    return (await _visible(db_session, caller, request_id))[0]


async def decide(
    *,
    db_session: AsyncSession,
    caller: Caller,
    request_id: uuid.UUID,
    approve: bool,
    justification: str | None,
    base_url: str,
) -> AccessRequest:
    """Approve (the requester becomes a Participant) or deny a pending request; one decision
    wins, whoever else decides at the same moment gets `requestAlreadyDecided`."""
    language = caller.language
    request, decides = await _visible(db_session, caller, request_id)
    if request.requester_id == caller.user_id:
        raise CannotDecideOwnRequest(language)
    if not decides:
        raise NotAllowedToDecide(language)
    note = _justification(justification, language, required=False)
    now = clock.now()
    target = DELIVERED if approve else DENIED
    decided = await db_session.execute(
        update(AccessRequest)
        .where(
            AccessRequest.id == request.id,
            AccessRequest.state == PENDING_APPROVAL,
            AccessRequest.expires_at > now,
        )
        .values(
            state=target,
            decided_at=now,
            decided_by=caller.user_id,
            decision_justification=note,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await db_session.refresh(request)
    if (decided.rowcount or 0) != 1:  # type: ignore[attr-defined]
        state = request.state if request.state != PENDING_APPROVAL else "expired"
        raise RequestAlreadyDecided(language, state)
    engagement = await db_session.get(Engagement, request.engagement_id)
    requester = await db_session.get(User, request.requester_id)
    assert engagement is not None and requester is not None
    if approve:
        await service.upsert_participant(
            db_session,
            engagement=engagement,
            user_id=request.requester_id,
            partner_account_id=request.partner_account_id,
            terms_version=request.terms_version,
            added_by=caller.user_id,
            now=now,
        )
    audit.record(
        db_session,
        actor=caller.actor,
        action=f"engagement.accessRequest.{'approved' if approve else 'denied'}",
        target_type="accessRequest",
        target_id=request.id,
        details={
            "engagementId": str(request.engagement_id),
            "requesterId": str(request.requester_id),
            "justification": note,
        },
    )
    messaging.send_decision(
        db_session, request=request, engagement=engagement, requester=requester, base_url=base_url
    )
    return request


async def cancel(
    *, db_session: AsyncSession, caller: Caller, request_id: uuid.UUID
) -> AccessRequest:
    """The requester withdraws a pending request."""
    request, _ = await _visible(db_session, caller, request_id)
    if request.requester_id != caller.user_id:
        raise NotRequester(caller.language)
    now = clock.now()
    canceled = await db_session.execute(
        update(AccessRequest)
        .where(AccessRequest.id == request.id, AccessRequest.state == PENDING_APPROVAL)
        .values(state=CANCELED, decided_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await db_session.refresh(request)
    if (canceled.rowcount or 0) != 1:  # type: ignore[attr-defined]
        raise RequestAlreadyDecided(caller.language, request.state)
    audit.record(
        db_session,
        actor=caller.actor,
        action="engagement.accessRequest.canceled",
        target_type="accessRequest",
        target_id=request.id,
        details={"engagementId": str(request.engagement_id)},
    )
    return request


# --- lists ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRow:
    """A request with what a list shows of it: engagement, requester, organization."""

    request: AccessRequest
    engagement: Engagement
    requester: User
    organization: str


def rows_query() -> Any:
    """Requests with their engagement, requester and organization, in one statement (for a
    handful of rows: pages read the requests first, then their parties, `with_parties`)."""
    return (
        select(AccessRequest, Engagement, User, PartnerAccount.publisher_display_name)
        .join(Engagement, Engagement.id == AccessRequest.engagement_id)
        .join(User, User.id == AccessRequest.requester_id)
        .join(PartnerAccount, PartnerAccount.id == AccessRequest.partner_account_id)
    )


async def with_parties(db_session: AsyncSession, requests: list[AccessRequest]) -> list[RequestRow]:
    """Each request with its engagement, requester and organization: three lookups by
    primary key for the whole page, whatever its size (no statement per row)."""
    if not requests:
        return []
    engagements = {
        e.id: e
        for e in await db_session.scalars(
            select(Engagement).where(Engagement.id.in_({r.engagement_id for r in requests}))
        )
    }
    people = {
        u.id: u
        for u in await db_session.scalars(
            select(User).where(User.id.in_({r.requester_id for r in requests}))
        )
    }
    names = dict(
        (
            await db_session.execute(
                select(PartnerAccount.id, PartnerAccount.publisher_display_name).where(
                    PartnerAccount.id.in_({r.partner_account_id for r in requests})
                )
            )
        ).all()
    )
    return [
        RequestRow(
            r, engagements[r.engagement_id], people[r.requester_id], names[r.partner_account_id]
        )
        for r in requests
    ]


async def to_decide(
    *,
    db_session: AsyncSession,
    caller: Caller,
    state: str | None,
    engagement_id: uuid.UUID | None,
    top: int = DEFAULT_TOP,
    skip_token: str | None = None,
) -> tuple[list[RequestRow], str | None]:
    """The requests the caller may decide (owners: all of their engagements'; a Power User:
    their own organization's), oldest first, a page at a time; the next page's token.

    The page is read from the requests alone, through `(partner_account_id, state,
    created_at)` for a Power User or `(engagement_id, state, created_at)` for an owner, and
    only its rows are joined to their parties."""
    scopes = await scopes_of(db_session, caller, engagement_id=engagement_id)
    condition = scopes.condition()
    if condition is None:
        return [], None
    query = select(AccessRequest).where(condition)
    if state is not None:
        query = query.where(AccessRequest.state == state)
    if skip_token is not None:
        after = decode_token(skip_token) or {}
        try:
            at = datetime.fromisoformat(str(after["at"]))
            last = uuid.UUID(str(after["id"]))
        except (KeyError, ValueError):
            raise AccessRequestNotFound(caller.language) from None
        query = query.where(tuple_(AccessRequest.created_at, AccessRequest.id) > (at, last))
    top = max(1, min(top, MAX_TOP))
    page = list(
        await db_session.scalars(
            query.order_by(AccessRequest.created_at, AccessRequest.id).limit(top + 1)
        )
    )
    found = await with_parties(db_session, page[:top])
    token = None
    if len(page) > top:
        last_row = found[-1].request
        token = encode_token({"at": last_row.created_at.isoformat(), "id": str(last_row.id)})
    return found, token


async def of_requester(
    *, db_session: AsyncSession, caller: Caller, state: str | None = None
) -> list[RequestRow]:
    """The caller's own requests, newest first."""
    query = select(AccessRequest).where(AccessRequest.requester_id == caller.user_id)
    if state is not None:
        query = query.where(AccessRequest.state == state)
    page = await db_session.scalars(
        query.order_by(AccessRequest.created_at.desc(), AccessRequest.id).limit(service.LIST_LIMIT)
    )
    return await with_parties(db_session, list(page))


async def row_of(db_session: AsyncSession, request: AccessRequest) -> RequestRow:
    """One request with its engagement, requester and organization."""
    row = (await db_session.execute(rows_query().where(AccessRequest.id == request.id))).one()
    return RequestRow(*row)
