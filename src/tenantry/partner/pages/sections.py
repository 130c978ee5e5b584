"""The partner account page's sections that other parts of issue 11 fill: linked tenants,
members, pending invitations.

Each function answers the rows its template partial shows (`partner/_linked_tenants.html`,
`partner/_members.html`, `partner/_invitations.html`; the keys each row needs are in the
partial's first comment). Until partner members, tenant links and guest invitations exist
(issue 11, scope 4 and 5), they answer what the enrollment already knows: the enrolling
tenant is linked, the person who enrolled is the Owner, nobody is invited. Those services
replace the bodies here; the page and its templates need not change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.errors import NotFound
from tenantry.directory import users as directory_users
from tenantry.domains import names
from tenantry.domains import service as domain_service
from tenantry.partner.models import PartnerAccount
from tenantry.tenants import service as tenant_service

OWNER = "owner"


async def linked_tenants(
    *, db_session: AsyncSession, account: PartnerAccount
) -> list[dict[str, Any]]:
    """The tenants linked to the account: {id, name, domain, enrolling}.

    HOOK (partner members, "linking a tenant"): the links; for now the enrolling tenant,
    which enrollment links."""
    tenant = await tenant_service.get(db_session=db_session, tenant_id=account.tenant_id)
    domains = await domain_service.get_all(db_session=db_session, tenant_id=tenant.id)
    default = next((domain for domain in domains if domain.is_default), None)
    return [
        {
            "id": str(tenant.id),
            "name": tenant.display_name,
            "domain": names.display(default.name) if default else "",
            "enrolling": True,
        }
    ]


async def members(*, db_session: AsyncSession, account: PartnerAccount) -> list[dict[str, Any]]:
    """The account's members: {id, name, email, roles (keys of `partner.role.*`), guest}.

    HOOK (partner members, "account roles"): the members and their roles; for now the
    person who enrolled, the Owner."""
    try:
        owner = await directory_users.get(
            db_session=db_session, tenant_id=account.tenant_id, user_id=account.created_by
        )
    except NotFound:  # the person who enrolled was deleted since
        return []
    return [
        {
            "id": str(owner.id),
            "name": owner.display_name,
            "email": owner.user_principal_name,
            "roles": [OWNER],
            "guest": False,
        }
    ]


async def invitations(*, db_session: AsyncSession, account: PartnerAccount) -> list[dict[str, Any]]:
    """Guests invited and not yet accepted: {id, name, email, invited_at} ("Invitation pending").

    HOOK (guests, `POST /v1/invitations`): the pending invitations; none before guests exist."""
    return []
