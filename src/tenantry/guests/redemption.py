"""Redeeming an invitation: the invited address is proven, then the guest is the person's.

Entra's rule, kept strictly: whoever opens the link proves the *invited address*, never
just any account.
- An address with a Tenantry account (a member's, or a guest's that holds its password:
  `directory.guests.credential_for`): the person signs in with it, address and password
  (or is signed in with it already), and the guest points to that account.
- An address without one: a one-time code is sent to it (10 minutes, 5 attempts, resent
  at most once a minute), and the person who enters it chooses a password; the guest
  holds it from then on and signs in with the invited address.
A link opened while signed in as another account (a forwarded invitation) asks for the
same proof; the session that accepts becomes the invited person's.

Each link redeems once, within its validity; the invitation then reads Completed and
the guest Accepted. What is checked before a transaction (the code, to hash a password
only for the right one) is checked again inside it, the invitation row locked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.auth.service import AccountDisabled
from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.security import code_digest, digests_match, new_code, token_digest
from tenantry.directory import guests as directory_guests
from tenantry.directory.models import User
from tenantry.guests import messaging
from tenantry.guests.exceptions import (
    AddressHasAccount,
    CodeNotSent,
    InvitationAlreadyAccepted,
    InvitationForAnotherAccount,
    InvitationLinkExpired,
    InvitationLinkInvalid,
)
from tenantry.guests.models import COMPLETED, Invitation
from tenantry.signup.exceptions import CodeExpired, InvalidCode, ResendThrottled, TooManyAttempts
from tenantry.signup.limits import limit_code_entries
from tenantry.tenants.models import Tenant


@dataclass(frozen=True)
class Opened:
    """An invitation as its link shows it."""

    invitation: Invitation
    guest: User
    tenant: Tenant
    inviter_name: str | None

    @property
    def completed(self) -> bool:
        return self.invitation.status == COMPLETED


async def open_link(*, db_session: AsyncSession, token: str, for_update: bool = False) -> Opened:
    """The invitation a link's token names; InvitationLinkInvalid for an unknown or replaced
    link, InvitationLinkExpired for a pending one past its time."""
    query = select(Invitation).where(Invitation.token_digest == token_digest(token))
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    invitation = await db_session.scalar(query)
    if invitation is None:
        raise InvitationLinkInvalid()
    guest = await db_session.get(User, invitation.user_id)
    tenant = await db_session.get(Tenant, invitation.tenant_id)
    if guest is None or tenant is None:
        raise InvitationLinkInvalid()
    if invitation.status != COMPLETED and invitation.expires_at <= clock.now():
        raise InvitationLinkExpired()
    inviter = (
        await db_session.get(User, invitation.invited_by_id) if invitation.invited_by_id else None
    )
    inviter_name = inviter.display_name if inviter and inviter.tenant_id == tenant.id else None
    return Opened(invitation, guest, tenant, inviter_name)


async def credential(*, db_session: AsyncSession, opened: Opened) -> User | None:
    """The account that signs in with the invited address, if there is one."""
    return await directory_guests.credential_for(
        db_session=db_session, address=opened.invitation.email
    )


async def _pending(db_session: AsyncSession, token: str) -> Opened:
    opened = await open_link(db_session=db_session, token=token, for_update=True)
    if opened.completed:
        raise InvitationAlreadyAccepted()
    if not opened.guest.account_enabled:  # the organization blocked the guest meanwhile
        raise AccountDisabled()
    return opened


def _complete(db_session: AsyncSession, opened: Opened, actor: audit.Actor, how: str) -> None:
    invitation = opened.invitation
    invitation.status = COMPLETED
    invitation.redeemed_at = clock.now()
    invitation.code_digest = None
    audit.record(
        db_session,
        # Recorded as the guest, the organization's own object (never the person's home account).
        actor=audit.Actor(opened.guest.id, opened.tenant.id, actor.client_address),
        action="Redeem external user invite",
        target_type="user",
        target_id=opened.guest.id,
        tenant_id=opened.tenant.id,
        details={
            "invitedUserEmailAddress": invitation.email,
            "userPrincipalName": opened.guest.user_principal_name,
            "proof": how,
        },
    )


async def accept_as(
    *, db_session: AsyncSession, actor: audit.Actor, token: str, person: User
) -> Opened:
    """Redeem for `person`, signed in with the invited address (just now, with its password,
    or in the session they hold); InvitationForAnotherAccount for anyone else."""
    opened = await _pending(db_session, token)
    holder = await credential(db_session=db_session, opened=opened)
    if holder is None or holder.id != directory_guests.person_id_of(person):
        raise InvitationForAnotherAccount()
    await directory_guests.accept(db_session=db_session, guest=opened.guest, person=holder)
    _complete(db_session, opened, actor, "signIn")
    return opened


def code_matches(settings: Settings, invitation: Invitation, code: str) -> bool:
    """Whether `code` is the invitation's current code (an HMAC: cheap, constant time)."""
    if not invitation.code_digest:
        return False
    expected = code_digest(settings.signing_secret, f"invitation:{invitation.id}", code.strip())
    return digests_match(expected, invitation.code_digest)


