"""SCIM Users (RFC 7644 §3.3–3.6) over the directory's own services.

The rules, in the product's words:
- SCIM reads every user of the tenant and changes only the ones it provides (`source:
  synced`): a `userName` already used by anyone → 409 `uniqueness`; a change to a cloud
  or guest user → 403.
- A user name is an address on one of the tenant's verified domains.
- A synced user is never licensed at creation: group-based licensing licenses them as
  their groups gain them, and a user without a usage location (and a tenant without a
  country) gets `ProhibitedInUsageLocationViolation` there. When the client then sends a
  work country, the user's group licenses are applied again at once (the error clears).
- `active: false` blocks sign-in and ends sessions (`directory.users.update`); DELETE
  frees the user's licenses and removes them (`directory.flows.delete_user`).
- Administrators: a token changes, blocks or deletes an administrator only when the admin
  who created it is a Global Administrator (`adminProtected`), and the organization keeps
  a Global Administrator who can sign in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from scim2_models import Context, NotFoundException, PatchOp, PreconditionFailedException
from sqlalchemy import and_, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.core.errors import TenantryError
from tenantry.directory import events as directory_events
from tenantry.directory import flows as directory_flows
from tenantry.directory import roles as directory_roles
from tenantry.directory import spoofing
from tenantry.directory import sync as directory_sync
from tenantry.directory import users as directory_users
from tenantry.directory.constants import Source
from tenantry.directory.exceptions import UserAlreadyExists
from tenantry.directory.models import User
from tenantry.licensing import groups as licensing_groups
from tenantry.scim.exceptions import ScimError
from tenantry.scim.filters import user_condition, user_sort
from tenantry.scim.models import ScimUser
from tenantry.scim.resources import POLICY, UserFields, UserResource, user_fields, user_view
from tenantry.scim.tokens import Caller


@dataclass
class Request:
    """What every SCIM operation needs: the unit of work, the caller, where it lives."""

    db_session: AsyncSession
    caller: Caller
    actor: audit.Actor
    catalog: Catalog
    base_url: str


@dataclass
class Done:
    """What an operation did: the resource as it now is, and what changed (for the log)."""

    document: dict[str, Any] | None
    target_id: str | None = None
    target_name: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Query:
    """A list request, as RFC 7644 §3.4.2 gives it (already parsed and checked)."""

    filter: Any = None  # the filter's syntax tree, or None
    sort_by: str | None = None
    descending: bool = False
    start_index: int = 1
    count: int = 100


def _joined() -> Any:
    return select(User, ScimUser).outerjoin(
        ScimUser, and_(ScimUser.tenant_id == User.tenant_id, ScimUser.user_id == User.id)
    )


async def _load(
    request: Request, user_id: str, *, lock: bool = False
) -> tuple[User, ScimUser | None]:
    try:
        wanted = uuid.UUID(user_id)
    except ValueError:
        raise NotFoundException(detail=f"User {user_id} not found") from None
    query = _joined().where(User.tenant_id == request.caller.tenant_id, User.id == wanted)
    if lock:
        query = query.with_for_update(of=User)
    row = (await request.db_session.execute(query)).first()
    if row is None:
        raise NotFoundException(detail=f"User {user_id} not found")
    return row[0], row[1]


async def get(request: Request, user_id: str) -> dict[str, Any]:
    """One user of the tenant (any source)."""
    user, scim_row = await _load(request, user_id)
    return user_view(user, scim_row, base_url=request.base_url)


def _filtered(tenant_id: uuid.UUID, query: Query) -> Any:
    statement = _joined().where(User.tenant_id == tenant_id)
    if query.filter is not None:
        statement = statement.where(user_condition(query.filter))
    return statement


def page_statement(tenant_id: uuid.UUID, query: Query) -> Any:
    """The statement of one page of a list request, with the total (`count(*) OVER ()`)."""
    column = user_sort(query.sort_by) if query.sort_by else User.id
    ordering = (column.desc(), User.id.desc()) if query.descending else (column, User.id)
    return (
        _filtered(tenant_id, query)
        .add_columns(func.count().over())
        .order_by(*ordering)
        .offset(query.start_index - 1)
        .limit(query.count)
    )


async def search(request: Request, query: Query) -> tuple[int, list[dict[str, Any]]]:
    """The total matching the filter, and the page asked for (in SQL, indexes first; the
    total rides along with the page, `count(*) OVER ()`: one statement)."""
    statement = _filtered(request.caller.tenant_id, query)
    if query.count > 0:
        rows = (
            await request.db_session.execute(page_statement(request.caller.tenant_id, query))
        ).all()
        if rows:
            views = [user_view(u, s, base_url=request.base_url) for u, s, _ in rows]
            return rows[0][2], views
    total = (
        await request.db_session.scalar(
            select(func.count()).select_from(statement.order_by(None).subquery())
        )
        or 0
    )
    return total, []


def _check_version(document: dict[str, Any], if_match: str | None) -> None:
    """412 when the client's `If-Match` names another version (RFC 7644 §3.14)."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    version = document["meta"]["version"]
    if version not in wanted and version.removeprefix("W/") not in wanted:
        raise PreconditionFailedException(
            detail=f"The user changed since that version; it is now at {version}."
        )


