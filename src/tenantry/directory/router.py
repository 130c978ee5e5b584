"""`/v1/me`, `/v1/users` and `/v1/organization/sendMessage`.

Reading the directory takes any admin role, changing users takes User
Administrator (`directory.dependencies`); `/v1/directoryRoles` is
`directory.roles_router`, `/v1/groups` is `directory.groups_router`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from tenantry.auth import passwords as auth_passwords
from tenantry.auth import tenancy
from tenantry.auth.limits import limit_password_changes
from tenantry.auth.models import API_TOKEN
from tenantry.catalog import Catalog
from tenantry.core.audit import Actor
from tenantry.core.bodylimit import allow_larger_body
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import (
    Principal,
    actor_of,
    client_address,
    current_principal,
    get_catalog,
    get_database,
    get_db,
    get_read_db,
    get_settings,
    no_store,
    signed_in_principal,
)
from tenantry.directory import flows, passwords
from tenantry.directory import groups as directory_groups
from tenantry.directory import users as directory_users
from tenantry.directory.constants import MAX_IMPORT_BODY_BYTES, MAX_IMPORT_BYTES
from tenantry.directory.dependencies import (
    list_params,
    manage_users,
    page_response,
    read_directory,
    user_page,
)
from tenantry.directory.exceptions import (
    InvalidCsv,
    InvalidValue,
    RequestTooLarge,
    UnsupportedMediaType,
)
from tenantry.directory.query import ListParams
from tenantry.directory.schemas import (
    GroupPage,
    ImportReport,
    MeView,
    OrganizationMessage,
    OrganizationMessageResult,
    PasswordChange,
    PasswordReset,
    UserCreate,
    UserCreatedView,
    UserPage,
    UserUpdate,
    UserView,
    group_view,
    user_view,
)
from tenantry.domains import service as domain_service
from tenantry.licensing import entitlements as licensing_entitlements
from tenantry.licensing import groups as group_licensing
from tenantry.licensing.group_schemas import UserLicensesView, user_licenses_view
from tenantry.licensing.schemas import entitlement_changes_view
from tenantry.partner import acting as partner_acting
from tenantry.partner.schemas import membership_view
from tenantry.signup.flows import check_password_strength

router = APIRouter(prefix="/v1", tags=["directory"], responses=ERROR_RESPONSES)


# --- me -----------------------------------------------------------------------------------


@router.get("/me", response_model=MeView)
async def me(
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """The signed-in user, their tenant, roles and effective entitlements, and the partner
    account the token acts for (`partnerAccount`, or null)."""
    user = principal.user
    entitlements = await licensing_entitlements.entitlements_of(
        db_session=db_session, catalog=catalog, user_id=user.id, with_changes=True
    )
    acting = await partner_acting.acting(
        db_session=db_session,
        token=principal.token,
        kind=API_TOKEN,
        tenant_id=principal.tenant.id,
        user_id=user.id,
    )
    defaults = await domain_service.default_names(
        db_session=db_session, tenant_ids=[principal.tenant.id]
    )
    view = user_view(user)
    return view | {
        "tenant": {
            "id": str(principal.tenant.id),
            "displayName": principal.tenant.display_name,
            "defaultDomain": defaults.get(principal.tenant.id),
        },
        "roles": sorted(principal.roles),
        "entitlements": entitlements.limits,
        "entitlementChanges": entitlement_changes_view(entitlements),
        "servicePlans": entitlements.service_plans,
        "user": view,
        "partnerAccount": membership_view(acting),
    }


@router.post("/me/changePassword", status_code=204)
async def change_password(
    body: PasswordChange,
    request: Request,
    principal: Principal = Depends(signed_in_principal),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    database: Database = Depends(get_database),
    settings: Settings = Depends(get_settings),
) -> Response:
    """Replace your password (required after an admin reset it); your other sessions end.

    Throttled like sign-in (per client address and per user): it checks a password.
    """
    # A guest acting here changes the password of the account it signs in as.
    person = await tenancy.signed_in_person(database=database, user=principal.user)
    await limit_password_changes(database, settings, client_address(request), person.id)
    password_hash = await flows.hash_new_password(
        user=person,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    await auth_passwords.change_password(
        db_session=db_session,
        actor=Actor(person.id, person.tenant_id, client_address(request)),
        tenant_id=person.tenant_id,
        user_id=person.id,
        password_hash=password_hash,
        keep_token=principal.token,
        replacing=person.password_hash,
    )
    return Response(status_code=204)


# --- users --------------------------------------------------------------------------------


@router.get("/users", response_model=None, responses={200: {"model": UserPage}})
async def list_users(
    request: Request,
    params: ListParams = Depends(list_params),
    principal: Principal = Depends(read_directory),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> JSONResponse:
    """The organization's users: `$filter`, `$search`, `$orderby`, `$top`, `@odata.nextLink`."""
    found = await directory_users.list_users(
        db_session=db_session, tenant_id=principal.tenant.id, params=params
    )
    return page_response(user_page(request, found))


