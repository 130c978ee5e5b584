"""Partner program processes whose races the database settles: enrollment."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from tenantry.core.audit import Actor
from tenantry.core.db import Database
from tenantry.partner import accounts
from tenantry.partner.models import PartnerAccount
from tenantry.tenants.models import Tenant


async def enroll(
    database: Database,
    *,
    tenant: Tenant,
    actor: Actor,
    enrollment: accounts.Enrollment,
    language: str,
) -> PartnerAccount:
    """`accounts.enroll` in a unit of work of its own, run again when it loses a race.

    Twenty tenants enrolling "Contoso Labs" at once all pass the name check; the unique
    index on the name's key lets one commit, and each loser's next attempt sees the
    winner's account and is refused with `publisherNameTaken` (a second enrollment of one
    tenant meets `partnerAccountExists` the same way).
    """
    async for attempt in database.attempts(retry_on=IntegrityError):
        async with attempt as db_session:
            account = await accounts.enroll(
                db_session=db_session,
                tenant=tenant,
                actor=actor,
                enrollment=enrollment,
                language=language,
            )
    return account
