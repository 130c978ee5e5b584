"""Emails of the partner program: the approver's link, the contact's confirmations."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.i18n import format_date
from tenantry.core.mail import enqueue_translated
from tenantry.partner.models import PartnerAccount


def send_approval_request(
    *, db_session: AsyncSession, account: PartnerAccount, link: str, organization: str
) -> None:
    """Ask the approver to confirm (or reject) the company's account, through a link."""
    assert account.approval_expires_at is not None
    enqueue_translated(
        db_session,
        recipient=account.approver_email,
        language=account.language,
        message="partner_approval",
        tenant_id=account.tenant_id,
        name=account.approver_name,
        publisher=account.publisher_display_name,
        organization=organization,
        contact=account.contact_name,
        link=link,
        expires=format_date(account.language, account.approval_expires_at),
    )


def send_enrolled(*, db_session: AsyncSession, account: PartnerAccount) -> None:
    """Tell the contact that the enrollment is done and waits for the approver."""
    enqueue_translated(
        db_session,
        recipient=account.contact_email,
        language=account.language,
        message="partner_enrolled",
        tenant_id=account.tenant_id,
        name=account.contact_name,
        publisher=account.publisher_display_name,
        approver=account.approver_name,
    )


def send_approved(*, db_session: AsyncSession, account: PartnerAccount) -> None:
    """Tell the contact that the account is approved and active."""
    enqueue_translated(
        db_session,
        recipient=account.contact_email,
        language=account.language,
        message="partner_approved",
        tenant_id=account.tenant_id,
        name=account.contact_name,
        publisher=account.publisher_display_name,
    )
