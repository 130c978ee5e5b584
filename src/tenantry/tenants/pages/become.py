"""The "Become the admin" wizard pages: seed 002's four steps over `tenants.flows`.

`GET /admin/become` always shows where the candidate stopped (`flows.get_state`):
step 2 until the wizard is started, step 3 (the TXT record) until the record is
found, step 4 (buy licenses) after. Every form posts, then redirects back to it.
The DNS lookup runs between two units of work, never inside a transaction: the
state is read and released, DNS is asked, then the change is written.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tenantry.catalog import Catalog, Sku
from tenantry.core import idempotency
from tenantry.core.dns import DnsLookupFailed, lookup_txt
from tenantry.core.errors import TenantryError
from tenantry.core.i18n import has_message, translate
from tenantry.dependencies import Principal, actor_of
from tenantry.directory import roles as directory_roles
from tenantry.directory.constants import Role
from tenantry.domains import names
from tenantry.domains import service as domain_service
from tenantry.domains.exceptions import VerificationRecordNotFound
from tenantry.licensing import pools as licensing_pools
from tenantry.tenants import flows
from tenantry.tenants.exceptions import (
    BecomeAdminNotStarted,
    DomainVerificationRequired,
    TenantAlreadyManaged,
)
from tenantry.tenants.models import MANAGED, UNMANAGED
from tenantry.tenants.schemas import BecomeAdminComplete, organization_view
from tenantry.web.dependencies import (
    Page,
    read_unit_of_work,
    signed_in_form,
    signed_in_page,
    text,
    unit_of_work,
)
from tenantry.web.rendering import WebRoute, error_text, language_of, settings_of
from tenantry.web.shell import (
    redirect_with_notice,
    render_with_notice,
    see_other,
)

router = APIRouter(include_in_schema=False, route_class=WebRoute)

WIZARD = "/admin/become"
DONE = "/admin/become/done"


def _catalog(request: Request) -> Catalog:
    return request.app.state.catalog


async def _is_global_admin(request: Request, principal: Principal) -> bool:
    async with read_unit_of_work(request) as db_session:
        held = await directory_roles.roles_of(
            db_session=db_session, tenant_id=principal.tenant.id, user_id=principal.user.id
        )
    return Role.GLOBAL_ADMINISTRATOR.value in held


async def _current_state(request: Request, principal: Principal) -> flows.WizardState | None:
    """Where the candidate stopped; None before step 2."""
    async with read_unit_of_work(request) as db_session:
        try:
            return await flows.get_state(
                db_session=db_session,
                catalog=_catalog(request),
                user=principal.user,
                tenant=principal.tenant,
            )
        except BecomeAdminNotStarted:
            return None


def _offers(language: str, skus: list[Sku]) -> list[dict[str, Any]]:
    """The plans to choose from, with their service plans in the page language."""
    return [
        {
            "part_number": sku.part_number,
            "display_name": sku.display_name,
            "plans": [
                translate(language, key)
                if has_message(key := f"web.plan.{plan.name}")
                else plan.name
                for plan in sku.service_plans
            ],
        }
        for sku in skus
    ]


def _purchase_form(state: flows.WizardState, entered: dict[str, str] | None) -> dict[str, str]:
    """Step 4's fields: what was entered, else the first plan and the minimum quantity."""
    offers = [sku.part_number for sku in state.offers]
    form = {
        "sku": offers[0] if offers else "",
        "quantity": str(state.minimum_licenses),
        "country": "",
        "idempotency_key": str(uuid.uuid4()),  # a new purchase per rendered form
    }
    for name, value in (entered or {}).items():
        if value:
            form[name] = value
    return form