async def _ensure_may_change(request: Request, user: User) -> None:
    if user.source != Source.SYNCED.value:
        raise ScimError(
            status=403,
            detail=f"{user.user_principal_name} was not provisioned by directory sync "
            f"(source {user.source}): SCIM reads this user but does not change them.",
        )
    # The token acts with the rights of the admin who created it (`adminProtected`).
    creator = audit.Actor(request.caller.created_by or uuid.UUID(int=0), user.tenant_id, None)
    await directory_roles.ensure_may_manage(request.db_session, creator, user)


async def _principal_name(request: Request, value: str) -> str:
    principal_name = directory_users.normalize_principal_name(value)
    directory_users.check_principal_name_domain(
        principal_name,
        await directory_users.verified_domains(
            db_session=request.db_session, tenant_id=request.caller.tenant_id
        ),
    )
    return principal_name


def _changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """The attributes that differ between two representations (what the log shows)."""
    before = before or {}
    names = sorted((set(before) | set(after)) - {"meta", "schemas", "id"})
    return [
        {"name": name, "oldValue": before.get(name), "newValue": after.get(name)}
        for name in names
        if before.get(name) != after.get(name)
    ]


async def create(request: Request, resource: UserResource, *, password_hash: str | None) -> Done:
    """A new synced user, as the client describes them; never licensed here (seed 004)."""
    fields = user_fields(resource)
    principal_name = await _principal_name(request, fields.principal_name)
    try:
        user = await directory_users.create(
            db_session=request.db_session,
            actor=request.actor,
            tenant_id=request.caller.tenant_id,
            principal_name=principal_name,
            display_name=directory_users.check_name(
                fields.display_name, field="displayName", limit=256, required=True
            )
            or "",
            password_hash=password_hash,
            source=Source.SYNCED,
            usage_location=fields.usage_location,
            given_name=directory_users.check_name(
                fields.given_name, field="name.givenName", limit=128, required=False
            ),
            surname=directory_users.check_name(
                fields.surname, field="name.familyName", limit=128, required=False
            ),
            account_enabled=fields.account_enabled,
            mail=fields.mail,
            # The unique indexes settle a taken name: no lookup and savepoint of its own in
            # the provider's hottest write (the request, or its Bulk operation, fails whole).
            known_new=True,
        )
    except IntegrityError as exc:
        raise UserAlreadyExists(
            f"A user with the address {principal_name} already exists.", target="userName"
        ) from exc
    scim_row = ScimUser(
        tenant_id=user.tenant_id,
        user_id=user.id,
        external_id=fields.external_id,
        attributes=fields.attributes,
        usage_location_from_scim=fields.usage_location_from_scim,
        updated_at=clock.now(),
    )
    request.db_session.add(scim_row)
    await request.db_session.flush()
    document = user_view(user, scim_row, base_url=request.base_url)
    return Done(
        document,
        target_id=str(user.id),
        target_name=user.user_principal_name,
        changes=_changes(None, document),
    )


