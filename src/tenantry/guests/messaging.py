"""Emails of guest invitations: the invitation with its redeem link, the code that proves the
invited address."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.i18n import format_date, translate
from tenantry.core.mail import Priority, enqueue_translated
from tenantry.guests.models import Invitation


def send_invitation(
    *,
    db_session: AsyncSession,
    invitation: Invitation,
    recipients: Iterable[str],
    guest_name: str,
    inviter_name: str,
    organization: str,
    link: str,
) -> None:
    """The invitation, to the invited address and to the cc recipient: the same words and
    link (accepting still needs the invited address proven)."""
    language = invitation.language
    note = (
        translate(
            language,
            "mail.guest_invitation.note",
            inviter=inviter_name,
            message=invitation.message_body,
        )
        if invitation.message_body
        else ""
    )
    for recipient in dict.fromkeys(recipients):
        enqueue_translated(
            db_session,
            recipient=recipient,
            language=language,
            message="guest_invitation",
            tenant_id=invitation.tenant_id,
            name=guest_name,
            email=invitation.email,
            inviter=inviter_name,
            organization=organization,
            note=note,
            link=link,
            expires=format_date(language, invitation.expires_at),
        )


def send_code(
    *, db_session: AsyncSession, invitation: Invitation, code: str, organization: str, minutes: int
) -> None:
    """The one-time code that proves the invited address (someone is waiting for it)."""
    enqueue_translated(
        db_session,
        recipient=invitation.email,
        language=invitation.language,
        message="guest_code",
        tenant_id=invitation.tenant_id,
        priority=Priority.URGENT,
        code=code,
        organization=organization,
        minutes=minutes,
    )