def _wizard_page(
    request: Request,
    principal: Principal,
    state: flows.WizardState | None,
    *,
    entry: str | None = None,
    domain: str = "",
    status_code: int = 200,
    entered: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """The wizard at the candidate's current step."""
    if state is None:
        chosen = entry if entry in flows.ENTRY_POINTS else "admin"
        return render_with_notice(
            request,
            "tenants/become.html",
            principal=principal,
            status_code=status_code,
            step=2,
            entry=chosen,
            offers=_offers(language_of(request), flows.offers_for(_catalog(request), chosen)),
            domain=domain,
            **context,
        )
    view = state.view()
    step = 4 if state.claim.status == flows.VERIFIED else 3
    switch_to = entry if entry in flows.ENTRY_POINTS and entry != state.claim.entry_point else None
    return render_with_notice(
        request,
        "tenants/become.html",
        principal=principal,
        status_code=status_code,
        step=step,
        entry=state.claim.entry_point,
        switch_to=switch_to,
        offers=_offers(language_of(request), state.offers),
        domain=names.display(state.domain.name),
        record=view["verificationDnsRecords"][0],
        minimum=state.minimum_licenses,
        form=_purchase_form(state, entered),
        **context,
    )


async def _already_managed(request: Request, principal: Principal) -> Response:
    """The organization has an admin: the wizard says so and offers nothing."""
    if await _is_global_admin(request, principal):
        return see_other(DONE)
    async with read_unit_of_work(request) as db_session:
        holders = await directory_roles.role_members(
            db_session=db_session, tenant_id=principal.tenant.id
        )
    admins = [
        {"name": user.display_name, "email": user.user_principal_name}
        for user in holders.get(Role.GLOBAL_ADMINISTRATOR, [])
    ]
    return render_with_notice(
        request, "tenants/become.html", principal=principal, step=None, managed=True, admins=admins
    )


@router.get(WIZARD)
async def wizard(
    request: Request,
    entry: str | None = None,
    page: Page = Depends(signed_in_page()),
) -> Response:
    """The wizard where the candidate stopped; `?entry=upgrade` offers the upgrade plans."""
    if page.principal.tenant.state != UNMANAGED:
        return await _already_managed(request, page.principal)
    state = await _current_state(request, page.principal)
    domain = ""
    if state is None:
        async with read_unit_of_work(request) as db_session:
            domains = await domain_service.get_all(
                db_session=db_session, tenant_id=page.principal.tenant.id
            )
        domain = next((names.display(d.name) for d in domains if d.is_viral), "")
    return _wizard_page(request, page.principal, state, entry=entry, domain=domain)


@router.post(WIZARD)
async def start(request: Request, page: Page = Depends(signed_in_form())) -> Response:
    """Step 2, "Yes, I want to be the admin": open the wizard (or switch its entry point)."""
    try:
        async with unit_of_work(request) as db_session:
            await flows.start(
                db_session=db_session,
                catalog=_catalog(request),
                actor=actor_of(request, page.principal),
                user=page.principal.user,
                tenant=page.principal.tenant,
                entry_point=text(page.form, "entry") or "admin",
            )
    except TenantAlreadyManaged:
        return see_other(WIZARD)
    return see_other(WIZARD)


@router.post(WIZARD + "/verify")
async def verify(request: Request, page: Page = Depends(signed_in_form())) -> Response:
    """Step 3, "I've added the record": look it up in DNS; not found yet is a normal answer."""
    if page.principal.tenant.state != UNMANAGED:
        return see_other(WIZARD)
    state = await _current_state(request, page.principal)
    if state is None:
        return see_other(WIZARD)
    language = page.language
    try:
        lookup = await lookup_txt(
            settings_of(request), state.domain.name, database=request.app.state.database
        )
    except DnsLookupFailed as error:
        return _wizard_page(
            request,
            page.principal,
            state,
            status_code=error.status_code,
            error=error_text(language, error, domain=names.display(state.domain.name)),
        )
    try:
        async with unit_of_work(request) as db_session:
            await flows.verify(
                db_session=db_session,
                catalog=_catalog(request),
                actor=actor_of(request, page.principal),
                user=page.principal.user,
                tenant=page.principal.tenant,
                lookup=lookup,
            )
    except VerificationRecordNotFound:
        # Not an error: DNS takes time. The same step again, saying so, with a retry button.
        return _wizard_page(request, page.principal, state, not_found=True)
    except (TenantAlreadyManaged, BecomeAdminNotStarted):
        return see_other(WIZARD)
    return redirect_with_notice(
        request, WIZARD, "web.become.found", domain=names.display(state.domain.name)
    )


@router.post(WIZARD + "/complete")
async def complete(request: Request, page: Page = Depends(signed_in_form())) -> Response:
    """Step 4: buy the licenses. The form's idempotency key makes a double submit buy once."""
    language = page.language
    entered = {
        "sku": text(page.form, "sku")[:64],
        "quantity": text(page.form, "quantity")[:12],
        "country": text(page.form, "country")[:2].upper(),
        "idempotency_key": text(page.form, "idempotency_key")[: idempotency.MAX_KEY_LENGTH],
    }
    try:
        body = BecomeAdminComplete(
            sku_part_number=entered["sku"],
            quantity=int(entered["quantity"]),
            country_letter_code=entered["country"] or None,
        )
    except (ValueError, ValidationError):
        state = await _current_state(request, page.principal)
        if state is None or page.principal.tenant.state != UNMANAGED:
            return see_other(WIZARD)
        return _wizard_page(
            request,
            page.principal,
            state,
            status_code=400,
            entered=entered,
            error=translate(
                language, "web.become.purchase_invalid", minimum=state.minimum_licenses
            ),
        )
    catalog = _catalog(request)
    actor = actor_of(request, page.principal)

    async def buy() -> tuple[int, dict[str, Any]]:
        tenant = await flows.complete(
            db_session=db_session,
            catalog=catalog,
            actor=actor,
            user=page.principal.user,
            tenant_id=page.principal.tenant.id,
            sku_part_number=body.sku_part_number,
            quantity=body.quantity,
            country_letter_code=body.country_letter_code,
        )
        domains = await domain_service.get_all(db_session=db_session, tenant_id=tenant.id)
        return 200, organization_view(tenant, domains)

    try:
        async with unit_of_work(request) as db_session:
            await idempotency.run_once(
                db_session=db_session,
                tenant_id=page.principal.tenant.id,
                # The API's scope: a retry through the API or the page answers alike.
                scope=flows.completion_scope(page.principal.user.id),
                key=idempotency.key_from_header(entered["idempotency_key"], required=False),
                fingerprint=idempotency.fingerprint(body.model_dump(mode="json")),
                action=buy,
            )
    except (TenantAlreadyManaged, BecomeAdminNotStarted, DomainVerificationRequired):
        return see_other(WIZARD)
    except TenantryError as error:
        state = await _current_state(request, page.principal)
        if state is None:
            return see_other(WIZARD)
        return _wizard_page(
            request,
            page.principal,
            state,
            status_code=error.status_code,
            entered=entered,
            error=error_text(language, error),
        )
    return see_other(DONE)


@router.get(DONE)
async def done(request: Request, page: Page = Depends(signed_in_page())) -> Response:
    """The end of the wizard: the organization is managed and the person its admin."""
    if page.principal.tenant.state != MANAGED or not await _is_global_admin(
        request, page.principal
    ):
        return see_other(WIZARD)
    catalog = _catalog(request)
    async with read_unit_of_work(request) as db_session:
        domains = await domain_service.get_all(
            db_session=db_session, tenant_id=page.principal.tenant.id
        )
        pools = await licensing_pools.get_pools(
            db_session=db_session, tenant_id=page.principal.tenant.id
        )
    licenses = [
        {
            "name": sku.display_name if (sku := catalog.sku(pool.sku_part_number)) else "",
            "part_number": pool.sku_part_number,
            "total": pool.enabled_units + pool.warning_units,
            "assigned": pool.consumed_units,
        }
        for pool in pools
    ]
    verified = [names.display(d.name) for d in domains if d.is_verified and not d.is_initial]
    return render_with_notice(
        request,
        "tenants/become_done.html",
        principal=page.principal,
        licenses=licenses,
        verified_domains=verified,
    )
