"""What directory sync may change of a synced user that admins may not: the sign-in name, the
mail address, the password the other directory holds; and the guard that keeps the fields
the other directory owns read-only everywhere else.

The SCIM service provider (`tenantry.scim`) calls these; the directory knows nothing of
SCIM. Which of a synced user's properties the provider owns beyond names and sign-in
(`users.update` refuses those already) is asked through `events.owned_properties`: SCIM
owns the usage location when its client sent one.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.directory import users as directory_users
from tenantry.directory.exceptions import UserAlreadyExists
from tenantry.directory.models import User


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
