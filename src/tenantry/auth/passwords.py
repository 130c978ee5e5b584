"""Replacing a user's password: their own change, or an admin's reset; either ends sessions.

Who owns what: `directory` owns the user (their row, names, roles, groups, whether
they may sign in); `auth` owns sign-in state: the password once set, lockout counts,
tokens and sessions. So `auth` depends on `directory` (its users, and the rule that
protects administrators), never the reverse. The hash is stored on the user's row; a
new user gets their first one from `directory.users.create`, and callers prepare a
hash (generated, or chosen and checked: `directory.flows`) before the unit of work
opens, so no transaction waits on argon2.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.auth import lockout
from tenantry.auth import service as auth_service
from tenantry.core import audit
from tenantry.core.errors import InvalidRequest
from tenantry.directory import guests as directory_guests
from tenantry.directory import roles as directory_roles
from tenantry.directory import users as directory_users
from tenantry.directory.exceptions import PasswordChangedMeanwhile
from tenantry.directory.models import User


class GuestPasswordNotManaged(InvalidRequest):
    code = "guestPasswordNotManaged"

    def __init__(self) -> None:
        super().__init__(
            "This user is a guest: they sign in with their own account, and only they can "
            "change its password.",
            target="id",
        )


async def reset_password(
    *, db_session: AsyncSession, actor: audit.Actor, user: User, password_hash: str
) -> None:
    """Give a user a temporary password (hashed by the caller); they change it at next sign-in.

    Not an invited guest's: they sign in with their own account, whose password is theirs
    (and may serve other organizations too), as in Entra."""
    if directory_guests.is_invited_guest(user):
        raise GuestPasswordNotManaged()
    await directory_roles.ensure_may_manage(db_session, actor, user)
    user.password_hash = password_hash
    user.must_change_password = True
    await lockout.clear(db_session=db_session, user_id=user.id)
    await auth_service.revoke_all(db_session=db_session, user_id=user.id)
    audit.record(
        db_session,
        actor=actor,
        action="Reset password",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        details={"userPrincipalName": user.user_principal_name},
    )


async def change_password(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    password_hash: str,
    keep_token: str | None,
    replacing: str | None = None,
) -> User:
    """Set the user's own new password (hashed by the caller); their other sessions end.

    `replacing`: the hash the caller checked the current password against. When another
    change came first (two sessions at once), this one is refused: the row is locked and
    read again, so of two changes made with the same current password, one wins.
    """
    user = await directory_users.get(db_session=db_session, tenant_id=tenant_id, user_id=user_id)
    if replacing is not None:
        await db_session.refresh(user, attribute_names=["password_hash"], with_for_update=True)
        if user.password_hash != replacing:
            raise PasswordChangedMeanwhile()
    user.password_hash = password_hash
    user.must_change_password = False
    await auth_service.revoke_all(db_session=db_session, user_id=user.id, keep_token=keep_token)
    audit.record(
        db_session,
        actor=actor,
        action="Change user password",
        target_type="user",
        target_id=user.id,
        tenant_id=tenant_id,
        details={"userPrincipalName": user.user_principal_name},
    )
    return user
