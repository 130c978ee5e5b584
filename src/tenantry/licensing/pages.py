"""The admin center's Billing page: license pools, subscriptions with their lifecycle, purchases.

Reading takes Billing, License or User Administrator and changing takes Billing
Administrator, as `/v1/subscriptions` does. A purchase (and buying more
licenses) carries a hidden idempotency key made when the form is rendered and
goes through `licensing.purchases` as the API does (its scope, its answer), so a
double submit, or a retry through the API with the same key and body, buys once.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tenantry.catalog import Catalog
from tenantry.core import idempotency
from tenantry.core.errors import TenantryError
from tenantry.core.i18n import translate
from tenantry.dependencies import Principal, actor_of, parse_id
from tenantry.licensing import pools as licensing_pools
from tenantry.licensing import purchases
from tenantry.licensing import subscriptions as licensing_subscriptions
from tenantry.licensing.constants import (
    BUYERS,
    SUBSCRIPTION_READERS,
)
from tenantry.licensing.models import DELETED, ENABLED, SUSPENDED, WARNING, Subscription
from tenantry.licensing.schemas import LicenseQuantity, SubscriptionCreate
from tenantry.web.admin_views import BILLING, format_date, pool_view
from tenantry.web.dependencies import (
    Page,
    admin_form,
    admin_page,
    read_unit_of_work,
    text,
    unit_of_work,
)
from tenantry.web.rendering import WebRoute, language_of
from tenantry.web.shell import (
    held_roles,
    may,
    reason,
    redirect_with_notice,
    render_admin,
)

router = APIRouter(include_in_schema=False, route_class=WebRoute)


def _catalog(request: Request) -> Catalog:
    return request.app.state.catalog


def _new_key() -> str:
    return str(uuid.uuid4())


def _lifecycle(subscription: Subscription) -> str | None:
    """What happens next to the subscription (`web.billing.next.*`), shown with its date."""
    if subscription.next_lifecycle_at is None or subscription.status == DELETED:
        return None
    if subscription.status == ENABLED:
        return "renews" if subscription.auto_renew else "expires"
    return {WARNING: "suspends", SUSPENDED: "deleted"}.get(subscription.status)


def _subscription_row(
    language: str, subscription: Subscription, catalog: Catalog
) -> dict[str, Any]:
    sku = catalog.sku_by_id(subscription.sku_id)
    return {
        "id": str(subscription.id),
        "path": f"{BILLING}/subscriptions/{subscription.id}",
        "name": sku.display_name if sku else subscription.sku_part_number,
        "part_number": subscription.sku_part_number,
        "status": subscription.status,
        "quantity": subscription.quantity,
        "auto_renew": subscription.auto_renew,
        "created": format_date(language, subscription.created_at),
        "status_changed": format_date(language, subscription.status_changed_at),
        "next": _lifecycle(subscription),
        "next_at": format_date(language, subscription.next_lifecycle_at),
        "add_key": _new_key(),
    }


async def _billing_page(
    request: Request, admin: Principal, *, status_code: int = 200, **context: Any
) -> Response:
    catalog = _catalog(request)
    language = language_of(request)
    async with read_unit_of_work(request) as db_session:
        pools = await licensing_pools.get_pools(db_session=db_session, tenant_id=admin.tenant.id)
        subscriptions = await licensing_subscriptions.get_all(
            db_session=db_session, tenant_id=admin.tenant.id
        )
    held = await held_roles(request, admin)
    form = {"sku": "", "quantity": "1", "idempotency_key": _new_key()}
    form.update(context.pop("form", {}))
    # Live subscriptions first (newest first within), deleted ones at the end for the record.
    ordered = sorted(subscriptions, key=lambda s: s.status == DELETED)
    return render_admin(
        request,
        "licensing/billing.html",
        principal=admin,
        section="billing",
        status_code=status_code,
        pools=[pool_view(pool, catalog) for pool in pools],
        subscriptions=[_subscription_row(language, s, catalog) for s in ordered],
        products=[
            {"part_number": sku.part_number, "name": sku.display_name}
            for sku in sorted(catalog.skus.values(), key=lambda sku: sku.display_name)
        ],
        form=form,
        can_buy=may(held, *BUYERS),
        **context,
    )


@router.get(BILLING)
async def billing_page(
    request: Request, page: Page = Depends(admin_page(*SUBSCRIPTION_READERS))
) -> Response:
    """Licenses by product (bought, assigned, free), the subscriptions and the purchase form."""
    return await _billing_page(request, page.principal)


def _quantity(form_value: str) -> int | None:
    try:
        return int(form_value)
    except ValueError:
        return None


@router.post(BILLING)
async def buy(request: Request, page: Page = Depends(admin_form(*BUYERS))) -> Response:
    """Buy a subscription; the rendered form's key makes a double submit buy once."""
    language = page.language
    entered = {
        "sku": text(page.form, "sku")[:64],
        "quantity": text(page.form, "quantity")[:12],
        "idempotency_key": text(page.form, "idempotency_key")[: idempotency.MAX_KEY_LENGTH],
    }
    try:
        body = SubscriptionCreate(
            sku_part_number=entered["sku"], quantity=_quantity(entered["quantity"]) or 0
        )
    except ValidationError:
        return await _billing_page(
            request,
            page.principal,
            status_code=400,
            form=entered,
            error=translate(language, "web.billing.buy.invalid"),
        )
    catalog = _catalog(request)
    try:
        async with unit_of_work(request) as db_session:
            await purchases.purchase(
                db_session=db_session,
                catalog=catalog,
                actor=actor_of(request, page.principal),
                tenant_id=page.principal.tenant.id,
                body=body,
                key=idempotency.key_from_header(entered["idempotency_key"], required=False),
            )
    except TenantryError as error:
        return await _billing_page(
            request,
            page.principal,
            status_code=error.status_code,
            form=entered,
            error=reason(language, error),
        )
    sku = catalog.sku(body.sku_part_number)
    return redirect_with_notice(
        request,
        BILLING,
        "web.billing.bought",
        quantity=body.quantity,
        sku=sku.display_name if sku else body.sku_part_number,
    )


