"""Emails that tell people, days ahead, that their self-service offer is about to step down.

The free meetings offer gives 10 participants per meeting for 60 days, then 3 (the
catalog's `fromDay` steps). `TENANTRY_OFFER_NOTICE_DAYS` (7) before a step that lowers
a limit, the person gets one email in their language: what changes, from which day,
and how to keep more (a license, which administrators assign in the admin center,
or, in an organization that has no administrator yet, becoming it). Someone whose
licenses keep the limit above the step is not told: nothing changes for them.

The lifecycle round (`licensing.scheduled.tick`) runs it. Each step is claimed once
per person by a conditional UPDATE of `noticed_step_day`, so rounds running in
several processes never send a notice twice; a round that did not run for a while
sends what is due when it runs again, as long as the step is still ahead.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import UNLIMITED, Catalog, EntitlementValue, Offer
from tenantry.core import audit
from tenantry.core.config import Settings
from tenantry.core.i18n import format_date, translate
from tenantry.core.mail import Priority, enqueue_translated
from tenantry.directory.models import User
from tenantry.licensing.entitlements import (
    EntitlementChange,
    compute_entitlements,
    upcoming_changes,
)
from tenantry.licensing.entitlements import entitlement_sources as load_sources
from tenantry.licensing.models import OfferAssignment
from tenantry.licensing.schemas import limit_label, limit_text
from tenantry.tenants.models import MANAGED, Tenant


def _rank(value: EntitlementValue) -> float:
    return float("inf") if value == UNLIMITED else float(value)


def lowering_steps(offer: Offer) -> list[int]:
    """The days of the offer's schedule on which some limit becomes lower."""
    return sorted(
        {
            step.from_day
            for entitlement in offer.entitlements
            for before, step in pairwise(entitlement.steps)
            if _rank(step.value) < _rank(before.value)
        }
    )


async def _claim(
    db_session: AsyncSession, *, offer: Offer, day: int, now: datetime, horizon: datetime
) -> list[uuid.UUID]:
    """The people whose step on `day` falls in (now, horizon] and who were not told yet;
    marked as told in the same statement."""
    rows = await db_session.execute(
        update(OfferAssignment)
        .where(
            OfferAssignment.offer == offer.part_number,
            OfferAssignment.status == "active",
            OfferAssignment.started_at > now - timedelta(days=day),
            OfferAssignment.started_at <= horizon - timedelta(days=day),
            or_(
                OfferAssignment.noticed_step_day.is_(None),
                OfferAssignment.noticed_step_day < day,
            ),
        )
        .values(noticed_step_day=day)
        .returning(OfferAssignment.user_id)
        .execution_options(synchronize_session=False)
    )
    return [user_id for (user_id,) in rows]


async def send_step_down_notices(
    db_session: AsyncSession, *, catalog: Catalog, settings: Settings, now: datetime
) -> int:
    """Email everyone whose offer steps down within the notice period; how many were told."""
    if settings.offer_notice_days <= 0:
        return 0
    horizon = now + timedelta(days=settings.offer_notice_days)
    claimed: dict[uuid.UUID, tuple[Offer, int]] = {}
    for offer in catalog.offers.values():
        for day in lowering_steps(offer):
            for user_id in await _claim(db_session, offer=offer, day=day, now=now, horizon=horizon):
                claimed.setdefault(user_id, (offer, day))
    if not claimed:
        return 0
    people = (
        await db_session.execute(
            select(User, Tenant.state)
            .join(Tenant, Tenant.id == User.tenant_id)
            .where(User.id.in_(claimed), User.account_enabled)
        )
    ).all()
    sources = await load_sources(db_session=db_session, user_ids=list(claimed))
    told = 0
    for user, tenant_state in people:
        offer, day = claimed[user.id]
        offers, licenses = sources[user.id]
        started = next((at for part, at in offers if part == offer.part_number), None)
        if started is None:
            continue
        step_at = started + timedelta(days=day)
        current = compute_entitlements(catalog, offers=offers, licenses=licenses, now=now).limits
        lowered = [
            change
            for change in upcoming_changes(catalog, offers=offers, licenses=licenses, now=now)
            if change.effective_at == step_at
            and _rank(change.value) < _rank(current.get(change.name, 0))
        ]
        if lowered:
            _notify(db_session, settings, user, offer, step_at, current, lowered, tenant_state)
            told += 1
    return told


def _notify(
    db_session: AsyncSession,
    settings: Settings,
    user: User,
    offer: Offer,
    step_at: datetime,
    current: dict[str, EntitlementValue],
    lowered: list[EntitlementChange],
    tenant_state: str,
) -> None:
    language = user.preferred_language or "en"
    date = format_date(language, step_at)
    changes = "\n".join(
        translate(
            language,
            "mail.offer_step_down.change",
            label=limit_label(language, change.name),
            before=limit_text(language, current[change.name]),
            after=limit_text(language, change.value),
        )
        for change in lowered
    )
    base_url = settings.base_url.rstrip("/")
    action = (
        translate(language, "mail.offer_step_down.action_managed", url=f"{base_url}/admin")
        if tenant_state == MANAGED
        else translate(
            language,
            "mail.offer_step_down.action_unmanaged",
            url=f"{base_url}/admin/become",
        )
    )
    enqueue_translated(
        db_session,
        priority=Priority.BULK,
        recipient=user.mail or user.user_principal_name,
        language=language,
        message="offer_step_down",
        tenant_id=user.tenant_id,
        name=user.display_name,
        offer=offer.display_name,
        date=date,
        changes=changes,
        action=action,
    )
    details: dict[str, Any] = {
        "offer": offer.part_number,
        "effectiveDateTime": step_at.isoformat(),
        "changes": {change.name: change.value for change in lowered},
    }
    audit.record(
        db_session,
        actor=audit.Actor.system(),
        action="Send offer step-down notice",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        details=details,
    )
