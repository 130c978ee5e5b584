"""Partner program processes whose races the database settles: enrollment, renaming."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from tenantry.core.audit import Actor
from tenantry.core.db import Database
from tenantry.partner import accounts, lifecycle, links, messaging
from tenantry.partner.models import PartnerAccount
from tenantry.tenants.models import Tenant


async def enroll(
    database: Database,
    *,
    tenant: Tenant,
    actor: Actor,
    enrollment: accounts.Enrollment,
    language: str,
    base_url: str,
) -> PartnerAccount:
    """Enroll (`accounts.enroll`; the enrolling tenant is linked and the person who enrolled
    is its Owner), email the approver their link and the contact a confirmation, all in one
    unit of work, run again when it loses a race.

    Twenty tenants enrolling "Contoso Labs" at once all pass the name check; the unique
    index on the name's key lets one commit, and each loser's next attempt sees the
    winner's account and is refused with `publisherNameTaken` (a second enrollment of one
    tenant meets `partnerAccountExists` the same way). A refused enrollment sends nothing.
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
            await links.link_enrolling_tenant(db_session=db_session, account=account, actor=actor)
            lifecycle.issue_approval_link(
                db_session=db_session,
                account=account,
                base_url=base_url,
                organization=tenant.display_name,
            )
            messaging.send_enrolled(db_session=db_session, account=account)
    return account


async def update(
    database: Database,
    *,
    account_id: uuid.UUID,
    actor: Actor,
    language: str,
    publisher_display_name: str | None,
    contact: accounts.Person | None,
    country_or_region: str | None,
    account_type: str | None,
) -> PartnerAccount:
    """`lifecycle.update` run again when a rename loses a race for its name."""
    async for attempt in database.attempts(retry_on=IntegrityError):
        async with attempt as db_session:
            account = await lifecycle.update(
                db_session=db_session,
                account_id=account_id,
                actor=actor,
                language=language,
                publisher_display_name=publisher_display_name,
                contact=contact,
                country_or_region=country_or_region,
                account_type=account_type,
            )
    return account
