"""The admin center's Domains pages (Global Administrators): list, add, verify, default, remove.

They call `domains.service` and `domains.flows` like `/v1/domains`
does. Verification looks the TXT record up between two units of work (read and
release, ask DNS, then write), so no transaction waits on DNS. A record not
found yet is a normal answer shown on the domain's page with a retry button.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tenantry.core.dns import DnsLookupFailed, lookup_txt
from tenantry.core.errors import TenantryError
from tenantry.core.i18n import has_message, translate
from tenantry.dependencies import Principal, actor_of
from tenantry.directory import transfer
from tenantry.domains import flows as domain_flows
from tenantry.domains import names
from tenantry.domains import service as domain_service
from tenantry.domains.exceptions import VerificationRecordNotFound
from tenantry.domains.models import Domain
from tenantry.web.dependencies import (
    Page,
    admin_form,
    admin_page,
    read_unit_of_work,
    text,
    unit_of_work,
)
from tenantry.web.rendering import WebRoute, error_text, settings_of
from tenantry.web.shell import redirect_with_notice, render_admin

router = APIRouter(include_in_schema=False, route_class=WebRoute)

DOMAINS = "/admin/domains"
MAX_DOMAIN_INPUT = 300


def _domain_path(name: str, action: str = "") -> str:
    return f"{DOMAINS}/{quote(name, safe='')}{action}"


def _domain_row(domain: Domain) -> dict[str, Any]:
    return {
        "name": domain.name,
        "display": names.display(domain.name),
        "verified": domain.is_verified,
        "default": domain.is_default,
        "initial": domain.is_initial,
        "root": domain.is_root,
        "path": _domain_path(domain.name),
    }


def _reason(language: str, error: TenantryError, domain: str) -> str:
    """Why a domain action was refused: the Domains page's wording if any, else the error's."""
    key = f"web.domains.error.{error.code}"
    if has_message(key):
        return translate(language, key, domain=domain)
    return error_text(language, error, domain=domain)


# --- domains --------------------------------------------------------------------------------


async def _domains_page(
    request: Request, admin: Principal, *, status_code: int = 200, **context: Any
) -> Response:
    async with read_unit_of_work(request) as db_session:
        domains = await domain_service.get_all(db_session=db_session, tenant_id=admin.tenant.id)
    return render_admin(
        request,
        "domains/domains.html",
        principal=admin,
        section="domains",
        status_code=status_code,
        domains=[_domain_row(d) for d in domains],
        **context,
    )


async def _domain_page(
    request: Request, admin: Principal, name: str, *, status_code: int = 200, **context: Any
) -> Response:
    async with read_unit_of_work(request) as db_session:
        domain = await domain_service.get(
            db_session=db_session, tenant_id=admin.tenant.id, name=name
        )
    return render_admin(
        request,
        "domains/domain.html",
        principal=admin,
        section="domains",
        status_code=status_code,
        domain=_domain_row(domain),
        record=None if domain.is_verified else domain_service.verification_record(domain),
        **context,
    )


@router.get(DOMAINS)
async def domains_page(request: Request, page: Page = Depends(admin_page())) -> Response:
    """The organization's domains, with what can be done to each, and a form to add one."""
    return await _domains_page(request, page.principal)


@router.post(DOMAINS)
async def add_domain(request: Request, page: Page = Depends(admin_form())) -> Response:
    """Add a domain, then show the TXT record that verifies it."""
    entered = text(page.form, "name")[:MAX_DOMAIN_INPUT]
    try:
        async with unit_of_work(request) as db_session:
            domain = await domain_service.add(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                tenant_id=page.principal.tenant.id,
                name=entered,
                initial_suffix=settings_of(request).initial_domain_suffix,
            )
            name, verified = domain.name, domain.is_verified
    except TenantryError as error:
        return await _domains_page(
            request,
            page.principal,
            status_code=error.status_code,
            error=_reason(page.language, error, entered),
            form={"name": entered},
        )
    if verified:  # under a root verified here: nothing to publish
        return redirect_with_notice(
            request, DOMAINS, "web.domains.added_verified", domain=names.display(name)
        )
    return redirect_with_notice(
        request, _domain_path(name), "web.domains.added", domain=names.display(name)
    )


@router.get(DOMAINS + "/{name}")
async def domain_page(name: str, request: Request, page: Page = Depends(admin_page())) -> Response:
    """One domain: its state and, until it is verified, the TXT record to publish."""
    return await _domain_page(request, page.principal, name)


