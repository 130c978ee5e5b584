"""SCIM Groups (RFC 7644 §3.3–3.6) over the directory's groups and their direct members.

Membership changes go through `directory.groups.add_members` and `remove_member`, the
functions the admin center and the API call, so group-based licensing reacts to them
exactly as to an admin's change (`directory.events`). Members are changed one statement
per request, never by writing back a list read earlier: two providers adding members to
one group at the same moment both keep theirs (`INSERT … ON CONFLICT DO NOTHING`, and
SQLite's one writer). Only a replace of the whole list (PUT, `replace members`) reads the
members first, and it means "these and no others" anyway.

A group's ETag counts its members by a counter (`scim_groups.members_version`) that
every membership change bumps, whoever makes it, so that a version is known without
reading the members. Lock order: that row is always written last in a unit of work,
after group-based licensing's row of the group (which membership changes take first).
"""

from __future__ import annotations

import uuid
from typing import Any

from scim2_models import (
    InvalidValueException,
    MutabilityException,
    NoTargetException,
    NotFoundException,
    PatchOp,
    PreconditionFailedException,
)
from scim2_models.path import CompareOperator, Comparison, LogicalExpr, LogicalOperator
from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.directory import events as directory_events
from tenantry.directory import groups as directory_groups
from tenantry.directory.exceptions import NotAMember
from tenantry.directory.models import Group, GroupMember
from tenantry.scim.constants import GROUP_SCHEMA, MAX_MEMBERS_PER_PATCH
from tenantry.scim.filters import group_condition, group_sort
from tenantry.scim.models import ScimGroup
from tenantry.scim.resources import GroupResource, group_view
from tenantry.scim.resources import external_id as scim_external_id
from tenantry.scim.users import Done, Query, Request

_CORE_PREFIX = GROUP_SCHEMA.lower() + ":"


def _joined() -> Any:
    return select(Group, ScimGroup).outerjoin(
        ScimGroup, and_(ScimGroup.tenant_id == Group.tenant_id, ScimGroup.group_id == Group.id)
    )


async def _load(request: Request, group_id: str) -> tuple[Group, ScimGroup | None]:
    try:
        wanted = uuid.UUID(group_id)
    except ValueError:
        raise NotFoundException(detail=f"Group {group_id} not found") from None
    row = (
        await request.db_session.execute(
            _joined().where(Group.tenant_id == request.caller.tenant_id, Group.id == wanted)
        )
    ).first()
    if row is None:
        raise NotFoundException(detail=f"Group {group_id} not found")
    return row[0], row[1]


async def _member_ids(db_session: AsyncSession, group: Group) -> list[uuid.UUID]:
    query = (
        select(GroupMember.user_id)
        .where(GroupMember.tenant_id == group.tenant_id, GroupMember.group_id == group.id)
        .order_by(GroupMember.user_id)
    )
    return list((await db_session.scalars(query)).all())


async def _view(
    request: Request, group: Group, scim_row: ScimGroup | None, *, members: bool
) -> dict[str, Any]:
    ids = await _member_ids(request.db_session, group) if members else None
    return group_view(group, scim_row, ids, base_url=request.base_url)


async def get(request: Request, group_id: str, *, members: bool = True) -> dict[str, Any]:
    """One group of the tenant (`members` False: without reading its members)."""
    group, scim_row = await _load(request, group_id)
    return await _view(request, group, scim_row, members=members)


async def search(
    request: Request, query: Query, *, members: bool = True
) -> tuple[int, list[dict[str, Any]]]:
    """The total matching the filter, and the page asked for."""
    statement = _joined().where(Group.tenant_id == request.caller.tenant_id)
    if query.filter is not None:
        statement = statement.where(group_condition(query.filter))
    if query.count > 0:
        column = group_sort(query.sort_by) if query.sort_by else Group.id
        ordering = (column.desc(), Group.id.desc()) if query.descending else (column, Group.id)
        rows = (
            await request.db_session.execute(
                statement.add_columns(func.count().over())
                .order_by(*ordering)
                .offset(query.start_index - 1)
                .limit(query.count)
            )
        ).all()
        if rows:
            views = [await _view(request, g, s, members=members) for g, s, _ in rows]
            return rows[0][2], views
    total = (
        await request.db_session.scalar(
            select(func.count()).select_from(statement.order_by(None).subquery())
        )
        or 0
    )
    return total, []


