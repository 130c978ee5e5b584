"""Emails sent when a domain changes hands."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.i18n import translate
from tenantry.core.mail import enqueue
from tenantry.directory.models import User
from tenantry.tenants.models import Tenant


def send_moved(*, db_session: AsyncSession, user: User, tenant: Tenant, domain: str) -> None:
    """Tell a user that their account now belongs to the organization that verified their domain."""
    lang = user.preferred_language or "en"
    enqueue(
        db_session,
        recipient=user.mail or user.user_principal_name,
        tenant_id=tenant.id,
        subject=translate(lang, "mail.moved.subject", organization=tenant.display_name),
        body_text=translate(
            lang,
            "mail.moved.body",
            name=user.display_name,
            organization=tenant.display_name,
            domain=domain,
            email=user.user_principal_name,
        ),
    )