@router.post(DOMAINS + "/{name}/verify")
async def verify_domain(
    name: str, request: Request, page: Page = Depends(admin_form())
) -> Response:
    """Look the TXT record up and verify; an unmanaged organization of the domain moves in."""
    language = page.language
    async with read_unit_of_work(request) as db_session:
        domain = await domain_service.get(
            db_session=db_session, tenant_id=page.principal.tenant.id, name=name
        )
    shown = names.display(domain.name)
    try:
        lookup = await lookup_txt(
            settings_of(request), domain.name, database=request.app.state.database
        )
    except DnsLookupFailed as error:
        return await _domain_page(
            request,
            page.principal,
            domain.name,
            status_code=error.status_code,
            error=error_text(language, error, domain=shown),
        )
    try:
        async with unit_of_work(request) as db_session:
            result = await domain_flows.verify(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                tenant=page.principal.tenant,
                name=domain.name,
                lookup=lookup,
            )
            moved = len(result.moved_users)
            status = result.availability_status
    except VerificationRecordNotFound:
        return await _domain_page(request, page.principal, domain.name, not_found=True)
    except TenantryError as error:
        return await _domain_page(
            request,
            page.principal,
            domain.name,
            status_code=error.status_code,
            error=_reason(language, error, shown),
        )
    if status == domain_flows.TAKEOVER:
        key = "web.domains.taken_over.one" if moved == 1 else "web.domains.taken_over.other"
        return redirect_with_notice(request, DOMAINS, key, domain=shown, count=moved)
    return redirect_with_notice(request, DOMAINS, "web.domains.verified", domain=shown)


@router.post(DOMAINS + "/{name}/default")
async def make_default(name: str, request: Request, page: Page = Depends(admin_form())) -> Response:
    """Make a verified domain the default for new users' addresses."""
    try:
        async with unit_of_work(request) as db_session:
            domain = await domain_service.get(
                db_session=db_session, tenant_id=page.principal.tenant.id, name=name
            )
            await domain_service.set_default(
                db_session=db_session, actor=actor_of(request, page.principal), domain=domain
            )
            shown = names.display(domain.name)
    except TenantryError as error:
        if error.status_code == 404:
            raise
        return await _domains_page(
            request,
            page.principal,
            status_code=error.status_code,
            error=_reason(page.language, error, names.display(name)),
        )
    return redirect_with_notice(request, DOMAINS, "web.domains.now_default", domain=shown)


async def _removal_page(
    request: Request, admin: Principal, name: str, *, status_code: int = 200, **context: Any
) -> Response:
    async with read_unit_of_work(request) as db_session:
        domain = await domain_service.get(
            db_session=db_session, tenant_id=admin.tenant.id, name=name
        )
        domains = await domain_service.get_all(db_session=db_session, tenant_id=admin.tenant.id)
        in_use = await transfer.count_on_domain(
            db_session=db_session, tenant_id=admin.tenant.id, name=domain.name
        )
    initial = next((d for d in domains if d.is_initial), None)
    return render_admin(
        request,
        "domains/domain_remove.html",
        principal=admin,
        section="domains",
        status_code=status_code,
        domain=_domain_row(domain),
        in_use=in_use,
        initial=names.display(initial.name) if initial else "",
        own_account=admin.user.user_principal_name.endswith("@" + domain.name),
        **context,
    )


@router.get(DOMAINS + "/{name}/remove")
async def removal_page(name: str, request: Request, page: Page = Depends(admin_page())) -> Response:
    """Ask before removing a domain; explain the forced removal when people use it."""
    return await _removal_page(request, page.principal, name)


@router.post(DOMAINS + "/{name}/remove")
async def remove_domain(
    name: str, request: Request, page: Page = Depends(admin_form())
) -> Response:
    """Remove the domain; forced, its users move to the initial domain and are disabled."""
    force = text(page.form, "force") == "on"
    try:
        async with unit_of_work(request) as db_session:
            domain = await domain_service.get(
                db_session=db_session, tenant_id=page.principal.tenant.id, name=name
            )
            shown = names.display(domain.name)
            renamed = await domain_service.remove(
                db_session=db_session,
                actor=actor_of(request, page.principal),
                domain=domain,
                force=force,
            )
    except TenantryError as error:
        if error.status_code == 404:
            raise
        return await _removal_page(
            request,
            page.principal,
            name,
            status_code=error.status_code,
            error=_reason(page.language, error, names.display(name)),
            form={"force": force},
        )
    if renamed:
        return redirect_with_notice(
            request, DOMAINS, "web.domains.removed_forced", domain=shown, count=renamed
        )
    return redirect_with_notice(request, DOMAINS, "web.domains.removed", domain=shown)
