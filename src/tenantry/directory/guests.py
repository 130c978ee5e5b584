"""Guest users (Entra's B2B collaboration): who they are, whom they sign in as, where they act.

The rules, in the product's words:
- A guest is a user of the inviting tenant with `source` "guest" (Graph's `userType`
  Guest), invited by address (`tenantry.guests` sends the invitation). Its user name is
  Graph's `kim_fabrikam.com#EXT#@<the tenant's initial domain>`, its `mail` the invited
  address. Its `externalUserState` is PendingAcceptance until the invited person proves
  the address, then Accepted.
- An address belongs to one credential, the account that signs in with it: the member
  whose user name it is (in their own tenant), or, for a person who has no such account,
  the one guest that holds the password they set when they proved the address with a
  code. Every other accepted guest of that person points to that account
  (`home_user_id`) and has no password of its own. A guest's own user name
  (`…#EXT#@…`) never signs in.
- One sign-in, then the person chooses where to act: their home tenant (the credential's)
  or any tenant where one of their guests is accepted and enabled.
- When a member account with the address appears after a guest took the password (the
  person signs up later, or an admin adds them), the member account becomes the
  credential at its first sign-in: the guest's password goes, and the person's guests
  point to the member account (`adopt`).
- Deleting a guest removes that tenant's access only: if it held the password, the
  person's oldest other guest takes it over. Deleting a person's member account sends
  their guests back to PendingAcceptance (their tenants may invite them again).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.directory import events
from tenantry.directory import users as directory_users
from tenantry.directory.constants import Source
from tenantry.directory.models import User
from tenantry.tenants.models import CLOSED, Tenant

PENDING_ACCEPTANCE = "PendingAcceptance"
ACCEPTED = "Accepted"
GUEST = "Guest"
MEMBER = "Member"


def user_type(user: User) -> str:
    """Graph's `userType`: Guest for the users of `source` guest, Member for the others."""
    return GUEST if user.source == Source.GUEST.value else MEMBER


def is_invited_guest(user: User) -> bool:
    """Whether the user is a guest made by an invitation (it has an externalUserState)."""
    return user.external_user_state is not None


def guest_principal_name(address: str, initial_domain: str) -> str:
    """Graph's user name of a guest: `kim_fabrikam.com#EXT#@contoso.tenantry.localhost`.

    Distinct addresses give distinct names: a domain holds no underscore, so the last
    one splits the name back into the address.
    """
    local, _, domain = address.rpartition("@")
    return f"{local}_{domain}{directory_users.GUEST_MARKER}@{initial_domain}"


