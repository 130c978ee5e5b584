"""Emails sent when a domain changes hands."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.mail import Priority, enqueue_translated
from tenantry.directory.models import User
from tenantry.tenants.models import Tenant


def send_moved(*, db_session: AsyncSession, user: User, tenant: Tenant, domain: str) -> None:
    """Tell a user that their account now belongs to the organization that verified their domain."""
    enqueue_translated(
        db_session,
        priority=Priority.BULK,
        recipient=user.mail or user.user_principal_name,
        language=user.preferred_language,
        message="moved",
        tenant_id=tenant.id,
        name=user.display_name,
        organization=tenant.display_name,
        domain=domain,
        email=user.user_principal_name,
    )