@router.post(
    "/users",
    status_code=201,
    response_model=UserCreatedView,
    response_model_exclude_unset=True,
    dependencies=[Depends(no_store)],  # a temporary password, when one is generated
)
async def create_user(
    body: UserCreate,
    request: Request,
    principal: Principal = Depends(manage_users),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Add a user; without a password, a temporary one is generated and shown once."""
    if body.password is not None:
        check_password_strength(body.password, email=body.user_principal_name)
    password_hash, generated = await flows.prepare_password(body.password)
    user = await flows.create_user(
        db_session=db_session,
        catalog=catalog,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        principal_name=body.user_principal_name,
        display_name=body.display_name,
        password_hash=password_hash,
        must_change_password=generated is not None or body.force_change_password_next_sign_in,
        given_name=body.given_name,
        surname=body.surname,
        usage_location=body.usage_location,
        account_enabled=body.account_enabled,
        source=body.source,
        licenses=[
            flows.LicenseRequest(sku_id=item.sku_id, disabled_plans=item.disabled_plans)
            for item in body.assigned_licenses
        ],
    )
    view = user_view(user)
    if generated is not None:
        view["temporaryPassword"] = generated
    return view


async def _read_upload(request: Request) -> bytes:
    """The CSV file of an import: a multipart upload or a text/csv body, size-capped."""
    allow_larger_body(request.scope, MAX_IMPORT_BODY_BYTES)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_IMPORT_BYTES + 64 * 1024:
        raise RequestTooLarge(f"The file is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10)
        upload = next((value for value in form.values() if isinstance(value, UploadFile)), None)
        if upload is None:
            raise InvalidCsv("Attach the CSV file to the form (a file field).")
        data = await upload.read(MAX_IMPORT_BYTES + 1)
        await form.close()
    elif content_type in {
        "text/csv",
        "text/plain",
        "application/csv",
        "application/vnd.ms-excel",
        "application/octet-stream",
    }:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) > MAX_IMPORT_BYTES:
                break
        data = bytes(buffer)
    else:
        raise UnsupportedMediaType("Send the file as multipart/form-data or as a text/csv body.")
    if len(data) > MAX_IMPORT_BYTES:
        raise RequestTooLarge(f"The file is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB.")
    return data


@router.post(
    "/users/import",
    response_model=ImportReport,
    response_model_exclude_unset=True,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
        }
    },
)
async def import_users(
    request: Request,
    principal: Principal = Depends(manage_users),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """Add users from a CSV file; each row's outcome is reported, a bad row stops nothing."""
    rows = flows.read_csv(await _read_upload(request))
    for row in rows:
        flows.check_row(row)
    await flows.hash_rows(rows)  # before the transaction: no lock waits on argon2
    done = await flows.import_users(
        db_session=db_session,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        rows=rows,
    )
    return flows.report(done)


@router.get("/users/{user_id}", response_model=UserLicensesView)
async def get_user(
    user_id: str,
    principal: Principal = Depends(read_directory),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """A user of the organization, by id or userPrincipalName, with their licenses and the
    state of each license source (`licenseAssignmentStates`)."""
    user = await directory_users.resolve(
        db_session=db_session, tenant_id=principal.tenant.id, key=user_id
    )
    rows, inactive = await group_licensing.license_states_of(
        db_session=db_session, tenant_id=principal.tenant.id, user_id=user.id
    )
    return user_licenses_view(user, rows, inactive)


@router.patch("/users/{user_id}", response_model=UserView)
async def update_user(
    user_id: str,
    body: UserUpdate,
    request: Request,
    principal: Principal = Depends(manage_users),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """Change names, `usageLocation` or `accountEnabled` (false blocks sign-in at once)."""
    user = await directory_users.resolve(
        db_session=db_session, tenant_id=principal.tenant.id, key=user_id
    )
    given = body.model_fields_set
    if "display_name" in given and body.display_name is None:
        raise InvalidValue("displayName cannot be empty.", target="displayName")
    if "account_enabled" in given and body.account_enabled is None:
        raise InvalidValue("accountEnabled is true or false.", target="accountEnabled")
    unset = directory_users.UNSET
    await directory_users.update(
        db_session=db_session,
        actor=actor_of(request, principal),
        user=user,
        display_name=body.display_name if "display_name" in given else unset,  # type: ignore[arg-type]
        given_name=body.given_name if "given_name" in given else unset,
        surname=body.surname if "surname" in given else unset,
        usage_location=body.usage_location if "usage_location" in given else unset,
        account_enabled=body.account_enabled if "account_enabled" in given else unset,  # type: ignore[arg-type]
    )
    return user_view(user)


@router.delete("/users/{user_id}", status_code=204)
async def delete_user(
    user_id: str,
    request: Request,
    principal: Principal = Depends(manage_users),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> Response:
    """Delete a user: their licenses return to the pool, their sessions end."""
    user = await directory_users.resolve(
        db_session=db_session, tenant_id=principal.tenant.id, key=user_id
    )
    await flows.delete_user(db_session=db_session, actor=actor_of(request, principal), user=user)
    return Response(status_code=204)


@router.post(
    "/users/{user_id}/resetPassword",
    response_model=PasswordReset,
    dependencies=[Depends(no_store)],
)
async def reset_password(
    user_id: str,
    request: Request,
    principal: Principal = Depends(manage_users),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """A temporary password, shown once; the user must change it at their next sign-in."""
    temporary = passwords.generate()
    password_hash = await passwords.hash_generated(temporary)
    user = await directory_users.resolve(
        db_session=db_session, tenant_id=principal.tenant.id, key=user_id
    )
    await auth_passwords.reset_password(
        db_session=db_session,
        actor=actor_of(request, principal),
        user=user,
        password_hash=password_hash,
    )
    return {"temporaryPassword": temporary, "forceChangePasswordNextSignIn": True}


@router.get("/users/{user_id}/memberOf", response_model=GroupPage)
async def member_of(
    user_id: str,
    principal: Principal = Depends(read_directory),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """The groups a user is a direct member of."""
    user = await directory_users.resolve(
        db_session=db_session, tenant_id=principal.tenant.id, key=user_id
    )
    groups = await directory_groups.groups_of(
        db_session=db_session, tenant_id=principal.tenant.id, user_id=user.id
    )
    return {"value": [group_view(group) for group in groups]}


@router.post("/organization/sendMessage", response_model=OrganizationMessageResult)
async def send_message(
    body: OrganizationMessage,
    request: Request,
    principal: Principal = Depends(manage_users),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """Email every active user of the organization; returns how many messages were sent."""
    count = await flows.write_to_all_users(
        db_session=db_session,
        actor=actor_of(request, principal),
        organization=principal.tenant.display_name,
        sender=principal.user,
        subject=body.subject,
        body=body.body,
    )
    return {"recipients": count}
