"""Timed work of engagements: reminders and expiry of access requests, inactivity of members.

One round (`tick`) does, each in set-based SQL that claims what it handles:
- **Reminders**: a pending request whose half-timeout passed is marked reminded and its
  deciders are emailed again.
- **Expiry**: a pending request whose timeout passed becomes `expired` (Entra's automatic
  denial) and its requester is told; they may resubmit.
- **Inactivity**: a member of an engagement (owners excepted) who has not opened it for
  its `inactivityDays` is removed, warned 30, 14 and 1 day before (Microsoft Collaborate's
  "Automatic Permission Deactivation"). A round sends each person at most one warning, the
  most urgent due; removal comes at the limit and at least a day after the last warning,
  so a round that did not run for a while never removes someone without notice. Members
  of a partner account that is not active are left alone (they have no access meanwhile).

Every step is a conditional UPDATE (or DELETE) … RETURNING over rows selected with
`FOR UPDATE SKIP LOCKED` on PostgreSQL: rounds running at once in several processes
each take different rows, and a row is handled once, so nothing is sent twice. The round
runs as a job (`engagements.tick`) that schedules its next run before it works, so exactly
one waits at a time across processes (the job queue's dedupe key); `tenantry engagement
tick` runs a round by hand.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, insert, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit, jobs
from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.db import Database, wake_after_commit
from tenantry.core.mail import OutboxMessage
from tenantry.directory.models import User
from tenantry.engagements import access_requests, messaging
from tenantry.engagements.models import (
    ACTIVE,
    EXPIRED,
    PENDING_APPROVAL,
    AccessRequest,
    Engagement,
    EngagementMember,
)
from tenantry.partner.models import ACTIVE as ACCOUNT_ACTIVE
from tenantry.partner.models import PartnerAccount

TICK_KIND = "engagements.tick"
BATCH = 1000
WARNINGS = (1, 14, 30)  # days before removal, most urgent first
SYSTEM = audit.Actor.system()


# --- access requests --------------------------------------------------------------------------


async def _claim(
    db_session: AsyncSession, condition: Any, order: Any, values: dict[str, Any]
) -> list[uuid.UUID]:
    """Up to BATCH due requests, locked (other rounds skip them), changed by `values` if
    still due; their ids.

    Two statements, not `UPDATE … WHERE id IN (SELECT … LIMIT … FOR UPDATE SKIP LOCKED)`:
    PostgreSQL may run such a subquery again for each row it updates, each run locking
    other rows, so the LIMIT no longer bounds the batch (and the statement takes minutes).
    """
    ids = list(
        await db_session.scalars(
            select(AccessRequest.id)
            .where(condition)
            .order_by(order)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    changed = await db_session.execute(
        update(AccessRequest)
        .where(AccessRequest.id.in_(ids), condition)
        .values(**values)
        .returning(AccessRequest.id)
        .execution_options(synchronize_session=False)
    )
    return list(changed.scalars())


async def remind_due(db_session: AsyncSession, *, now: datetime, base_url: str) -> int:
    """Remind the deciders of requests past half their timeout (a batch); how many requests."""
    due = and_(
        AccessRequest.state == PENDING_APPROVAL,
        AccessRequest.reminded_at.is_(None),
        AccessRequest.remind_at <= now,
        AccessRequest.expires_at > now,
    )
    ids = await _claim(db_session, due, AccessRequest.remind_at, {"reminded_at": now})
    if not ids:
        return 0
    rows = (
        await db_session.execute(access_requests.rows_query().where(AccessRequest.id.in_(ids)))
    ).all()
    everyone = await messaging.deciders(db_session, {row[0].engagement_id for row in rows})
    for request, engagement, requester, organization in rows:
        sent = messaging.send_request(
            db_session,
            request=request,
            engagement=engagement,
            requester=requester,
            organization=organization,
            deciders=messaging.deciders_of(request, everyone),
            base_url=base_url,
            reminder=True,
        )
        audit.record(
            db_session,
            actor=SYSTEM,
            action="engagement.accessRequest.reminded",
            target_type="accessRequest",
            target_id=request.id,
            tenant_id=requester.tenant_id,
            details={"engagementId": str(engagement.id), "deciders": sent},
        )
    return len(ids)


async def expire_due(db_session: AsyncSession, *, now: datetime, base_url: str) -> int:
    """Expire requests past their timeout (a batch) and tell their requesters; how many.

    Set-based: the batch is claimed and expired in two statements, one SELECT reads what
    the emails need, and the emails and audit events are written in one INSERT each."""
    due = and_(AccessRequest.state == PENDING_APPROVAL, AccessRequest.expires_at <= now)
    ids = await _claim(
        db_session,
        due,
        AccessRequest.expires_at,
        {"state": EXPIRED, "decided_at": now, "updated_at": now},
    )
    if not ids:
        return 0
    rows = await db_session.execute(
        select(
            AccessRequest.id,
            Engagement.id,
            Engagement.display_name,
            User.tenant_id,
            User.display_name,
            User.mail,
            User.user_principal_name,
            User.preferred_language,
        )
        .join(Engagement, Engagement.id == AccessRequest.engagement_id)
        .join(User, User.id == AccessRequest.requester_id)
        .where(AccessRequest.id.in_(ids))
    )
    messages: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for request_id, engagement_id, engagement_name, tenant_id, name, mail, upn, language in rows:
        messages.append(
            messaging.decision_row(
                recipient=mail or upn,
                language=language,
                tenant_id=tenant_id,
                state=EXPIRED,
                name=name,
                engagement_name=engagement_name,
                engagement_id=engagement_id,
                note=None,
                base_url=base_url,
                now=now,
            )
        )
        events.append(
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "actor_id": None,
                "actor_type": SYSTEM.kind,
                "action": "engagement.accessRequest.expired",
                "target_type": "accessRequest",
                "target_id": str(request_id),
                "details": {"engagementId": str(engagement_id)},
                "client_address": None,
                "occurred_at": now,
            }
        )
    await db_session.execute(insert(OutboxMessage), messages)
    await db_session.execute(insert(audit.AuditEvent), events)
    wake_after_commit(db_session, "outbox")
    return len(ids)


# --- inactivity -------------------------------------------------------------------------------


def _eligible(days: int) -> Any:
    """Members subject to inactivity in open engagements whose limit is `days`: not owners,
    of an active partner account."""
    return and_(
        EngagementMember.engagement_id.in_(
            select(Engagement.id).where(
                Engagement.inactivity_days == days, Engagement.state == ACTIVE
            )
        ),
        not_(EngagementMember.is_owner),
        EngagementMember.partner_account_id.is_not(None),
        exists().where(
            PartnerAccount.id == EngagementMember.partner_account_id,
            PartnerAccount.state == ACCOUNT_ACTIVE,
        ),
    )


async def _people(
    db_session: AsyncSession, pairs: list[tuple[uuid.UUID, uuid.UUID, Any]]
) -> tuple[dict[uuid.UUID, User], dict[uuid.UUID, Engagement]]:
    users = {
        user.id: user
        for user in await db_session.scalars(
            select(User).where(User.id.in_({user_id for _, user_id, _ in pairs}))
        )
    }
    engagements = {
        engagement.id: engagement
        for engagement in await db_session.scalars(
            select(Engagement).where(Engagement.id.in_({eid for eid, _, _ in pairs}))
        )
    }
    return users, engagements


async def inactivity_round(
    db_session: AsyncSession, *, now: datetime, base_url: str
) -> dict[str, int]:
    """Remove members inactive past their engagement's limit (warned a day before at least),
    and send each member due a warning the most urgent one; the counts."""
    limits = sorted(
        set(
            await db_session.scalars(
                select(Engagement.inactivity_days).where(Engagement.state == ACTIVE).distinct()
            )
        )
    )
    removed = warned = 0
    for days in limits:
        gone = await db_session.execute(
            delete(EngagementMember)
            .where(
                _eligible(days),
                EngagementMember.inactivity_warning == 1,
                EngagementMember.inactivity_warned_at <= now - timedelta(days=1),
                EngagementMember.last_access_at <= now - timedelta(days=days),
            )
            .returning(
                EngagementMember.engagement_id,
                EngagementMember.user_id,
                EngagementMember.last_access_at,
            )
            .execution_options(synchronize_session=False)
        )
        pairs = list(gone.all())
        users, engagements = await _people(db_session, pairs)
        for engagement_id, user_id, last_access in pairs:
            engagement, user = engagements[engagement_id], users[user_id]
            messaging.send_removed_for_inactivity(
                db_session, engagement=engagement, member=user, base_url=base_url
            )
            audit.record(
                db_session,
                actor=SYSTEM,
                action="engagement.memberRemoved",
                target_type="engagement",
                target_id=engagement_id,
                tenant_id=user.tenant_id,
                details={
                    "userId": str(user_id),
                    "reason": "inactivity",
                    "lastAccessDateTime": last_access.isoformat(),
                },
            )
        removed += len(pairs)
        for stage in WARNINGS:
            if stage >= days:
                continue
            due = await db_session.execute(
                update(EngagementMember)
                .where(
                    _eligible(days),
                    EngagementMember.last_access_at <= now - timedelta(days=days - stage),
                    or_(
                        EngagementMember.inactivity_warning.is_(None),
                        EngagementMember.inactivity_warning > stage,
                    ),
                )
                .values(inactivity_warning=stage, inactivity_warned_at=now)
                .returning(
                    EngagementMember.engagement_id,
                    EngagementMember.user_id,
                    EngagementMember.last_access_at,
                )
                .execution_options(synchronize_session=False)
            )
            pairs = list(due.all())
            users, engagements = await _people(db_session, pairs)
            for engagement_id, user_id, last_access in pairs:
                engagement, user = engagements[engagement_id], users[user_id]
                removal_at = max(last_access + timedelta(days=days), now + timedelta(days=1))
                messaging.send_inactivity_warning(
                    db_session,
                    engagement=engagement,
                    member=user,
                    days=stage,
                    removal_at=removal_at,
                    base_url=base_url,
                )
                audit.record(
                    db_session,
                    actor=SYSTEM,
                    action="engagement.inactivityWarning",
                    target_type="engagement",
                    target_id=engagement_id,
                    tenant_id=user.tenant_id,
                    details={"userId": str(user_id), "days": stage},
                )
            warned += len(pairs)
    return {"removed": removed, "warned": warned}


# --- the round --------------------------------------------------------------------------------


async def tick(database: Database, *, base_url: str) -> dict[str, int]:
    """One round: reminders, expiry, inactivity; what it did."""
    counts = {"reminded": 0, "expired": 0, "inactivityWarnings": 0, "removedForInactivity": 0}
    for key, step in (("reminded", remind_due), ("expired", expire_due)):
        while True:
            async with database.unit_of_work() as db_session:
                done = await step(db_session, now=clock.now(), base_url=base_url)
            counts[key] += done
            if done < BATCH:
                break
    async with database.unit_of_work() as db_session:
        inactivity = await inactivity_round(db_session, now=clock.now(), base_url=base_url)
    counts["inactivityWarnings"] = inactivity["warned"]
    counts["removedForInactivity"] = inactivity["removed"]
    return counts


async def schedule_next(db_session: AsyncSession, settings: Settings) -> bool:
    """Queue the next round (unless one already waits); False when one waits."""
    delay = timedelta(seconds=settings.engagement_tick_seconds)
    return await jobs.enqueue(
        db_session, kind=TICK_KIND, payload={}, dedupe_key=TICK_KIND, delay=delay
    )


async def ensure_ticking(database: Database, settings: Settings) -> None:
    """At a server's start: queue a round (one interval from now) unless one is queued or
    running somewhere."""
    async with database.unit_of_work() as db_session:
        if not await jobs.pending(db_session, dedupe_keys=[TICK_KIND]):
            await schedule_next(db_session, settings)


@jobs.handler(TICK_KIND)
async def _run(context: jobs.JobContext) -> None:
    settings: Settings = context.resources["settings"]
    async with context.database.unit_of_work() as db_session:
        await schedule_next(db_session, settings)
    await tick(context.database, base_url=settings.base_url)


@jobs.on_failure(TICK_KIND)
async def _keep_going(db_session: AsyncSession, failed: jobs.FailedJob) -> None:
    await schedule_next(db_session, failed.resources["settings"])