async def find_guest(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, address: str, for_update: bool = False
) -> User | None:
    """The tenant's invited guest for that address (its stored form), if any; `for_update`
    locks its row, so that two invitations of one guest replace each other in turn."""
    query = select(User).where(
        User.tenant_id == tenant_id,
        User.mail == directory_users.principal_name_key(address),
        User.external_user_state.is_not(None),
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await db_session.scalar(query)


async def create_guest(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    initial_domain: str,
    address: str,
    display_name: str,
) -> User:
    """A new guest of the tenant for that address, PendingAcceptance.

    The caller looked the address up in this unit of work (`find_guest`) and runs it in
    `Database.attempts`: a guest invited by someone else at this very moment fails this
    insert on a unique index, and the next attempt finds it.
    """
    key = directory_users.principal_name_key(address)
    user = await directory_users.create(
        db_session=db_session,
        actor=actor,
        tenant_id=tenant_id,
        principal_name=guest_principal_name(key, initial_domain),
        display_name=display_name,
        password_hash=None,
        source=Source.GUEST,
        known_new=True,
        mail=key,
        external_user_state=PENDING_ACCEPTANCE,
    )
    return user


async def credential_for(*, db_session: AsyncSession, address: str) -> User | None:
    """The account that signs in with `address`: the user whose user name it is, else the
    accepted guest holding its password; None for an invited guest's own user name
    (`…#EXT#@…`), which never signs in."""
    member = await directory_users.get_by_principal_name(
        db_session=db_session, principal_name=address
    )
    if member is not None and is_invited_guest(member):
        return None
    if member is not None or "\x00" in address:
        return member
    return await db_session.scalar(
        select(User).where(
            User.mail == directory_users.principal_name_key(address),
            User.external_user_state.is_not(None),
            User.home_user_id.is_(None),
            User.password_hash.is_not(None),
        )
    )


def person_id_of(user: User) -> uuid.UUID:
    """The id of the account a user signs in as: its home for a linked guest, else itself."""
    return user.home_user_id or user.id


async def person_of(*, db_session: AsyncSession, user: User) -> User:
    """The account a user signs in as (its home for a linked guest, else the user itself)."""
    if user.home_user_id is None:
        return user
    home = await db_session.get(User, user.home_user_id)
    return home if home is not None else user


async def accept(
    *,
    db_session: AsyncSession,
    guest: User,
    person: User | None,
    password_hash: str | None = None,
) -> None:
    """The guest's invitation is redeemed: it points to `person`, the account that signed in
    with its address; or, when the address has no account (`person` None), it holds the
    password the person chose (`password_hash`) and becomes that address's credential."""
    if person is not None:
        guest.home_user_id = person_id_of(person)
        guest.password_hash = None
    else:
        assert password_hash
        guest.home_user_id = None
        guest.password_hash = password_hash
    guest.must_change_password = False
    guest.external_user_state = ACCEPTED
    guest.external_user_state_changed_at = clock.now()
    await db_session.flush()


async def adopt(*, db_session: AsyncSession, person: User) -> int:
    """Make a member account the credential of its address when a guest held it until now
    (the person had no account when they proved the address); how many guests moved.

    The guest's password goes; it and the guests that pointed to it point to `person`.
    """
    if person.source == Source.GUEST.value or person.mail is None:
        return 0
    holder = await db_session.scalar(
        select(User).where(
            User.mail == person.mail,
            User.external_user_state.is_not(None),
            User.home_user_id.is_(None),
            User.password_hash.is_not(None),
        )
    )
    if holder is None or holder.id == person.id:
        return 0
    moved = await db_session.execute(
        update(User)
        .where(User.home_user_id == holder.id)
        .values(home_user_id=person.id)
        .execution_options(synchronize_session=False)
    )
    holder.password_hash = None
    holder.home_user_id = person.id
    await db_session.flush()
    audit.record(
        db_session,
        actor=audit.Actor.system(),
        action="Update external user",
        target_type="user",
        target_id=holder.id,
        tenant_id=holder.tenant_id,
        details={
            "userPrincipalName": holder.user_principal_name,
            "reason": "The invited address now has an account of its own, which signs in.",
        },
    )
    return 1 + (moved.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Access:
    """A tenant a person may act in, and the user they act as there."""

    user: User
    tenant: Tenant

    @property
    def user_type(self) -> str:
        return user_type(self.user)


def _acting(person_id: uuid.UUID) -> object:
    """The users a person may act as: their own account, and their accepted guests; enabled."""
    return and_(
        User.account_enabled.is_(True),
        or_(
            User.id == person_id,
            and_(User.home_user_id == person_id, User.external_user_state == ACCEPTED),
        ),
    )


async def accesses(*, db_session: AsyncSession, person_id: uuid.UUID) -> list[Access]:
    """Where the person may act, their own tenant first, then by organization name."""
    rows = (
        await db_session.execute(
            select(User, Tenant)
            .join(Tenant, Tenant.id == User.tenant_id)
            .where(_acting(person_id), Tenant.state != CLOSED)  # type: ignore[arg-type]
        )
    ).all()
    found = [Access(user, tenant) for user, tenant in rows]
    home = [access for access in found if access.user.id == person_id]
    home_tenants = {access.tenant.id for access in home}
    others = sorted(
        (a for a in found if a.user.id != person_id and a.tenant.id not in home_tenants),
        key=lambda access: (access.tenant.display_name.casefold(), str(access.tenant.id)),
    )
    return home + others


async def access_in(
    *, db_session: AsyncSession, person_id: uuid.UUID, tenant_id: uuid.UUID
) -> Access | None:
    """The person's access to that tenant (their own, or an accepted guest's), or None."""
    for access in await accesses(db_session=db_session, person_id=person_id):
        if access.tenant.id == tenant_id:
            return access
    return None


async def remember_choice(
    *, db_session: AsyncSession, person_id: uuid.UUID, tenant_id: uuid.UUID
) -> None:
    """Keep the tenant the person chose to act in: their next web sign-in opens it."""
    await db_session.execute(
        update(User)
        .where(User.id == person_id, User.last_tenant_id.is_distinct_from(tenant_id))
        .values(last_tenant_id=tenant_id)
        .execution_options(synchronize_session=False)
    )


@events.on_user_deleting
async def _hand_over(
    *, db_session: AsyncSession, actor: audit.Actor, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Deleting an account removes that tenant's access only.

    The guests that point to it lose their credential: when it was a guest holding the
    password, the oldest of them takes the password over (the others point to that one);
    when it was a member account, they go back to PendingAcceptance, signed out, and
    their tenants may invite the person again. Recorded in each guest's tenant as done
    by Tenantry itself (the deleting admin belongs to another organization).
    """
    user = await db_session.get(User, user_id)
    if user is None:
        return
    linked = list(
        (
            await db_session.scalars(
                select(User).where(User.home_user_id == user_id).order_by(User.created_at, User.id)
            )
        ).all()
    )
    if not linked:
        return
    system = audit.Actor.system()
    if is_invited_guest(user) and user.password_hash is not None:
        heir, others = linked[0], linked[1:]
        password_hash, user.password_hash = user.password_hash, None
        await db_session.flush()  # one credential per address: this one first lets it go
        heir.home_user_id = None
        heir.password_hash = password_hash
        for other in others:
            other.home_user_id = heir.id
        await db_session.flush()
        audit.record(
            db_session,
            actor=system,
            action="Update external user",
            target_type="user",
            target_id=heir.id,
            tenant_id=heir.tenant_id,
            details={
                "userPrincipalName": heir.user_principal_name,
                "reason": "The guest account that held this person's password was deleted; "
                "this one holds it now.",
            },
        )
        return
    now = clock.now()
    for guest in linked:
        guest.home_user_id = None
        guest.external_user_state = PENDING_ACCEPTANCE
        guest.external_user_state_changed_at = now
        await events.sign_in_blocked(
            db_session=db_session, actor=system, tenant_id=guest.tenant_id, user_id=guest.id
        )
        audit.record(
            db_session,
            actor=system,
            action="Reset redemption status",
            target_type="user",
            target_id=guest.id,
            tenant_id=guest.tenant_id,
            details={
                "userPrincipalName": guest.user_principal_name,
                "reason": "The account this guest signed in with was deleted.",
            },
        )
    await db_session.flush()