async def _apply(
    request: Request,
    user: User,
    scim_row: ScimUser | None,
    fields: UserFields,
    *,
    password_hash: str | None,
) -> ScimUser:
    """Make the user what `fields` says, through the directory's services."""
    db_session = request.db_session
    principal_name = await _principal_name(request, fields.principal_name)
    await directory_sync.rename(
        db_session=db_session, actor=request.actor, user=user, principal_name=principal_name
    )
    owned_before = scim_row.usage_location_from_scim if scim_row is not None else False
    usage_location: Any = directory_users.UNSET
    if fields.usage_location_from_scim or owned_before:
        usage_location = fields.usage_location
    located_before = user.usage_location
    await directory_users.update(
        db_session=db_session,
        actor=request.actor,
        user=user,
        display_name=fields.display_name,
        given_name=fields.given_name,
        surname=fields.surname,
        usage_location=usage_location,
        account_enabled=fields.account_enabled,
        by_sync=True,
    )
    directory_sync.set_mail(user, fields.mail or user.user_principal_name)
    if password_hash is not None:
        directory_sync.set_password(
            db_session=db_session, actor=request.actor, user=user, password_hash=password_hash
        )
    if scim_row is None:
        scim_row = ScimUser(tenant_id=user.tenant_id, user_id=user.id)
        db_session.add(scim_row)
    scim_row.external_id = fields.external_id
    scim_row.attributes = fields.attributes
    scim_row.usage_location_from_scim = fields.usage_location_from_scim
    scim_row.updated_at = clock.now()
    await db_session.flush()
    if user.usage_location and user.usage_location != located_before:
        # The client sent a country: licenses its groups could not give now can be given.
        await licensing_groups.reprocess_user(
            db_session=db_session, catalog=request.catalog, actor=request.actor, user=user
        )
    return scim_row


async def replace(
    request: Request,
    user_id: str,
    resource: UserResource,
    *,
    password_hash: str | None,
    if_match: str | None,
) -> Done:
    """PUT: the user becomes what the client sends (what it leaves out is cleared)."""
    user, scim_row = await _load(request, user_id, lock=True)
    before = user_view(user, scim_row, base_url=request.base_url)
    _check_version(before, if_match)
    await _ensure_may_change(request, user)
    scim_row = await _apply(
        request, user, scim_row, user_fields(resource), password_hash=password_hash
    )
    document = user_view(user, scim_row, base_url=request.base_url)
    return Done(document, str(user.id), user.user_principal_name, _changes(before, document))


async def patch(
    request: Request,
    user_id: str,
    operations: PatchOp[Any],
    *,
    password_hash: str | None,
    if_match: str | None,
) -> Done:
    """PATCH: apply the operations (scim2-models, with Entra's habits) to the user as SCIM
    shows them, then make the user what the result says."""
    user, scim_row = await _load(request, user_id, lock=True)
    before = user_view(user, scim_row, base_url=request.base_url)
    _check_version(before, if_match)
    await _ensure_may_change(request, user)
    resource = UserResource.model_validate(
        before, scim_ctx=Context.RESOURCE_QUERY_RESPONSE, scim_policy=POLICY
    )
    with POLICY:
        modified = operations.patch(resource)
    if not modified:
        return Done(before, str(user.id), user.user_principal_name)
    if resource.password is None:
        password_hash = None
    scim_row = await _apply(
        request, user, scim_row, user_fields(resource), password_hash=password_hash
    )
    document = user_view(user, scim_row, base_url=request.base_url)
    changes = _changes(before, document)
    if password_hash is not None:
        changes.append({"name": "password"})
    return Done(document, str(user.id), user.user_principal_name, changes)


async def delete(request: Request, user_id: str, *, if_match: str | None) -> Done:
    """DELETE: the user goes, and their licenses return to the pool."""
    user, scim_row = await _load(request, user_id, lock=True)
    before = user_view(user, scim_row, base_url=request.base_url)
    _check_version(before, if_match)
    await _ensure_may_change(request, user)
    target = (str(user.id), user.user_principal_name)
    await directory_flows.delete_user(
        db_session=request.db_session, actor=request.actor, user=user, by_sync=True
    )
    return Done(None, *target)


@directory_events.on_owned_properties
async def _usage_location_from_scim(*, db_session: AsyncSession, user: User) -> set[str]:
    """A synced user's usage location is their directory's when its client sent it."""
    owned = await db_session.scalar(
        select(ScimUser.usage_location_from_scim).where(
            ScimUser.tenant_id == user.tenant_id, ScimUser.user_id == user.id
        )
    )
    return {"usageLocation"} if owned else set()


