"""Subscriptions, subscribedSkus, assignLicense/licenseDetails, entitlements and their tokens.

Who may call what (Global Administrator always may, in a managed tenant):

- buy, change, cancel, reactivate subscriptions: Billing Administrator;
- read subscriptions and subscribedSkus: Billing, License or User Administrator;
- assign and remove licenses: License or User Administrator;
- a user's licenseDetails and entitlements: the user themselves (any tenant,
  managed or not), or a License or User Administrator;
- an entitlement token: the signed-in user, for themselves.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core import idempotency, signing
from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.errors import NotFound
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import (
    Principal,
    actor_of,
    current_principal,
    ensure_role,
    get_catalog,
    get_db,
    get_read_db,
    get_settings,
    no_store,
    require_role,
    resolve_principal,
)
from tenantry.directory import users as directory_users
from tenantry.directory.constants import Role
from tenantry.directory.models import User
from tenantry.directory.schemas import user_view
from tenantry.licensing import assignments as licensing_assignments
from tenantry.licensing import entitlements as licensing_entitlements
from tenantry.licensing import pools as licensing_pools
from tenantry.licensing import purchases, tokens
from tenantry.licensing import subscriptions as licensing_subscriptions
from tenantry.licensing.constants import (
    BUYERS,
    LICENSE_ADMINS,
    SUBSCRIPTION_READERS,
)
from tenantry.licensing.schemas import (
    AssignLicenseRequest,
    CollectionOf,
    EntitlementCheck,
    EntitlementCheckResult,
    EntitlementsView,
    EntitlementTokenView,
    LicenseQuantity,
    SubscribedSkuView,
    SubscriptionCreate,
    SubscriptionUpdate,
    SubscriptionView,
    catalog_sku_view,
    check_view,
    entitlements_view,
    license_details_view,
    license_states_view,
    subscribed_sku_view,
    subscription_view,
)

router = APIRouter(prefix="/v1", tags=["licensing"], responses=ERROR_RESPONSES)
# The entitlement check, included before every other router (routes are tried in order).
hot_router = APIRouter(prefix="/v1", tags=["licensing"], responses=ERROR_RESPONSES)
well_known_router = APIRouter(tags=["licensing"])

# Commit before the response leaves, so that a 2xx means the change is durable and
# the caller's next request sees it (FastAPI's default ends yield dependencies after).
WriteDb = Depends(get_db, scope="function")
IdempotencyKeyHeader = Header(
    None,
    alias=idempotency.HEADER,
    description="A key of your choosing (e.g. a UUID), the same on every retry.",
)


def _subscription_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise NotFound("The subscription does not exist.", target="id") from exc


# --- subscriptions ------------------------------------------------------------------------


@router.post("/subscriptions", status_code=201, response_model=SubscriptionView)
async def purchase(
    body: SubscriptionCreate,
    request: Request,
    idempotency_key: str | None = IdempotencyKeyHeader,
    principal: Principal = Depends(require_role(*BUYERS)),
    db_session: AsyncSession = WriteDb,
    catalog: Catalog = Depends(get_catalog),
) -> JSONResponse:
    """Buy licenses of a SKU. Needs an `Idempotency-Key`: a retry never buys twice."""
    stored = await purchases.purchase(
        db_session=db_session,
        catalog=catalog,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        body=body,
        key=idempotency.key_from_header(idempotency_key),
    )
    return idempotency.response(stored)


@router.get("/subscriptions", response_model=CollectionOf)
async def list_subscriptions(
    principal: Principal = Depends(require_role(*SUBSCRIPTION_READERS)),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """The organization's subscriptions, newest first."""
    subscriptions = await licensing_subscriptions.get_all(
        db_session=db_session, tenant_id=principal.tenant.id
    )
    return {"value": [subscription_view(s) for s in subscriptions]}


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionView)
async def get_subscription(
    subscription_id: str,
    principal: Principal = Depends(require_role(*SUBSCRIPTION_READERS)),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
) -> dict[str, Any]:
    """One subscription."""
    subscription = await licensing_subscriptions.get(
        db_session=db_session,
        tenant_id=principal.tenant.id,
        subscription_id=_subscription_id(subscription_id),
    )
    return subscription_view(subscription)


