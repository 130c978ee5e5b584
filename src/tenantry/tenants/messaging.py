"""Emails sent when a tenant becomes managed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.i18n import translate
from tenantry.core.mail import enqueue
from tenantry.directory.models import User
from tenantry.tenants.models import Tenant


def send_now_managed(
    *, db_session: AsyncSession, member: User, admin: User, tenant: Tenant
) -> None:
    """Tell a member that their organization is now managed, and by whom."""
    lang = member.preferred_language or "en"
    key = "mail.now_managed_admin" if member.id == admin.id else "mail.now_managed"
    enqueue(
        db_session,
        recipient=member.mail or member.user_principal_name,
        tenant_id=tenant.id,
        subject=translate(lang, f"{key}.subject", organization=tenant.display_name),
        body_text=translate(
            lang,
            f"{key}.body",
            name=member.display_name,
            organization=tenant.display_name,
            admin=admin.display_name,
            admin_email=admin.user_principal_name,
        ),
    )