async def send_code(
    *, db_session: AsyncSession, settings: Settings, actor: audit.Actor, token: str
) -> Opened:
    """Email a code to the invited address, which has no account yet (AddressHasAccount
    otherwise: sign in with it). At most once a minute, and `signup_max_sends` times in a
    code's lifetime, as sign-up codes."""
    opened = await _pending(db_session, token)
    if await credential(db_session=db_session, opened=opened) is not None:
        raise AddressHasAccount()
    invitation = opened.invitation
    now = clock.now()
    ttl = timedelta(seconds=settings.signup_code_ttl_seconds)
    if invitation.code_sent_at is not None:
        elapsed = (now - invitation.code_sent_at).total_seconds()
        if elapsed < settings.signup_resend_interval_seconds:
            raise ResendThrottled(
                "A code was sent a moment ago. Wait a little before asking for another one.",
                retry_after=int(settings.signup_resend_interval_seconds - elapsed) + 1,
            )
        if elapsed >= ttl.total_seconds():
            invitation.code_sends = 0  # the last code lapsed: a new round of sends
    if invitation.code_sends >= settings.signup_max_sends:
        raise ResendThrottled(
            "Too many codes were sent for this invitation. Try again later.",
            retry_after=settings.signup_code_ttl_seconds,
        )
    code = new_code()
    invitation.code_digest = code_digest(
        settings.signing_secret, f"invitation:{invitation.id}", code
    )
    invitation.code_expires_at = now + ttl
    invitation.code_attempts = 0
    invitation.code_sends += 1
    invitation.code_sent_at = now
    messaging.send_code(
        db_session=db_session,
        invitation=invitation,
        code=code,
        organization=opened.tenant.display_name,
        minutes=settings.signup_code_ttl_seconds // 60,
    )
    audit.record(
        db_session,
        actor=actor,
        action="Send invitation code",
        target_type="user",
        target_id=opened.guest.id,
        tenant_id=opened.tenant.id,
        details={"invitedUserEmailAddress": invitation.email},
    )
    return opened


async def accept_with_code(
    *,
    db_session: AsyncSession,
    settings: Settings,
    actor: audit.Actor,
    token: str,
    code: str,
    password_hash: str,
) -> Opened:
    """Redeem with the emailed code: the guest holds the password the person chose (hashed by
    the caller, for the right code only) and signs in with the invited address.

    A wrong code counts (`InvalidCode` keeps the unit of work), and every code entered counts
    against its network's hourly limit, shared with sign-up codes. The unique index on the
    address's credential settles two of the person's invitations proven at once: the
    loser's next attempt (`Database.attempts`) finds the winner and answers
    AddressHasAccount (sign in with it).
    """
    await limit_code_entries(db_session, settings, actor.client_address)
    opened = await _pending(db_session, token)
    if await credential(db_session=db_session, opened=opened) is not None:
        raise AddressHasAccount()
    invitation = opened.invitation
    if not invitation.code_digest or invitation.code_expires_at is None:
        raise CodeNotSent()
    if invitation.code_attempts >= settings.signup_code_max_attempts:
        raise TooManyAttempts(
            "Too many wrong codes. Ask for a new code.",
            retry_after=settings.signup_resend_interval_seconds,
        )
    if invitation.code_expires_at <= clock.now():
        raise CodeExpired()
    if not code_matches(settings, invitation, code) or not password_hash:
        invitation.code_attempts += 1
        remaining = settings.signup_code_max_attempts - invitation.code_attempts
        raise InvalidCode(
            f"That code is not right. {remaining} attempt(s) left."
            if remaining
            else "That code is not right, and no attempts are left. Ask for a new code.",
            target="code",
            details={"attemptsRemaining": remaining},
        )
    await directory_guests.accept(
        db_session=db_session, guest=opened.guest, person=None, password_hash=password_hash
    )
    _complete(db_session, opened, actor, "emailCode")
    return opened
