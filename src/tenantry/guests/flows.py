"""Guest processes whose races the database settles: inviting an address."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from tenantry.core.audit import Actor
from tenantry.core.db import Database
from tenantry.directory.models import User
from tenantry.guests import invitations
from tenantry.tenants.models import Tenant


async def invite(
    database: Database,
    *,
    base_url: str,
    actor: Actor,
    tenant: Tenant,
    inviter: User,
    email: str,
    redirect_url: str,
    display_name: str | None = None,
    send_message: bool = False,
    message: invitations.MessageInfo | None = None,
) -> invitations.InvitationResult:
    """`invitations.invite` in a unit of work of its own, run again when it loses a race.

    Two admins inviting the same address at once both find no guest; the unique index on
    the tenant's guest addresses lets one insert commit, and the other's next attempt
    finds that guest and sends its invitation again (the first link then stops working,
    as for any second invitation).
    """
    async for attempt in database.attempts(retry_on=IntegrityError):
        async with attempt as db_session:
            result = await invitations.invite(
                db_session=db_session,
                base_url=base_url,
                actor=actor,
                tenant=tenant,
                inviter=inviter,
                email=email,
                redirect_url=redirect_url,
                display_name=display_name,
                send_message=send_message,
                message=message,
            )
    return result
