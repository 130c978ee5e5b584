"""What engagements do when a partner account stops being active (suspended or rejected).

The partner lifecycle calls `partner_account_lost_access` in the unit of work that moves the
account. The account's memberships are kept but no longer count (every check reads the
account's state: `access.membership_counts`), and it drops out of engagements open to all
partner accounts until it is active again; only its pending access requests change: they are
canceled, each audited. Nothing here imports the partner lifecycle, so it may import this.
"""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.engagements.models import CANCELED, PENDING_APPROVAL, AccessRequest


async def partner_account_lost_access(
    *, db_session: AsyncSession, partner_account_id: uuid.UUID, actor: audit.Actor
) -> int:
    """Cancel every pending access request of the partner account; how many."""
    now = clock.now()
    rows = await db_session.execute(
        update(AccessRequest)
        .where(
            AccessRequest.partner_account_id == partner_account_id,
            AccessRequest.state == PENDING_APPROVAL,
        )
        .values(state=CANCELED, decided_at=now, updated_at=now)
        .returning(AccessRequest.id, AccessRequest.engagement_id)
        .execution_options(synchronize_session=False)
    )
    canceled = rows.all()
    for request_id, engagement_id in canceled:
        audit.record(
            db_session,
            actor=actor,
            action="engagement.accessRequest.canceled",
            target_type="accessRequest",
            target_id=request_id,
            details={"engagementId": str(engagement_id), "reason": "partnerAccountLostAccess"},
        )
    return len(canceled)
