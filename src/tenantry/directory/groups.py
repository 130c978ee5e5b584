"""A tenant's security groups and their direct members."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, Uuid, and_, delete, exists, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.db import UTCDateTime
from tenantry.core.errors import InvalidRequest, NotFound
from tenantry.directory import events
from tenantry.directory.constants import MAX_MEMBERS_PER_REQUEST
from tenantry.directory.exceptions import InvalidValue, NotAMember, TooManyMembers, UsersNotFound
from tenantry.directory.models import Group, GroupMember, GroupSearchTerm, User
from tenantry.directory.query import (
    FilterProperty,
    ListParams,
    Page,
    Queryable,
    expect_text,
    page,
    prefix_range,
)
from tenantry.directory.search import ADDRESS, NAME, fold, sort_key
from tenantry.directory.users import UNSET, Unset, check_name, list_users

_NICKNAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _group_match(tenant_id: uuid.UUID) -> Any:
    def match(kinds: Sequence[str], prefix: str) -> Any:
        return Group.id.in_(
            select(GroupSearchTerm.group_id).where(
                GroupSearchTerm.tenant_id == tenant_id,
                GroupSearchTerm.kind.in_(kinds),
                prefix_range(GroupSearchTerm.term, prefix),
            )
        )

    return match


GROUPS = Queryable(
    name="groups",
    id_attribute="id",
    properties={
        "displayName": FilterProperty(
            eq=lambda v: Group.display_name_key == sort_key(expect_text("displayName")(v) or ""),
            startswith=lambda v: prefix_range(Group.display_name_key, fold(v)),
        ),
        "mailNickname": FilterProperty(
            eq=lambda v: Group.mail_nickname == expect_text("mailNickname")(v),
            startswith=lambda v: prefix_range(Group.mail_nickname, v),
        ),
    },
    orderings={"displayName": "display_name_key"},
    default_order="displayName",
    search_kinds={"displayName": NAME, "mailNickname": ADDRESS},
)


def _nickname(value: str | None, display_name: str) -> str:
    if value is None:
        letters = re.sub(r"[^A-Za-z0-9]", "", fold(display_name))[:56]
        return letters or f"group{uuid.uuid4().hex[:8]}"
    if not _NICKNAME.fullmatch(value):
        raise InvalidValue(
            "mailNickname takes 1 to 64 letters, digits, dots, dashes or underscores.",
            target="mailNickname",
        )
    return value


async def get_group(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, group_id: uuid.UUID
) -> Group:
    """A group of the tenant, or NotFound (also for another tenant's groups)."""
    group = await db_session.get(Group, (tenant_id, group_id))
    if group is None:
        raise NotFound("The group does not exist.", target="id")
    return group


async def get_many(
    *, db_session: AsyncSession, tenant_ids: Iterable[uuid.UUID], group_ids: Iterable[uuid.UUID]
) -> list[Group]:
    """Groups of these tenants by id, in one query."""
    tenants, ids = list(tenant_ids), list(group_ids)
    if not tenants or not ids:
        return []
    query = select(Group).where(Group.tenant_id.in_(tenants), Group.id.in_(ids))
    return list((await db_session.scalars(query)).all())


async def resolve_group(*, db_session: AsyncSession, tenant_id: uuid.UUID, key: str) -> Group:
    """A group of the tenant by the id in a path (Graph's `/groups/{id}`); NotFound otherwise."""
    try:
        group_id = uuid.UUID(key)
    except ValueError:
        raise NotFound("The group does not exist.") from None
    return await get_group(db_session=db_session, tenant_id=tenant_id, group_id=group_id)


async def list_groups(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, params: ListParams
) -> Page[Group]:
    """A page of the tenant's groups under `$filter`, `$search`, `$orderby`, `$top`."""
    return await page(
        db_session=db_session,
        query=select(Group).where(Group.tenant_id == tenant_id),
        entity=Group,
        queryable=GROUPS,
        params=params,
        match=_group_match(tenant_id),
    )


async def create_group(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    display_name: str,
    description: str | None = None,
    mail_nickname: str | None = None,
) -> Group:
    """A new security group."""
    display_name = check_name(display_name, field="displayName", limit=256, required=True) or ""
    group = Group(
        tenant_id=tenant_id,
        id=uuid.uuid4(),
        display_name=display_name,
        description=check_name(
            description, field="description", limit=1024, required=False, free_text=True
        ),
        mail_nickname=_nickname(mail_nickname, display_name),
        created_at=clock.now(),
    )
    db_session.add(group)
    await db_session.flush()
    audit.record(
        db_session,
        actor=actor,
        action="Add group",
        target_type="group",
        target_id=group.id,
        tenant_id=tenant_id,
        details={"displayName": group.display_name},
    )
    return group


async def update_group(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    group: Group,
    display_name: str | Unset = UNSET,
    description: str | Unset | None = UNSET,
    mail_nickname: str | Unset = UNSET,
) -> Group:
    """Rename a group or change its description or nickname."""
    wanted: dict[str, Any] = {}
    if display_name is not UNSET:
        wanted["display_name"] = check_name(
            display_name, field="displayName", limit=256, required=True
        )
    if description is not UNSET:
        wanted["description"] = check_name(
            description, field="description", limit=1024, required=False, free_text=True
        )
    if mail_nickname is not UNSET:
        wanted["mail_nickname"] = _nickname(mail_nickname, group.display_name)
    changes = {name: value for name, value in wanted.items() if getattr(group, name) != value}
    if not changes:
        return group
    modified = {
        _GROUP_GRAPH_NAMES[name]: {"oldValue": getattr(group, name), "newValue": value}
        for name, value in changes.items()
    }
    for name, value in changes.items():
        setattr(group, name, value)
    await db_session.flush()
    audit.record(
        db_session,
        actor=actor,
        action="Update group",
        target_type="group",
        target_id=group.id,
        tenant_id=group.tenant_id,
        details={"modifiedProperties": modified},
    )
    return group


_GROUP_GRAPH_NAMES = {
    "display_name": "displayName",
    "description": "description",
    "mail_nickname": "mailNickname",
}


async def delete_group(*, db_session: AsyncSession, actor: audit.Actor, group: Group) -> None:
    """Delete a group and its memberships (handlers of `events.group_deleting` may refuse)."""
    await events.group_deleting(
        db_session=db_session, actor=actor, tenant_id=group.tenant_id, group_id=group.id
    )
    group_id, tenant_id, display_name = group.id, group.tenant_id, group.display_name
    await db_session.delete(group)
    await db_session.flush()
    audit.record(
        db_session,
        actor=actor,
        action="Delete group",
        target_type="group",
        target_id=group_id,
        tenant_id=tenant_id,
        details={"displayName": display_name},
    )


def parse_user_ids(values: Sequence[str]) -> list[uuid.UUID]:
    """Distinct user ids from a request, in order; unreadable ones are simply not found."""
    if len(values) > MAX_MEMBERS_PER_REQUEST:
        raise TooManyMembers(
            f"Add at most {MAX_MEMBERS_PER_REQUEST} members per request.", target="userIds"
        )
    ids: dict[uuid.UUID, None] = {}
    unreadable: list[str] = []
    for value in values:
        try:
            ids[uuid.UUID(str(value))] = None
        except ValueError:
            unreadable.append(str(value)[:64])
    if unreadable:
        raise UsersNotFound(unreadable)
    return list(ids)


async def add_members(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    group: Group,
    user_ids: Sequence[uuid.UUID],
) -> list[uuid.UUID]:
    """Add users to a group in one statement; returns those who were not members yet.

    All or nothing: an id that is not a user of the group's tenant refuses the
    whole request with `userNotFound` (another tenant's users do not exist here).
    """
    tenant_id = group.tenant_id
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        raise InvalidRequest("Give at least one user id.", target="userIds")
    found: set[uuid.UUID] = set()
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        found.update(
            (
                await db_session.scalars(
                    select(User.id).where(User.tenant_id == tenant_id, User.id.in_(chunk))
                )
            ).all()
        )
    missing = [str(user_id) for user_id in wanted if user_id not in found]
    if missing:
        raise UsersNotFound(missing)
    now = clock.now()
    added: list[uuid.UUID] = []
    postgres = db_session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        rows = select(
            literal(tenant_id, Uuid()),
            literal(group.id, Uuid()),
            User.id,
            literal(now, UTCDateTime()),
        ).where(
            User.tenant_id == tenant_id,
            User.id.in_(chunk),
            ~exists().where(
                GroupMember.tenant_id == tenant_id,
                GroupMember.group_id == group.id,
                GroupMember.user_id == User.id,
            ),
        )
        columns = ["tenant_id", "group_id", "user_id", "created_at"]
        if postgres:
            statement: Any = (
                pg_insert(GroupMember).from_select(columns, rows).on_conflict_do_nothing()
            )
        else:  # SQLite has one writer at a time: NOT EXISTS is enough
            statement = insert(GroupMember).from_select(columns, rows)
        result = await db_session.execute(statement.returning(GroupMember.user_id))
        added += list(result.scalars().all())
    for user_id in added:
        audit.record(
            db_session,
            actor=actor,
            action="Add member to group",
            target_type="group",
            target_id=group.id,
            tenant_id=tenant_id,
            details={"userId": str(user_id), "groupDisplayName": group.display_name},
        )
    if added:
        await events.members_added(
            db_session=db_session,
            actor=actor,
            tenant_id=tenant_id,
            group_id=group.id,
            user_ids=added,
        )
    return added


async def remove_member(
    *, db_session: AsyncSession, actor: audit.Actor, group: Group, user_id: uuid.UUID
) -> None:
    """Take a user out of a group."""
    removed = await db_session.execute(
        delete(GroupMember).where(
            GroupMember.tenant_id == group.tenant_id,
            GroupMember.group_id == group.id,
            GroupMember.user_id == user_id,
        )
    )
    if not removed.rowcount:  # type: ignore[attr-defined]
        raise NotAMember("The user is not a member of this group.", target="userId")
    audit.record(
        db_session,
        actor=actor,
        action="Remove member from group",
        target_type="group",
        target_id=group.id,
        tenant_id=group.tenant_id,
        details={"userId": str(user_id), "groupDisplayName": group.display_name},
    )
    await events.members_removed(
        db_session=db_session,
        actor=actor,
        tenant_id=group.tenant_id,
        group_id=group.id,
        user_ids=[user_id],
    )


async def member_ids(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, group_id: uuid.UUID
) -> list[uuid.UUID]:
    """The ids of a group's direct members (what group-based licensing applies to)."""
    query = select(GroupMember.user_id).where(
        GroupMember.tenant_id == tenant_id, GroupMember.group_id == group_id
    )
    return list((await db_session.scalars(query)).all())


def members_query(tenant_id: uuid.UUID, group_id: uuid.UUID) -> Select[tuple[uuid.UUID]]:
    """The member ids of a group as a subquery, for set-based work on large groups."""
    return select(GroupMember.user_id).where(
        GroupMember.tenant_id == tenant_id, GroupMember.group_id == group_id
    )


def group_ids_query(tenant_id: uuid.UUID, user_id: uuid.UUID) -> Select[tuple[uuid.UUID]]:
    """The ids of the groups a user is a direct member of, as a subquery."""
    return select(GroupMember.group_id).where(
        GroupMember.tenant_id == tenant_id, GroupMember.user_id == user_id
    )


async def list_members(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, group_id: uuid.UUID, params: ListParams
) -> Page[User]:
    """A page of a group's members, like the user list."""
    return await list_users(
        db_session=db_session, tenant_id=tenant_id, params=params, group_id=group_id
    )


async def groups_of(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[Group]:
    """The groups a user is a direct member of, by name."""
    query = (
        select(Group)
        .join(
            GroupMember,
            and_(GroupMember.tenant_id == Group.tenant_id, GroupMember.group_id == Group.id),
        )
        .where(GroupMember.tenant_id == tenant_id, GroupMember.user_id == user_id)
        .order_by(Group.display_name_key, Group.id)
    )
    return list((await db_session.scalars(query)).all())


async def member_counts(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, group_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many direct members each of these groups has, in one query."""
    ids = list(group_ids)
    if not ids:
        return {}
    query = (
        select(GroupMember.group_id, func.count())
        .where(GroupMember.tenant_id == tenant_id, GroupMember.group_id.in_(ids))
        .group_by(GroupMember.group_id)
    )
    counts = {group_id: 0 for group_id in ids}
    counts.update({group_id: count for group_id, count in (await db_session.execute(query)).all()})
    return counts