async def _change(request: Request, page: Page, subscription_id: str, change: str) -> Response:
    """Add or remove licenses, turn recurring billing on or off, or reactivate."""
    language = page.language
    catalog = _catalog(request)
    target = parse_id(subscription_id, what="subscription")
    actor = actor_of(request, page.principal)
    quantity = _quantity(text(page.form, "quantity")[:12])
    if change in ("add", "remove"):
        try:
            body = LicenseQuantity(quantity=quantity or 0)
        except ValidationError:
            return await _billing_page(
                request,
                page.principal,
                status_code=400,
                error=translate(language, "web.billing.quantity_invalid"),
            )
    params: dict[str, Any] = {}
    try:
        async with unit_of_work(request) as db_session:
            subscription = await licensing_subscriptions.get(
                db_session=db_session, tenant_id=page.principal.tenant.id, subscription_id=target
            )
            sku = catalog.sku_by_id(subscription.sku_id)
            params["sku"] = sku.display_name if sku else subscription.sku_part_number
            if change == "add":
                key = text(page.form, "idempotency_key")[: idempotency.MAX_KEY_LENGTH]
                await purchases.add_licenses(
                    db_session=db_session,
                    actor=actor,
                    tenant_id=page.principal.tenant.id,
                    subscription_id=target,
                    body=body,
                    key=idempotency.key_from_header(key, required=False),
                )
                notice, params["quantity"] = "web.billing.added", body.quantity
            elif change == "remove":
                await licensing_subscriptions.remove_licenses(
                    db_session=db_session,
                    actor=actor,
                    tenant_id=page.principal.tenant.id,
                    subscription_id=target,
                    quantity=body.quantity,
                )
                notice, params["quantity"] = "web.billing.removed", body.quantity
            elif change == "renew":
                auto_renew = text(page.form, "auto_renew") == "true"
                await licensing_subscriptions.set_auto_renew(
                    db_session=db_session,
                    actor=actor,
                    tenant_id=page.principal.tenant.id,
                    subscription_id=target,
                    auto_renew=auto_renew,
                )
                notice = "web.billing.renew_on" if auto_renew else "web.billing.renew_off"
            else:
                await licensing_subscriptions.reactivate(
                    db_session=db_session,
                    catalog=catalog,
                    actor=actor,
                    tenant_id=page.principal.tenant.id,
                    subscription_id=target,
                )
                notice = "web.billing.reactivated"
    except TenantryError as error:
        if error.status_code == 404:
            raise
        return await _billing_page(
            request,
            page.principal,
            status_code=error.status_code,
            error=reason(language, error, **params),
            failed=subscription_id,
        )
    return redirect_with_notice(request, BILLING, notice, **params)


@router.post(BILLING + "/subscriptions/{subscription_id}/add")
async def add_licenses(
    subscription_id: str, request: Request, page: Page = Depends(admin_form(*BUYERS))
) -> Response:
    """Buy more licenses on an active subscription (a double submit buys once)."""
    return await _change(request, page, subscription_id, "add")


@router.post(BILLING + "/subscriptions/{subscription_id}/remove")
async def remove_licenses(
    subscription_id: str, request: Request, page: Page = Depends(admin_form(*BUYERS))
) -> Response:
    """Remove licenses, never below those assigned (the refusal says how many are in use)."""
    return await _change(request, page, subscription_id, "remove")


@router.post(BILLING + "/subscriptions/{subscription_id}/renew")
async def set_auto_renew(
    subscription_id: str, request: Request, page: Page = Depends(admin_form(*BUYERS))
) -> Response:
    """Turn recurring billing on or off."""
    return await _change(request, page, subscription_id, "renew")


@router.post(BILLING + "/subscriptions/{subscription_id}/reactivate")
async def reactivate(
    subscription_id: str, request: Request, page: Page = Depends(admin_form(*BUYERS))
) -> Response:
    """Bring an expired or suspended subscription back for a new term."""
    return await _change(request, page, subscription_id, "reactivate")
