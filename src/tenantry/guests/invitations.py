"""Inviting guests (Graph's `POST /invitations`), and sending an invitation again.

The rules:
- Who invites: a Global Administrator or User Administrator of a managed organization
  (the route's guard; Entra's strictest guest-invite setting, "only users assigned to
  specific admin roles can invite". Tenantry's directory has no Guest Inviter role).
- What may be invited: an address Entra would invite — a well-formed address without
  the characters Graph refuses (~ ! # $ % ^ & * ( ) + = [ ] { } \\ / | ; : " < > ? ,),
  at a domain name under a public suffix (no IP address). Personal addresses
  (gmail.com, outlook.com) are welcome, as in Entra B2B; sign-up's refusal of them is
  about forming organizations, which a guest never does. Refused: an address at one of
  the organization's own verified domains or their subdomains (its people are members),
  the inviter's own address, an address a member of the organization signs in with.
- Inviting makes the guest user (PendingAcceptance) and an invitation whose redeem link
  is valid `INVITATION_LINK_DAYS`, once. Inviting the same address again while it is
  pending sends it again: the same guest, a new link, the old one dead. Once accepted,
  inviting it again changes nothing and answers `Completed` (Graph's), with no email.
- The email (when `sendInvitationMessage`) goes through the outbox in the message
  language (en, fr or nl; any other falls back to English), with the inviter's own
  words and a copy to the one cc recipient Graph allows.

`invite` and `resend` are what the partner pages call (several guests in one request:
one call each, each in a savepoint of their own if one failure must not stop the rest).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Delete, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.housekeeping import pruner
from tenantry.core.i18n import DEFAULT_LANGUAGE, LANGUAGES
from tenantry.core.security import new_token, token_digest
from tenantry.directory import guests as directory_guests
from tenantry.directory import users as directory_users
from tenantry.directory.models import User
from tenantry.domains import names
from tenantry.domains import service as domain_service
from tenantry.guests import messaging
from tenantry.guests.exceptions import (
    AddressInOwnDomain,
    CannotInviteYourself,
    GuestNotFound,
    InvalidCcRecipients,
    InvalidInvitedAddress,
    InvalidMessage,
    InvalidRedirectUrl,
    InvitationAlreadyAccepted,
    InvitedUserIsMember,
)
from tenantry.guests.models import COMPLETED, PENDING_ACCEPTANCE, Invitation
from tenantry.tenants.exceptions import TenantUnmanaged
from tenantry.tenants.models import MANAGED, Tenant

INVITATION_LINK_DAYS = 30
MAX_MESSAGE_LENGTH = 10_000
MAX_ADDRESS_LENGTH = 200
MAX_CC_RECIPIENTS = 1  # Graph: "currently only one additional recipient is supported"
# Graph refuses these in an invited address (its invitation resource's own list).
_REFUSED_CHARACTERS = re.compile(r"[~!#$%^&*()+=\[\]{}\\/|;:\"<>?,]")


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str | None = None


@dataclass(frozen=True)
class MessageInfo:
    """Graph's invitedUserMessageInfo: the inviter's words, the language, the cc recipient."""

    body: str | None = None
    language: str | None = None
    cc: tuple[Recipient, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class InvitationResult:
    """What `POST /v1/invitations` answers: the invitation and its guest."""

    id: uuid.UUID
    guest: User
    status: str  # PendingAcceptance, or Completed when the guest had already accepted
    redeem_url: str
    redirect_url: str
    send_message: bool
    language: str
    message_body: str | None
    cc: tuple[Recipient, ...]


def check_address(value: str, *, target_name: str = "invitedUserEmailAddress") -> str:
    """An invitable address in its stored form (`principal_name_key`); InvalidInvitedAddress
    with the reason otherwise."""
    raw = (value or "").strip()
    if len(raw) > MAX_ADDRESS_LENGTH:  # the guest's user name (…#EXT#@…) must fit too
        raise InvalidInvitedAddress(
            f"{target_name}: an address longer than {MAX_ADDRESS_LENGTH} characters is not invited."
        )
    local, at, domain_part = raw.rpartition("@")
    if not at or not local or not domain_part:
        raise InvalidInvitedAddress(f"{target_name}: enter an address such as kim@fabrikam.com.")
    if _REFUSED_CHARACTERS.search(local) or local[0] in ".-" or local[-1] in ".-":
        raise InvalidInvitedAddress(
            f"{target_name}: {raw} holds characters an invited address cannot hold."
        )
    if names.is_ip_literal(domain_part):
        raise InvalidInvitedAddress(f"{target_name}: an address at an IP address is not invited.")
    try:
        domain = names.normalize(domain_part)
        names.registrable(domain)
        checked = validate_email(
            f"{local}@{domain}",
            check_deliverability=False,
            globally_deliverable=False,
            allow_domain_literal=False,
        )
    except (names.InvalidRequest, EmailNotValidError) as exc:
        raise InvalidInvitedAddress(f"{target_name}: {raw} is not a valid address.") from exc
    return directory_users.principal_name_key(f"{checked.local_part}@{domain}")


def check_redirect_url(value: str) -> str:
    """An absolute http(s) address (Graph's inviteRedirectUrl is required)."""
    url = (value or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2048:
        raise InvalidRedirectUrl()
    if any(ord(char) < 33 for char in url):
        raise InvalidRedirectUrl()
    return url


def message_language(value: str | None) -> str:
    """The email's language from Graph's messageLanguage (ISO 639, e.g. `fr-FR`)."""
    primary = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


def _check_message(message: MessageInfo) -> tuple[str | None, tuple[Recipient, ...]]:
    body = message.body
    if body is not None:
        directory_users.check_text(body, field="customizedMessageBody")
        body = body.strip() or None
        if body is not None and len(body) > MAX_MESSAGE_LENGTH:
            raise InvalidMessage(
                f"customizedMessageBody is longer than {MAX_MESSAGE_LENGTH} characters."
            )
    if len(message.cc) > MAX_CC_RECIPIENTS:
        raise InvalidCcRecipients("Only one cc recipient is supported.")
    cc = []
    for recipient in message.cc:
        try:
            address = check_address(recipient.address, target_name="ccRecipients")
        except InvalidInvitedAddress as exc:
            raise InvalidCcRecipients(exc.message) from exc
        name = directory_users.check_name(
            recipient.name, field="ccRecipients.name", limit=256, required=False
        )
        cc.append(Recipient(address, name))
    return body, tuple(cc)


def redeem_link(base_url: str, token: str) -> str:
    """Where the invited person redeems (the token is the only credential)."""
    return f"{base_url.rstrip('/')}/invitations/redeem/{quote(token, safe='')}"


async def _check_invitable(
    db_session: AsyncSession, tenant: Tenant, inviter: User, address: str
) -> None:
    if tenant.state != MANAGED:
        raise TenantUnmanaged()
    own = await directory_users.verified_domains(db_session=db_session, tenant_id=tenant.id)
    domain = address.rpartition("@")[2]
    for name in names.parents(domain):
        if name in own:
            raise AddressInOwnDomain(names.display(name))
    if address in {inviter.mail, inviter.user_principal_name}:
        raise CannotInviteYourself()
    member = await directory_users.get_by_principal_name(
        db_session=db_session, principal_name=address
    )
    if member is not None and member.tenant_id == tenant.id:
        raise InvitedUserIsMember()


async def _initial_domain(db_session: AsyncSession, tenant_id: uuid.UUID) -> str:
    domains = await domain_service.get_all(db_session=db_session, tenant_id=tenant_id)
    return next(domain.name for domain in domains if domain.is_initial)


async def _issue(
    *,
    db_session: AsyncSession,
    base_url: str,
    actor: audit.Actor,
    tenant: Tenant,
    inviter: User,
    guest: User,
    redirect_url: str,
    send_message: bool,
    language: str,
    body: str | None,
    cc: tuple[Recipient, ...],
    again: bool,
) -> InvitationResult:
    """A new invitation of a pending guest (the earlier one, if any, goes with its link)."""
    await db_session.execute(
        delete(Invitation).where(Invitation.tenant_id == tenant.id, Invitation.user_id == guest.id)
    )
    token = new_token()
    now = clock.now()
    invitation = Invitation(
        tenant_id=tenant.id,
        id=uuid.uuid4(),
        user_id=guest.id,
        invited_by_id=inviter.id,
        email=guest.mail or "",
        redirect_url=redirect_url,
        send_message=send_message,
        message_body=body,
        language=language,
        cc_recipients=[{"address": r.address, "name": r.name} for r in cc],
        status=PENDING_ACCEPTANCE,
        token_digest=token_digest(token),
        expires_at=now + timedelta(days=INVITATION_LINK_DAYS),
        created_at=now,
        code_attempts=0,
        code_sends=0,
    )
    db_session.add(invitation)
    link = redeem_link(base_url, token)
    if send_message:
        messaging.send_invitation(
            db_session=db_session,
            invitation=invitation,
            recipients=[invitation.email, *(r.address for r in cc)],
            guest_name=guest.display_name,
            inviter_name=inviter.display_name,
            organization=tenant.display_name,
            link=link,
        )
    audit.record(
        db_session,
        actor=actor,
        action="Invite external user",
        target_type="user",
        target_id=guest.id,
        tenant_id=tenant.id,
        details={
            "invitedUserEmailAddress": invitation.email,
            "userPrincipalName": guest.user_principal_name,
            "sendInvitationMessage": send_message,
            "resent": again,
        },
    )
    await db_session.flush()
    return InvitationResult(
        id=invitation.id,
        guest=guest,
        status=PENDING_ACCEPTANCE,
        redeem_url=link,
        redirect_url=redirect_url,
        send_message=send_message,
        language=language,
        message_body=body,
        cc=cc,
    )


async def invite(
    *,
    db_session: AsyncSession,
    base_url: str,
    actor: audit.Actor,
    tenant: Tenant,
    inviter: User,
    email: str,
    redirect_url: str,
    display_name: str | None = None,
    send_message: bool = False,
    message: MessageInfo | None = None,
) -> InvitationResult:
    """Invite `email` to `tenant` as a guest, or send a pending invitation of it again.

    Run it in `Database.attempts`: a guest invited by someone else at the same moment
    fails this unit of work on a unique index, and the next attempt sends that one again.
    """
    address = check_address(email)
    redirect_url = check_redirect_url(redirect_url)
    message = message or MessageInfo()
    body, cc = _check_message(message)
    language = message_language(message.language)
    name = directory_users.check_name(
        display_name, field="invitedUserDisplayName", limit=256, required=False
    )
    await _check_invitable(db_session, tenant, inviter, address)
    # Locked: of two invitations of one guest at once, the second replaces the first's
    # (its link included) once that one committed, rather than meeting it on an index.
    guest = await directory_guests.find_guest(
        db_session=db_session, tenant_id=tenant.id, address=address, for_update=True
    )
    if guest is not None and guest.external_user_state != PENDING_ACCEPTANCE:
        return InvitationResult(
            id=uuid.uuid4(),  # Graph answers each call with an invitation of its own
            guest=guest,
            status=COMPLETED,
            redeem_url=redirect_url,  # they have access: the link takes them to the app
            redirect_url=redirect_url,
            send_message=False,
            language=language,
            message_body=body,
            cc=cc,
        )
    again = guest is not None
    if guest is None:
        guest = await directory_guests.create_guest(
            db_session=db_session,
            actor=actor,
            tenant_id=tenant.id,
            initial_domain=await _initial_domain(db_session, tenant.id),
            address=address,
            display_name=name or address.rpartition("@")[0],
        )
    elif name and name != guest.display_name:
        await directory_users.update(
            db_session=db_session, actor=actor, user=guest, display_name=name
        )
    return await _issue(
        db_session=db_session,
        base_url=base_url,
        actor=actor,
        tenant=tenant,
        inviter=inviter,
        guest=guest,
        redirect_url=redirect_url,
        send_message=send_message,
        language=language,
        body=body,
        cc=cc,
        again=again,
    )


async def resend(
    *,
    db_session: AsyncSession,
    base_url: str,
    actor: audit.Actor,
    tenant: Tenant,
    inviter: User,
    user_id: uuid.UUID,
    redirect_url: str | None = None,
    message: MessageInfo | None = None,
) -> InvitationResult:
    """Email a pending guest's invitation again, with a new link (the old one stops working).

    Without `redirect_url` or `message`, those of the guest's last invitation (else the
    server's address and English). GuestNotFound for a user who is not an invited guest
    of `tenant`; InvitationAlreadyAccepted once they accepted.
    """
    guest = await db_session.get(User, user_id, with_for_update=True, populate_existing=True)
    if guest is None or guest.tenant_id != tenant.id:
        raise GuestNotFound()
    if not directory_guests.is_invited_guest(guest):
        raise GuestNotFound()
    if guest.external_user_state != PENDING_ACCEPTANCE:
        raise InvitationAlreadyAccepted()
    last = await db_session.scalar(
        select(Invitation).where(Invitation.tenant_id == tenant.id, Invitation.user_id == guest.id)
    )
    if message is None and last is not None:
        message = MessageInfo(
            body=last.message_body,
            language=last.language,
            cc=tuple(Recipient(r["address"], r.get("name")) for r in last.cc_recipients),
        )
    message = message or MessageInfo()
    body, cc = _check_message(message)
    return await _issue(
        db_session=db_session,
        base_url=base_url,
        actor=actor,
        tenant=tenant,
        inviter=inviter,
        guest=guest,
        redirect_url=check_redirect_url(
            redirect_url or (last.redirect_url if last else base_url.rstrip("/") + "/")
        ),
        send_message=True,
        language=message_language(message.language),
        body=body,
        cc=cc,
        again=True,
    )


KEPT_EXPIRED_INVITATIONS = timedelta(days=7)


@pruner("expiredInvitations")
def prune_invitations(now: datetime) -> Delete:
    """Delete invitations a week after their link expired (pending or accepted: the guest and
    the audit trail stay; a pending guest can be invited again)."""
    return delete(Invitation).where(Invitation.expires_at < now - KEPT_EXPIRED_INVITATIONS)
