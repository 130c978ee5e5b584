"""A partner account's life after enrollment: approval, rejection, suspension, changes.

The rules:
- The approver named at enrollment gets an email with a link, valid 14 days, to confirm
  or reject the company's account. The link carries a random token; the account keeps
  only its digest, and a new link (resent by an Owner or Manager of the account)
  replaces the old one. Confirmation makes the account `active`, rejection
  `rejected`; either spends the link.
- An operator may approve a pending (or reinstate a suspended or rejected) account,
  reject a pending one, or suspend an active one.
- The contact is emailed on enrollment and on approval.
- The publisher name and the contact may change (the same rules as at enrollment); the
  country or region and the account type never do.
Every state change is audited.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.audit import Actor
from tenantry.core.clock import clock
from tenantry.core.security import new_token, token_digest
from tenantry.engagements.partner_hooks import partner_account_lost_access
from tenantry.partner import access, accounts, messaging, service
from tenantry.partner.exceptions import (
    AccountTypeImmutable,
    ApprovalLinkExpired,
    ApprovalLinkInvalid,
    CountryImmutable,
    NotOperator,
    PartnerAccountNotFound,
    PartnerAccountStateConflict,
)
from tenantry.partner.models import (
    ACTIVE,
    PENDING_APPROVAL,
    REJECTED,
    SUSPENDED,
    PartnerAccount,
)
from tenantry.tenants.models import Tenant

APPROVAL_LINK_DAYS = 14
# Which states each operator action leaves from.
OPERATOR_MOVES = {
    "approve": ({PENDING_APPROVAL, SUSPENDED, REJECTED}, ACTIVE),
    "reject": ({PENDING_APPROVAL}, REJECTED),
    "suspend": ({ACTIVE}, SUSPENDED),
}
_ACTIONS = {ACTIVE: "approved", REJECTED: "rejected", SUSPENDED: "suspended"}


APPROVAL_PAGE = "/partner/approvals"


def approval_link(base_url: str, token: str) -> str:
    """Where the approver confirms or rejects: a page a person uses with no sign-in (the token
    is the only credential; `/v1/partnerAccountApprovals/{token}` answers the same for programs)."""
    return f"{base_url.rstrip('/')}{APPROVAL_PAGE}/{quote(token, safe='')}"


def issue_approval_link(
    *, db_session: AsyncSession, account: PartnerAccount, base_url: str, organization: str
) -> None:
    """A new link for the approver (replacing any earlier one), emailed to them."""
    token = new_token()
    account.approval_token_digest = token_digest(token)
    account.approval_expires_at = clock.now() + timedelta(days=APPROVAL_LINK_DAYS)
    messaging.send_approval_request(
        db_session=db_session,
        account=account,
        link=approval_link(base_url, token),
        organization=organization,
    )


def _move(
    db_session: AsyncSession, account: PartnerAccount, target: str, *, actor: Actor, by: str
) -> PartnerAccount:
    previous = account.state
    account.state = target
    account.updated_at = clock.now()
    account.approval_token_digest = None
    account.approval_expires_at = None
    audit.record(
        db_session,
        actor=actor,
        action=f"partnerAccount.{_ACTIONS[target]}",
        target_type="partnerAccount",
        target_id=account.id,
        tenant_id=account.tenant_id,
        details={"from": previous, "to": target, "by": by},
    )
    if target == ACTIVE:
        messaging.send_approved(db_session=db_session, account=account)
    return account


async def by_approval_token(
    *, db_session: AsyncSession, token: str, language: str
) -> PartnerAccount:
    """The pending account a link's token names; 404 for an unknown or spent link, 410 once
    it expired."""
    account = await db_session.scalar(
        select(PartnerAccount)
        .where(PartnerAccount.approval_token_digest == token_digest(token))
        .with_for_update()
    )
    if account is None or account.state != PENDING_APPROVAL:
        raise ApprovalLinkInvalid(language)
    assert account.approval_expires_at is not None
    if account.approval_expires_at <= clock.now():
        raise ApprovalLinkExpired(language)
    return account


async def decide(
    *, db_session: AsyncSession, token: str, confirm: bool, actor: Actor, language: str
) -> PartnerAccount:
    """The approver's answer through the link: confirmed → active, rejected → rejected."""
    account = await by_approval_token(db_session=db_session, token=token, language=language)
    return _move(db_session, account, ACTIVE if confirm else REJECTED, actor=actor, by="approver")


