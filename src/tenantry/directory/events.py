"""Extension points: what other domains do when the directory changes.

Group-based licensing plugs in here, without the directory knowing about
licenses: `licensing` registers handlers at import time, e.g.

    from tenantry.directory import events

    @events.on_members_added
    async def _license_new_members(*, db_session, actor, tenant_id, group_id, user_ids):
        ...  # queue the group's licenses for these users

Sign-in plugs in the same way: `auth` ends the sessions of a user whose sign-in
is blocked (`on_sign_in_blocked`), so the directory never imports `auth`, which
depends on it (`tenantry.dependencies`, which every route and page uses, imports
`auth.service` and so registers that handler in every process that serves them).

Handlers run inside the caller's unit of work, after the change is flushed, so
what they write commits (or rolls back) with it. `group_deleting` and
`user_deleting` run before the row goes; a handler refuses by raising a
TenantryError (e.g. a group that still assigns licenses cannot be deleted).
`sign_in_blocked` runs before the change is flushed, with it. `owned_properties` asks
which properties of a synced user its other directory owns (SCIM: the usage location it
sent), so that admins' edits of them are refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.audit import Actor

if TYPE_CHECKING:
    from tenantry.directory.models import User


class MembersChanged(Protocol):
    def __call__(
        self,
        *,
        db_session: AsyncSession,
        actor: Actor,
        tenant_id: uuid.UUID,
        group_id: uuid.UUID,
        user_ids: list[uuid.UUID],
    ) -> Awaitable[None]: ...


class GroupDeleting(Protocol):
    def __call__(
        self, *, db_session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, group_id: uuid.UUID
    ) -> Awaitable[None]: ...


class UserDeleting(Protocol):
    def __call__(
        self, *, db_session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, user_id: uuid.UUID
    ) -> Awaitable[None]: ...


class OwnedProperties(Protocol):
    def __call__(self, *, db_session: AsyncSession, user: User) -> Awaitable[set[str]]: ...


class SignInBlocked(Protocol):
    def __call__(
        self, *, db_session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, user_id: uuid.UUID
    ) -> Awaitable[None]: ...


_members_added: list[MembersChanged] = []
_members_removed: list[MembersChanged] = []
_group_deleting: list[GroupDeleting] = []
_user_deleting: list[UserDeleting] = []
_sign_in_blocked: list[SignInBlocked] = []
_owned_properties: list[OwnedProperties] = []


def on_members_added(handler: MembersChanged) -> MembersChanged:
    """Register a handler called after users join a group (only those who were not members)."""
    _members_added.append(handler)
    return handler


def on_members_removed(handler: MembersChanged) -> MembersChanged:
    """Register a handler called after users leave a group."""
    _members_removed.append(handler)
    return handler


def on_group_deleting(handler: GroupDeleting) -> GroupDeleting:
    """Register a handler called before a group is deleted (raise to refuse)."""
    _group_deleting.append(handler)
    return handler


def on_user_deleting(handler: UserDeleting) -> UserDeleting:
    """Register a handler called before a user is deleted (raise to refuse)."""
    _user_deleting.append(handler)
    return handler


def on_sign_in_blocked(handler: SignInBlocked) -> SignInBlocked:
    """Register a handler called when a user's sign-in is blocked (`accountEnabled` false)."""
    _sign_in_blocked.append(handler)
    return handler


async def members_added(
    *,
    db_session: AsyncSession,
    actor: Actor,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    user_ids: list[uuid.UUID],
) -> None:
    """Tell the handlers that users joined a group."""
    for handler in _members_added:
        await handler(
            db_session=db_session,
            actor=actor,
            tenant_id=tenant_id,
            group_id=group_id,
            user_ids=user_ids,
        )


async def members_removed(
    *,
    db_session: AsyncSession,
    actor: Actor,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    user_ids: list[uuid.UUID],
) -> None:
    """Tell the handlers that users left a group."""
    for handler in _members_removed:
        await handler(
            db_session=db_session,
            actor=actor,
            tenant_id=tenant_id,
            group_id=group_id,
            user_ids=user_ids,
        )


async def group_deleting(
    *, db_session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, group_id: uuid.UUID
) -> None:
    """Ask the handlers whether a group may go; they raise to refuse."""
    for handler in _group_deleting:
        await handler(db_session=db_session, actor=actor, tenant_id=tenant_id, group_id=group_id)


async def user_deleting(
    *, db_session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Ask the handlers whether a user may go; they raise to refuse."""
    for handler in _user_deleting:
        await handler(db_session=db_session, actor=actor, tenant_id=tenant_id, user_id=user_id)


async def sign_in_blocked(
    *, db_session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Tell the handlers that a user may no longer sign in (before the change is flushed)."""
    for handler in _sign_in_blocked:
        await handler(db_session=db_session, actor=actor, tenant_id=tenant_id, user_id=user_id)


def on_owned_properties(handler: OwnedProperties) -> OwnedProperties:
    """Register a handler naming (in Graph's words) properties of a synced user that their
    other directory owns beyond names and sign-in, such as `usageLocation`."""
    _owned_properties.append(handler)
    return handler


async def owned_properties(*, db_session: AsyncSession, user: User) -> set[str]:
    """The properties of a synced user that the handlers say their other directory owns."""
    owned: set[str] = set()
    for handler in _owned_properties:
        owned |= await handler(db_session=db_session, user=user)
    return owned