@dataclass
class Creation:
    """One user to create in a Bulk request: the resource, its password's hash."""

    resource: UserResource
    password_hash: str | None


async def create_many(request: Request, creations: list[Creation]) -> list[Done | Exception] | None:
    """Create many synced users set-based (Bulk): each creation's Done, or its refusal. None
    when the database refused the set (a name taken meanwhile): the caller then creates them
    one by one, each with its own answer."""
    domains = await directory_users.verified_domains(
        db_session=request.db_session, tenant_id=request.caller.tenant_id
    )
    results: list[Done | Exception | None] = [None] * len(creations)
    accepted: list[tuple[int, directory_sync.NewSyncedUser, UserFields]] = []
    names: set[str] = set()
    skeletons: set[str] = set()
    for index, creation in enumerate(creations):
        try:
            fields = user_fields(creation.resource)
            name = directory_users.normalize_principal_name(fields.principal_name)
            directory_users.check_principal_name_domain(name, domains)
            skeleton = spoofing.principal_name_skeleton(name)
            if name in names or skeleton in skeletons:
                raise UserAlreadyExists(
                    f"{name} is created by an earlier operation of this request.",
                    target="userName",
                )
            person = directory_sync.NewSyncedUser(
                principal_name=name,
                display_name=directory_users.check_name(
                    fields.display_name, field="displayName", limit=256, required=True
                )
                or "",
                given_name=directory_users.check_name(
                    fields.given_name, field="name.givenName", limit=128, required=False
                ),
                surname=directory_users.check_name(
                    fields.surname, field="name.familyName", limit=128, required=False
                ),
                mail=fields.mail,
                usage_location=fields.usage_location,
                account_enabled=fields.account_enabled,
                password_hash=creation.password_hash,
            )
        except TenantryError as error:
            results[index] = error
            continue
        names.add(name)
        skeletons.add(skeleton)
        accepted.append((index, person, fields))
    taken = await directory_sync.taken(
        request.db_session,
        tenant_id=request.caller.tenant_id,
        people=[person for _, person, _ in accepted],
    )
    survivors = []
    for index, person, fields in accepted:
        if person.principal_name in taken:
            results[index] = UserAlreadyExists(taken[person.principal_name], target="userName")
        else:
            survivors.append((index, person, fields))
    now = clock.now()
    scim_rows: list[Any] = [
        SimpleNamespace(
            tenant_id=request.caller.tenant_id,
            user_id=person.id,
            external_id=fields.external_id,
            attributes=fields.attributes,
            usage_location_from_scim=fields.usage_location_from_scim,
            updated_at=now,
        )
        for _, person, fields in survivors
    ]
    try:
        async with request.db_session.begin_nested():
            await directory_sync.add_many(
                request.db_session,
                actor=request.actor,
                tenant_id=request.caller.tenant_id,
                people=[person for _, person, _ in survivors],
            )
            if scim_rows:
                await request.db_session.execute(
                    insert(ScimUser),
                    [
                        {
                            "tenant_id": row.tenant_id,
                            "user_id": row.user_id,
                            "external_id": row.external_id,
                            "attributes": row.attributes,
                            "usage_location_from_scim": row.usage_location_from_scim,
                            "updated_at": row.updated_at,
                        }
                        for row in scim_rows
                    ],
                )
    except IntegrityError:
        return None
    for (index, person, _), scim_row in zip(survivors, scim_rows, strict=True):
        # What the view reads of the new rows (not ORM objects: nothing to track).
        user: Any = SimpleNamespace(
            id=person.id,
            user_principal_name=person.principal_name,
            mail=person.mail or person.principal_name,
            display_name=person.display_name,
            given_name=person.given_name,
            surname=person.surname,
            usage_location=person.usage_location,
            account_enabled=person.account_enabled,
            created_at=person.created_at,
        )
        document = user_view(user, scim_row, base_url=request.base_url)
        results[index] = Done(
            document, str(person.id), person.principal_name, _changes(None, document)
        )
    return [result for result in results if result is not None]