def _check_version(document: dict[str, Any], if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    version = document["meta"]["version"]
    if version not in wanted and version.removeprefix("W/") not in wanted:
        raise PreconditionFailedException(
            detail=f"The group changed since that version; it is now at {version}."
        )


def _ids_of(members: Any) -> list[uuid.UUID]:
    """The user ids a list of members names (groups do not nest)."""
    if members is None:
        return []
    if not isinstance(members, list):
        members = [members]
    if len(members) > MAX_MEMBERS_PER_PATCH:
        raise InvalidValueException(
            detail=f"Change at most {MAX_MEMBERS_PER_PATCH} members per request."
        )
    ids: dict[uuid.UUID, None] = {}
    for member in members:
        value = (
            member.get("value") if isinstance(member, dict) else getattr(member, "value", member)
        )
        kind = member.get("type") if isinstance(member, dict) else getattr(member, "type", None)
        if kind is not None and str(kind).lower() == "group":
            raise InvalidValueException(
                detail="Groups cannot be members of a group here: give users only."
            )
        try:
            ids[uuid.UUID(str(value))] = None
        except ValueError:
            raise InvalidValueException(
                detail=f"{str(value)[:64]!r} is not the id of a user of this organization."
            ) from None
    return list(ids)


class _Membership:
    """The member changes of one request, made through the directory's services."""

    def __init__(self, request: Request, group: Group) -> None:
        self.request = request
        self.group = group
        self.added: list[uuid.UUID] = []
        self.removed: list[uuid.UUID] = []

    async def add(self, ids: list[uuid.UUID]) -> None:
        if ids:
            self.added += await directory_groups.add_members(
                db_session=self.request.db_session,
                actor=self.request.actor,
                group=self.group,
                user_ids=ids,
            )

    async def remove(self, ids: list[uuid.UUID]) -> None:
        for user_id in ids:
            try:
                await directory_groups.remove_member(
                    db_session=self.request.db_session,
                    actor=self.request.actor,
                    group=self.group,
                    user_id=user_id,
                )
            except NotAMember:
                continue  # removing a non-member changes nothing (RFC 7644 §3.5.2.2)
            self.removed.append(user_id)

    async def replace(self, ids: list[uuid.UUID]) -> None:
        current = set(await _member_ids(self.request.db_session, self.group))
        wanted = set(ids)
        await self.remove(sorted(current - wanted))
        await self.add([user_id for user_id in ids if user_id not in current])

    def changes(self) -> list[dict[str, Any]]:
        if not self.added and not self.removed:
            return []
        return [
            {
                "name": "members",
                "added": [str(user_id) for user_id in self.added[:50]],
                "removed": [str(user_id) for user_id in self.removed[:50]],
                "addedCount": len(self.added),
                "removedCount": len(self.removed),
            }
        ]


async def _save(
    request: Request, group: Group, scim_row: ScimGroup | None, external_id: Any
) -> ScimGroup:
    """Write the group's SCIM row (last: see the module's lock order)."""
    if scim_row is None:
        scim_row = await request.db_session.get(ScimGroup, (group.tenant_id, group.id))
    if scim_row is None:
        scim_row = ScimGroup(
            tenant_id=group.tenant_id, group_id=group.id, members_version=0, updated_at=clock.now()
        )
        request.db_session.add(scim_row)
    if external_id is not _KEEP:
        scim_row.external_id = external_id
    scim_row.updated_at = clock.now()
    await request.db_session.flush()
    # Member changes bumped its counter in SQL: read it back for the ETag.
    await request.db_session.refresh(scim_row, ["members_version"])
    return scim_row


_KEEP = object()


async def create(request: Request, resource: GroupResource) -> Done:
    """A new group with its members (users of the tenant)."""
    ids = _ids_of(resource.members)
    group = await directory_groups.create_group(
        db_session=request.db_session,
        actor=request.actor,
        tenant_id=request.caller.tenant_id,
        display_name=resource.display_name or "",
    )
    membership = _Membership(request, group)
    await membership.add(ids)
    scim_row = await _save(request, group, None, scim_external_id(resource.external_id))
    document = group_view(group, scim_row, ids, base_url=request.base_url)
    changes = [{"name": "displayName", "oldValue": None, "newValue": group.display_name}]
    if resource.external_id is not None:
        changes.append({"name": "externalId", "oldValue": None, "newValue": resource.external_id})
    return Done(document, str(group.id), group.display_name, changes + membership.changes())


async def _rename(request: Request, group: Group, display_name: Any) -> list[dict[str, Any]]:
    if not isinstance(display_name, str) or not display_name.strip():
        raise MutabilityException(detail="displayName is required and cannot be removed.")
    old = group.display_name
    await directory_groups.update_group(
        db_session=request.db_session, actor=request.actor, group=group, display_name=display_name
    )
    if group.display_name == old:
        return []
    return [{"name": "displayName", "oldValue": old, "newValue": group.display_name}]


async def replace(
    request: Request, group_id: str, resource: GroupResource, *, if_match: str | None
) -> Done:
    """PUT: name, externalId and the whole member list become what the client sends."""
    group, scim_row = await _load(request, group_id)
    _check_version(await _view(request, group, scim_row, members=False), if_match)
    old_external = scim_row.external_id if scim_row else None
    changes = await _rename(request, group, resource.display_name)
    membership = _Membership(request, group)
    await membership.replace(_ids_of(resource.members))
    new_external = scim_external_id(resource.external_id)
    scim_row = await _save(request, group, scim_row, new_external)
    if old_external != new_external:
        changes.append({"name": "externalId", "oldValue": old_external, "newValue": new_external})
    document = await _view(request, group, scim_row, members=True)
    return Done(document, str(group.id), group.display_name, changes + membership.changes())


def _attribute(path: Any) -> str:
    """The attribute a PATCH path names, in lower case, without the core schema's URN."""
    text = str(path).lower()
    if text.startswith(_CORE_PREFIX):
        text = text[len(_CORE_PREFIX) :]
    return text.split("[", 1)[0].split(".", 1)[0]


def _filtered_ids(path: Any) -> list[uuid.UUID]:
    """The members `members[value eq "…"]` (or several joined by `or`) selects."""
    tree = getattr(path.value_filter, "ast", path.value_filter)
    terms = (
        tree.terms if isinstance(tree, LogicalExpr) and tree.op == LogicalOperator.or_ else (tree,)
    )
    values = []
    for term in terms:
        if not (
            isinstance(term, Comparison)
            and term.op == CompareOperator.eq
            and term.attr_path.attr.lower() == "value"
            and term.attr_path.sub_attr is None
        ):
            raise InvalidValueException(
                detail='Select members by their id: members[value eq "…"] (or several, with or).'
            )
        values.append({"value": term.value})
    return _ids_of(values)


async def patch(
    request: Request,
    group_id: str,
    operations: PatchOp[Any],
    *,
    if_match: str | None,
) -> Done:
    """PATCH (RFC 7644 §3.5.2, with Entra's and Okta's habits): names and externalId as
    values; members added, removed (by value, by filter) or replaced as statements."""
    group, scim_row = await _load(request, group_id)
    _check_version(await _view(request, group, scim_row, members=False), if_match)
    external_id: Any = _KEEP
    old_external = scim_row.external_id if scim_row else None
    changes: list[dict[str, Any]] = []
    membership = _Membership(request, group)
    for operation in operations.operations or []:
        op = operation.op.value
        if operation.path is None:
            if not isinstance(operation.value, dict):
                raise InvalidValueException(detail="An operation without a path takes an object.")
            items = list(operation.value.items())
        else:
            items = [(operation.path, operation.value)]
        for path, value in items:
            attribute = _attribute(path)
            if attribute in {"id", "schemas", "meta"}:
                if attribute == "id" and str(value) == str(group.id):
                    continue  # Okta repeats the id it is patching
                raise MutabilityException(detail=f"{path} cannot be changed.")
            if attribute == "displayname":
                if op == "remove":
                    raise MutabilityException(
                        detail="displayName is required and cannot be removed."
                    )
                changes += await _rename(request, group, value)
            elif attribute == "externalid":
                external_id = None if op == "remove" else scim_external_id(value)
            elif attribute == "members":
                filtered = getattr(path, "value_filter", None) is not None
                if filtered and op == "remove":
                    await membership.remove(_filtered_ids(path))
                elif filtered:
                    raise MutabilityException(detail="A member's attributes cannot be changed.")
                elif op == "add":
                    await membership.add(_ids_of(value))
                elif op == "remove":
                    if value is None:
                        await membership.replace([])
                    else:
                        await membership.remove(_ids_of(value))
                else:
                    await membership.replace(_ids_of(value))
            else:
                raise NoTargetException(detail=f"Groups have no attribute {path}.")
    scim_row = await _save(request, group, scim_row, external_id)
    if external_id is not _KEEP and external_id != old_external:
        changes.append({"name": "externalId", "oldValue": old_external, "newValue": external_id})
    document = await _view(request, group, scim_row, members=False)
    return Done(document, str(group.id), group.display_name, changes + membership.changes())


async def delete(request: Request, group_id: str, *, if_match: str | None) -> Done:
    """DELETE: the group and its memberships go (not while it gives licenses: 409)."""
    group, scim_row = await _load(request, group_id)
    _check_version(await _view(request, group, scim_row, members=False), if_match)
    target = (str(group.id), group.display_name)
    await directory_groups.delete_group(
        db_session=request.db_session, actor=request.actor, group=group
    )
    return Done(None, *target)


async def _bump(db_session: AsyncSession, tenant_id: uuid.UUID, group_id: uuid.UUID) -> None:
    now = clock.now()
    values = {
        "tenant_id": tenant_id,
        "group_id": group_id,
        "members_version": 1,
        "updated_at": now,
    }
    dialect = db_session.get_bind().dialect.name
    insert_for = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_for(ScimGroup).values(**values)
    await db_session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "group_id"],
            set_={"members_version": ScimGroup.members_version + 1, "updated_at": now},
        )
    )


@directory_events.on_members_added
async def _members_added(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    user_ids: list[uuid.UUID],
) -> None:
    """Any member change, an admin's too, gives the group a new SCIM version."""
    await _bump(db_session, tenant_id, group_id)


@directory_events.on_members_removed
async def _members_removed(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    user_ids: list[uuid.UUID],
) -> None:
    await _bump(db_session, tenant_id, group_id)
