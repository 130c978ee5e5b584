"""What directory sync may do that admins may not: rename a synced user, set their mail and the
password the other directory holds; and add many synced users at once, set-based (Bulk).

The SCIM service provider (`tenantry.scim`) calls these; the directory knows nothing of
SCIM. Which of a synced user's properties the provider owns beyond names and sign-in
(`users.update` refuses those already) is asked through `events.owned_properties`: SCIM
owns the usage location when its client sent one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.directory import spoofing
from tenantry.directory import users as directory_users
from tenantry.directory.constants import Source
from tenantry.directory.exceptions import UserAlreadyExists
from tenantry.directory.models import User, UserSearchTerm
from tenantry.directory.search import ADDRESS, NAME, address_terms, name_terms, sort_key


async def rename(
    *, db_session: AsyncSession, actor: audit.Actor, user: User, principal_name: str
) -> bool:
    """Give a synced user another sign-in name (already normalized and on a verified domain);
    UserAlreadyExists when it is taken or looks like another user's. Whether it changed."""
    if principal_name == user.user_principal_name:
        return False
    old = user.user_principal_name
    taken = await directory_users.get_by_principal_name(
        db_session=db_session, principal_name=principal_name
    )
    if taken is not None and taken.id != user.id:
        raise UserAlreadyExists(
            f"A user with the address {principal_name} already exists.",
            target="userPrincipalName",
        )
    try:
        async with db_session.begin_nested():
            user.user_principal_name = principal_name
            await db_session.flush()
    except IntegrityError as exc:
        raise UserAlreadyExists(
            f"{principal_name} is taken, or looks too much like the user name of someone "
            "in your organization.",
            target="userPrincipalName",
        ) from exc
    audit.record(
        db_session,
        actor=actor,
        action="Update user",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        details={
            "userPrincipalName": principal_name,
            "modifiedProperties": {
                "userPrincipalName": {"oldValue": old, "newValue": principal_name}
            },
        },
    )
    return True


def set_mail(user: User, mail: str) -> bool:
    """Set a synced user's mail address (flushed with the unit of work); whether it changed."""
    if user.mail == mail:
        return False
    user.mail = mail
    return True


def set_password(
    *, db_session: AsyncSession, actor: audit.Actor, user: User, password_hash: str
) -> None:
    """The password the user's other directory holds (hashed by the caller before the unit of
    work opened); not a temporary one."""
    user.password_hash = password_hash
    user.must_change_password = False
    audit.record(
        db_session,
        actor=actor,
        action="Change user password",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        details={"userPrincipalName": user.user_principal_name, "by": "directory sync"},
    )


@dataclass
class NewSyncedUser:
    """A user the other directory provides, checked by the caller (names, a verified domain)."""

    principal_name: str
    display_name: str
    given_name: str | None
    surname: str | None
    mail: str | None
    usage_location: str | None
    account_enabled: bool
    password_hash: str | None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    created_at: datetime | None = None


async def taken(
    db_session: AsyncSession, *, tenant_id: uuid.UUID, people: list[NewSyncedUser]
) -> dict[str, str]:
    """Which of these addresses are taken, or look like a user's of the tenant (one query
    each): address → the reason, for the caller to refuse them one by one."""
    names = sorted({person.principal_name for person in people})
    skeletons = {
        spoofing.principal_name_skeleton(person.principal_name): person for person in people
    }
    found: dict[str, str] = {}
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        existing = await db_session.scalars(
            select(User.user_principal_name).where(User.user_principal_name.in_(chunk))
        )
        for name in existing:
            found[name] = f"A user with the address {name} already exists."
    keys = sorted(skeletons)
    for start in range(0, len(keys), 500):
        rows = await db_session.execute(
            select(User.name_skeleton, User.user_principal_name).where(
                User.tenant_id == tenant_id, User.name_skeleton.in_(keys[start : start + 500])
            )
        )
        for skeleton, existing_name in rows.all():
            person = skeletons[skeleton]
            if person.principal_name != existing_name:
                found.setdefault(
                    person.principal_name,
                    f"{person.principal_name} looks too much like the user name of "
                    f"{existing_name}, who already exists.",
                )
    return found


async def add_many(
    db_session: AsyncSession,
    *,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    people: list[NewSyncedUser],
) -> None:
    """Add synced users in a few statements (users, their search terms, "Add user" events),
    as `users.create` adds one; the unique indexes still refuse a name taken meanwhile
    (IntegrityError: the caller's savepoint rolls the whole set back)."""
    if not people:
        return
    now = clock.now()
    rows, terms = [], []
    for person in people:
        person.created_at = now
        rows.append(
            {
                "id": person.id,
                "tenant_id": tenant_id,
                "user_principal_name": person.principal_name,
                "mail": person.mail or person.principal_name,
                "display_name": person.display_name,
                "display_name_key": sort_key(person.display_name),
                "given_name": person.given_name,
                "surname": person.surname,
                "source": Source.SYNCED.value,
                "usage_location": person.usage_location,
                "account_enabled": person.account_enabled,
                "password_hash": person.password_hash,
                "must_change_password": False,
                "failed_sign_ins": 0,
                "created_at": now,
                "name_skeleton": spoofing.principal_name_skeleton(person.principal_name),
            }
        )
        terms += [
            {"tenant_id": tenant_id, "user_id": person.id, "kind": kind, "term": term}
            for kind, term in [(NAME, t) for t in name_terms(person.display_name)]
            + [
                (ADDRESS, t)
                for t in address_terms(person.principal_name, person.mail or person.principal_name)
            ]
        ]
    await db_session.execute(insert(User), rows)
    if terms:
        await db_session.execute(insert(UserSearchTerm), terms)
    for person in people:
        audit.record(
            db_session,
            actor=actor,
            action="Add user",
            target_type="user",
            target_id=person.id,
            tenant_id=tenant_id,
            details={"userPrincipalName": person.principal_name, "source": Source.SYNCED.value},
        )