@router.patch("/subscriptions/{subscription_id}", response_model=SubscriptionView)
async def update_subscription(
    subscription_id: str,
    body: SubscriptionUpdate,
    request: Request,
    principal: Principal = Depends(require_role(*BUYERS)),
    db_session: AsyncSession = WriteDb,
) -> dict[str, Any]:
    """Turn recurring billing (`autoRenew`) on or off."""
    subscription = await licensing_subscriptions.set_auto_renew(
        db_session=db_session,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        subscription_id=_subscription_id(subscription_id),
        auto_renew=body.auto_renew,
    )
    return subscription_view(subscription)


@router.post("/subscriptions/{subscription_id}/addLicenses", response_model=SubscriptionView)
async def add_licenses(
    subscription_id: str,
    body: LicenseQuantity,
    request: Request,
    idempotency_key: str | None = IdempotencyKeyHeader,
    principal: Principal = Depends(require_role(*BUYERS)),
    db_session: AsyncSession = WriteDb,
) -> JSONResponse:
    """Buy more licenses on a subscription. Needs an `Idempotency-Key`."""
    key = idempotency.key_from_header(idempotency_key)
    stored = await purchases.add_licenses(
        db_session=db_session,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        subscription_id=_subscription_id(subscription_id),
        body=body,
        key=key,
    )
    return idempotency.response(stored)


@router.post("/subscriptions/{subscription_id}/removeLicenses", response_model=SubscriptionView)
async def remove_licenses(
    subscription_id: str,
    body: LicenseQuantity,
    request: Request,
    idempotency_key: str | None = IdempotencyKeyHeader,
    principal: Principal = Depends(require_role(*BUYERS)),
    db_session: AsyncSession = WriteDb,
) -> JSONResponse:
    """Remove licenses, never below those assigned (409 `licensesInUse`). Key optional."""
    key = idempotency.key_from_header(idempotency_key, required=False)
    stored = await purchases.remove_licenses(
        db_session=db_session,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        subscription_id=_subscription_id(subscription_id),
        body=body,
        key=key,
    )
    return idempotency.response(stored)