async def _owned(
    db_session: AsyncSession, *, account_id: uuid.UUID, actor: Actor, language: str
) -> PartnerAccount:
    """The account, locked, for its Owners and Managers; 403 for its other members (they know
    it exists), 404 for anyone else."""
    assert actor.user_id is not None and actor.tenant_id is not None
    rights = await access.resolve(
        db_session=db_session,
        account_id=account_id,
        tenant_id=actor.tenant_id,
        user_id=actor.user_id,
        language=language,
        lock=True,
    )
    access.require_manager(rights, language)
    return rights.account


async def resend_approval(
    *,
    db_session: AsyncSession,
    account_id: uuid.UUID,
    actor: Actor,
    base_url: str,
    language: str,
) -> PartnerAccount:
    """A new link to the approver of a pending account, by an Owner or Manager."""
    account = await _owned(db_session, account_id=account_id, actor=actor, language=language)
    if account.state != PENDING_APPROVAL:
        raise PartnerAccountStateConflict(language, account.state, PENDING_APPROVAL)
    tenant = await db_session.get(Tenant, account.tenant_id)
    assert tenant is not None  # an account goes with its tenant
    issue_approval_link(
        db_session=db_session,
        account=account,
        base_url=base_url,
        # The enrolling organization's name, whichever linked tenant the caller is from.
        organization=tenant.display_name,
    )
    audit.record(
        db_session,
        actor=actor,
        action="partnerAccount.approvalResent",
        target_type="partnerAccount",
        target_id=account.id,
    )
    return account


async def operator_move(
    *, db_session: AsyncSession, account_id: uuid.UUID, move: str, actor: Actor, language: str
) -> PartnerAccount:
    """An operator approves, rejects or suspends an account. Anyone else: 403 when they may
    read the account, else 404."""
    assert actor.user_id is not None and actor.tenant_id is not None
    if not await service.is_operator(db_session=db_session, user_id=actor.user_id):
        await accounts.get_visible(
            db_session=db_session,
            account_id=account_id,
            tenant_id=actor.tenant_id,
            user_id=actor.user_id,
            language=language,
        )
        raise NotOperator(language)
    account = await db_session.get(PartnerAccount, account_id, with_for_update=True)
    if account is None:
        raise PartnerAccountNotFound(language)
    sources, target = OPERATOR_MOVES[move]
    if account.state not in sources:
        raise PartnerAccountStateConflict(language, account.state, target)
    moved = _move(db_session, account, target, actor=actor, by="operator")
    # Engagements (issue 12): a suspended or rejected account loses access to every
    # engagement; its pending access requests are canceled in this unit of work.
    if target != ACTIVE:
        await partner_account_lost_access(
            db_session=db_session, partner_account_id=account.id, actor=actor
        )
    return moved


async def update(
    *,
    db_session: AsyncSession,
    account_id: uuid.UUID,
    actor: Actor,
    language: str,
    publisher_display_name: str | None,
    contact: accounts.Person | None,
    country_or_region: str | None,
    account_type: str | None,
) -> PartnerAccount:
    """Change the publisher name or the contact (an Owner or Manager); country and type never."""
    account = await _owned(db_session, account_id=account_id, actor=actor, language=language)
    if country_or_region is not None:
        raise CountryImmutable(language)
    if account_type is not None:
        raise AccountTypeImmutable(language)
    changed: dict[str, str] = {}
    if publisher_display_name is not None:
        name, key = accounts.check_publisher_name(publisher_display_name, language=language)
        if key != account.publisher_name_key:
            await accounts.refuse_taken_or_reserved(db_session, key=key, language=language)
        account.publisher_display_name, account.publisher_name_key = name, key
        changed["publisherDisplayName"] = name
    if contact is not None:
        checked = accounts.check_person(contact, field="contact", language=language)
        account.contact_name = checked.name
        account.contact_email = checked.email
        account.contact_phone = checked.phone
        changed["contact"] = checked.email
    if changed:
        account.updated_at = clock.now()
        audit.record(
            db_session,
            actor=actor,
            action="partnerAccount.updated",
            target_type="partnerAccount",
            target_id=account.id,
            details=changed,
        )
        # A name another account took meanwhile: the unique index speaks here.
        await db_session.flush()
    return account
