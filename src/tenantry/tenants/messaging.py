"""Emails sent when a tenant becomes managed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.mail import enqueue_translated
from tenantry.directory.models import User
from tenantry.tenants.models import Tenant


def send_now_managed(
    *, db_session: AsyncSession, member: User, admin: User, tenant: Tenant
) -> None:
    """Tell a member that their organization is now managed, and by whom."""
    enqueue_translated(
        db_session,
        recipient=member.mail or member.user_principal_name,
        language=member.preferred_language,
        message="now_managed_admin" if member.id == admin.id else "now_managed",
        tenant_id=tenant.id,
        name=member.display_name,
        organization=tenant.display_name,
        admin=admin.display_name,
        admin_email=admin.user_principal_name,
    )
