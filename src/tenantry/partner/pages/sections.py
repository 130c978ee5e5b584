"""The partner account page's sections: linked tenants, members and pending invitations.

Each function answers the rows its template partial shows (`partner/_linked_tenants.html`,
`partner/_members.html`, `partner/_invitations.html`; the keys each row needs are in the
partial's first comment), read through the partner services (`links`, `roster`,
`invites`).

A pending invitation is a member of the account who is a guest still
`externalUserState` PendingAcceptance (invited from this page, or by `POST
/v1/invitations` and then added); it shows under "Pending invitations" rather than among
the members until the guest accepts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domains import names
from tenantry.domains import service as domain_service
from tenantry.partner import invites, links, roster
from tenantry.partner.models import PartnerAccount, PartnerAccountMember
from tenantry.web.admin_views import format_time


async def linked_tenants(
    *, db_session: AsyncSession, account: PartnerAccount
) -> list[dict[str, Any]]:
    """The tenants linked to the account: {id, name, domain, enrolling}, the enrolling first."""
    rows = []
    for linked in await links.list_linked(db_session=db_session, account=account):
        domains = await domain_service.get_all(db_session=db_session, tenant_id=linked.tenant_id)
        default = next((domain for domain in domains if domain.is_default), None)
        rows.append(
            {
                "id": str(linked.tenant_id),
                "name": linked.display_name,
                "domain": names.display(default.name) if default else "",
                "enrolling": linked.is_enrolling,
            }
        )
    return rows


def _name(entry: roster.MemberEntry) -> str:
    principal = entry.user or entry.group
    return principal.display_name if principal is not None else ""


async def members_and_invitations(
    *, db_session: AsyncSession, account: PartnerAccount, language: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The account's members {id, name, email, roles (keys of `partner.role.*`), guest,
    group} and its pending invitations {id, name, email, roles, invited_at}."""
    rows = list(
        (
            await db_session.scalars(
                select(PartnerAccountMember)
                .where(PartnerAccountMember.partner_account_id == account.id)
                .order_by(PartnerAccountMember.created_at, PartnerAccountMember.id)
            )
        ).all()
    )
    # In the order they were added; those added at once by name.
    entries = sorted(
        await roster.entries(db_session, rows),
        key=lambda entry: (entry.member.created_at, _name(entry).casefold()),
    )
    pending = await invites.pending(db_session=db_session, entries=entries)
    waiting = {item.user.id for item in pending}
    members = []
    for entry in entries:
        if entry.user is not None and entry.user.id not in waiting:
            members.append(
                {
                    "id": str(entry.user.id),
                    "name": entry.user.display_name,
                    "email": entry.user.mail or entry.user.user_principal_name,
                    "roles": entry.roles,
                    "guest": entry.user.external_user_state is not None,
                    "group": False,
                }
            )
        elif entry.group is not None:
            members.append(
                {
                    "id": str(entry.group.id),
                    "name": entry.group.display_name,
                    "email": "",
                    "roles": entry.roles,
                    "guest": False,
                    "group": True,
                }
            )
    invitations = [
        {
            "id": str(item.user.id),
            "name": item.user.display_name,
            "email": item.user.mail or item.user.user_principal_name,
            "roles": item.roles,
            "invited_at": format_time(language, item.invited_at) if item.invited_at else "",
        }
        for item in pending
    ]
    return members, invitations