@router.post("/subscriptions/{subscription_id}/cancel", response_model=SubscriptionView)
async def cancel_subscription(
    subscription_id: str,
    request: Request,
    principal: Principal = Depends(require_role(*BUYERS)),
    db_session: AsyncSession = WriteDb,
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Cancel: Suspended at once (users lose access), deleted after the SKU's suspendedDays."""
    subscription = await licensing_subscriptions.cancel(
        db_session=db_session,
        catalog=catalog,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        subscription_id=_subscription_id(subscription_id),
    )
    return subscription_view(subscription)


@router.post("/subscriptions/{subscription_id}/reactivate", response_model=SubscriptionView)
async def reactivate_subscription(
    subscription_id: str,
    request: Request,
    principal: Principal = Depends(require_role(*BUYERS)),
    db_session: AsyncSession = WriteDb,
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Reactivate an expired (Warning) or Suspended subscription for a new term."""
    subscription = await licensing_subscriptions.reactivate(
        db_session=db_session,
        catalog=catalog,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        subscription_id=_subscription_id(subscription_id),
    )
    return subscription_view(subscription)


@router.get("/catalog/skus", response_model=CollectionOf)
async def catalog_skus(
    _principal: Principal = Depends(current_principal),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """The products this server sells (`POST /v1/subscriptions` takes their
    `skuPartNumber`), by display name: service plans and entitlements."""
    skus = sorted(catalog.skus.values(), key=lambda sku: sku.display_name)
    return {"value": [catalog_sku_view(sku) for sku in skus]}


@router.get("/subscribedSkus", response_model=CollectionOf)
async def subscribed_skus(
    principal: Principal = Depends(require_role(*SUBSCRIPTION_READERS)),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """The organization's SKUs: prepaid units by state, consumed units, service plans."""
    pools = await licensing_pools.get_pools(db_session=db_session, tenant_id=principal.tenant.id)
    return {"value": [subscribed_sku_view(pool, catalog) for pool in pools]}


@router.get("/subscribedSkus/{subscribed_sku_id}", response_model=SubscribedSkuView)
async def subscribed_sku(
    subscribed_sku_id: str,
    principal: Principal = Depends(require_role(*SUBSCRIPTION_READERS)),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """One subscribed SKU, by its id (`{tenantId}_{skuId}`) or its skuId."""
    tenant_part, _, sku_part = subscribed_sku_id.rpartition("_")
    try:
        sku_id = uuid.UUID(sku_part)
        # An id naming another tenant (or none) is no SKU of the caller's.
        if tenant_part and uuid.UUID(tenant_part) != principal.tenant.id:
            sku_id = None
    except ValueError:
        sku_id = None
    pool = (
        await licensing_pools.get_pool(
            db_session=db_session, tenant_id=principal.tenant.id, sku_id=sku_id
        )
        if sku_id
        else None
    )
    if pool is None:
        raise NotFound("The organization has no such SKU.", target="id")
    return subscribed_sku_view(pool, catalog)


# --- licenses of a user -------------------------------------------------------------------


async def _target_user(
    principal: Principal,
    db_session: AsyncSession,
    user_ref: str,
    *roles: Role,
) -> User:
    """The caller themselves, or (for an admin holding one of `roles`) a user of their tenant."""
    me = principal.user
    if user_ref.lower() == str(me.id) or (
        directory_users.principal_name_key(user_ref) == me.user_principal_name
    ):
        return me
    ensure_role(principal, *roles)
    return await directory_users.resolve(
        db_session=db_session, tenant_id=principal.tenant.id, key=user_ref
    )


@router.post("/users/{user_ref}/assignLicense")
async def assign_license(
    user_ref: str,
    body: AssignLicenseRequest,
    request: Request,
    principal: Principal = Depends(require_role(*LICENSE_ADMINS)),
    db_session: AsyncSession = WriteDb,
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Add and remove licenses of a user, all or nothing; 200 with the user."""
    user = await directory_users.resolve(
        db_session=db_session, tenant_id=principal.tenant.id, key=user_ref
    )
    await licensing_assignments.change_licenses(
        db_session=db_session,
        catalog=catalog,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        user=user,
        add=[(item.sku_id, item.disabled_plans) for item in body.add_licenses],
        remove=body.remove_licenses,
    )
    rows = await licensing_assignments.assignments_of(db_session=db_session, user_id=user.id)
    return user_view(user) | license_states_view(rows)


async def _license_details(
    db_session: AsyncSession, catalog: Catalog, user: User
) -> dict[str, Any]:
    details = await licensing_assignments.license_details_of(
        db_session=db_session, catalog=catalog, user_id=user.id
    )
    return {"value": [license_details_view(user.id, detail) for detail in details]}


@router.get("/users/{user_ref}/licenseDetails", response_model=CollectionOf)
async def user_license_details(
    user_ref: str,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """The licenses a user holds, with each service plan's provisioning status."""
    user = await _target_user(principal, db_session, user_ref, *LICENSE_ADMINS)
    return await _license_details(db_session, catalog, user)


@router.get("/me/licenseDetails", response_model=CollectionOf)
async def my_license_details(
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """The signed-in user's licenses."""
    return await _license_details(db_session, catalog, principal.user)


# --- entitlements -------------------------------------------------------------------------


@router.get("/users/{user_ref}/entitlements", response_model=EntitlementsView)
async def user_entitlements(
    user_ref: str,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """A user's effective named limits and enabled service plans, from offers and licenses."""
    user = await _target_user(principal, db_session, user_ref, *LICENSE_ADMINS)
    found = await licensing_entitlements.entitlements_of(
        db_session=db_session, catalog=catalog, user_id=user.id, with_changes=True
    )
    return entitlements_view(user.id, found)


@router.get("/me/entitlements", response_model=EntitlementsView)
async def my_entitlements(
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """The signed-in user's entitlements."""
    found = await licensing_entitlements.entitlements_of(
        db_session=db_session, catalog=catalog, user_id=principal.user.id, with_changes=True
    )
    return entitlements_view(principal.user.id, found)


def _check_result(
    found: licensing_entitlements.Entitlements, body: EntitlementCheck
) -> JSONResponse:
    return JSONResponse(check_view(found, body))


async def _checked(request: Request, body: EntitlementCheck, user_ref: str | None) -> JSONResponse:
    """A check `hot.HotEntitlementChecks` left to the route: another user, or the full rules
    and errors (no token, an expired one, a disabled account…)."""
    catalog: Catalog = request.app.state.catalog
    principal = await resolve_principal(request)
    database: Database = request.app.state.database
    async with database.unit_of_work(readonly=True) as db_session:
        user = (
            principal.user
            if user_ref is None
            else await _target_user(principal, db_session, user_ref, *LICENSE_ADMINS)
        )
        found = await licensing_entitlements.entitlements_of(
            db_session=db_session, catalog=catalog, user_id=user.id
        )
    return _check_result(found, body)


# The body is read by hand: FastAPI's body-parameter machinery costs more than the
# whole hot path. `openapi_extra` keeps the request documented.
CHECK_BODY_DOCS = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": EntitlementCheck.model_json_schema(by_alias=True)}
        },
    }
}


async def _check_body(request: Request) -> EntitlementCheck:
    try:
        return EntitlementCheck.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from None


@hot_router.post(
    "/users/{user_ref}/entitlements/check",
    response_model=EntitlementCheckResult,
    openapi_extra=CHECK_BODY_DOCS,
)
async def check_user_entitlement(user_ref: str, request: Request) -> JSONResponse:
    """May the user use `value` of `name`? `{allowed, limit}` (limit null: no such entitlement).

    The user themselves (their bearer token), or a License or User Administrator.
    """
    return await _checked(request, await _check_body(request), user_ref)


@hot_router.post(
    "/me/entitlements/check", response_model=EntitlementCheckResult, openapi_extra=CHECK_BODY_DOCS
)
async def check_my_entitlement(request: Request) -> JSONResponse:
    """May the signed-in user use `value` of `name`?"""
    return await _checked(request, await _check_body(request), None)


@router.post(
    "/me/entitlementToken", response_model=EntitlementTokenView, dependencies=[Depends(no_store)]
)
async def entitlement_token(
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """A short-lived signed token of the caller's entitlements, verifiable offline (JWKS)."""
    found = await licensing_entitlements.entitlements_of(
        db_session=db_session, catalog=catalog, user_id=principal.user.id
    )
    token = tokens.issue(
        key=signing.signing_key(settings),
        issuer=settings.base_url,
        user_id=principal.user.id,
        tenant_id=principal.tenant.id,
        limits=found.limits,
        service_plans=found.service_plans,
        skus=found.sources,
        now=clock.now(),
        ttl_seconds=settings.entitlement_token_ttl_seconds,
    )
    return {
        "token": token,
        "tokenType": "JWT",
        "expiresIn": settings.entitlement_token_ttl_seconds,
        "jwksUri": f"{settings.base_url.rstrip('/')}/.well-known/jwks.json",
    }


@well_known_router.get("/.well-known/jwks.json")
async def jwks(settings: Settings = Depends(get_settings)) -> JSONResponse:
    """The public keys that sign entitlement tokens (RFC 7517)."""
    return JSONResponse(signing.jwks(settings), headers={"Cache-Control": "public, max-age=3600"})
