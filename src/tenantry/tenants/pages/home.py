"""The organization's two homes: the page its people land on, and the admin center's."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tenantry.catalog import Catalog
from tenantry.core.i18n import format_date, translate
from tenantry.dependencies import Principal, web_principal
from tenantry.directory import roles as directory_roles
from tenantry.directory import users as directory_users
from tenantry.directory.constants import DIRECTORY_READERS, GROUP_MANAGERS, USER_MANAGERS, Role
from tenantry.domains import names
from tenantry.domains import service as domain_service
from tenantry.licensing import entitlements as licensing_entitlements
from tenantry.licensing import overview
from tenantry.licensing import pools as licensing_pools
from tenantry.licensing import subscriptions as licensing_subscriptions
from tenantry.licensing.constants import BUYERS, SUBSCRIPTION_READERS
from tenantry.licensing.models import DELETED, SUSPENDED, WARNING
from tenantry.licensing.schemas import limit_label, limit_text
from tenantry.tenants.models import MANAGED
from tenantry.web.admin_views import pool_view, sku_name, user_row
from tenantry.web.dependencies import Page, admin_page, read_unit_of_work
from tenantry.web.rendering import WebRoute, language_of, render
from tenantry.web.shell import held_roles, may, render_admin, render_with_notice

router = APIRouter(include_in_schema=False, route_class=WebRoute)


# --- the person's home -----------------------------------------------------------------


@router.get("/")
async def home(request: Request, principal: Principal | None = Depends(web_principal)) -> Response:
    """The signed-in person and their organization; a welcome page for everyone else."""
    if principal is None:
        return render(request, "tenants/welcome.html")
    catalog: Catalog = request.app.state.catalog
    language = language_of(request)
    async with read_unit_of_work(request) as db_session:
        entitlements = await licensing_entitlements.entitlements_of(
            db_session=db_session, catalog=catalog, user_id=principal.user.id, with_changes=True
        )
        domains = await domain_service.get_all(db_session=db_session, tenant_id=principal.tenant.id)
        roles = await directory_roles.roles_of(
            db_session=db_session, tenant_id=principal.tenant.id, user_id=principal.user.id
        )

    coming = {change.name: change for change in entitlements.changes}
    limits = [
        {
            "name": name,
            "label": limit_label(language, name),
            "value": limit_text(language, value),
            "change": translate(
                language,
                "web.home.entitlement_change",
                value=limit_text(language, coming[name].value),
                date=format_date(language, coming[name].effective_at),
            )
            if name in coming
            else None,
        }
        for name, value in entitlements.limits.items()
    ]
    offers = [
        offer.display_name
        for offer in (catalog.offer(part) for part in entitlements.sources)
        if offer is not None
    ]
    return render_with_notice(
        request,
        "tenants/home.html",
        principal=principal,
        limits=limits,
        offers=offers,
        domains=[
            {"name": names.display(d.name), "initial": d.is_initial, "verified": d.is_verified}
            for d in sorted(domains, key=lambda d: d.is_initial)  # its own domain first
        ],
        managed=principal.tenant.state == MANAGED,
        is_admin=Role.GLOBAL_ADMINISTRATOR.value in roles,
    )


# --- the admin center's home ---------------------------------------------------------------


@router.get("/admin")
async def admin_home(
    request: Request, page: Page = Depends(admin_page(*DIRECTORY_READERS))
) -> Response:
    """The admin center's home: licenses bought and used, what needs attention, quick links.

    Any admin role enters; the licenses and alerts are shown to those who may read
    subscriptions (`GET /v1/subscribedSkus`).
    """
    catalog: Catalog = request.app.state.catalog
    held = await held_roles(request, page.principal)
    sees_licenses = may(held, *SUBSCRIPTION_READERS)
    async with read_unit_of_work(request) as db_session:
        domains = await domain_service.get_all(
            db_session=db_session, tenant_id=page.principal.tenant.id
        )
        people = await directory_users.count_members(
            db_session=db_session, tenant_id=page.principal.tenant.id
        )
        pools, subscriptions, problems, in_error = [], [], [], []
        if sees_licenses:
            pools = await licensing_pools.get_pools(
                db_session=db_session, tenant_id=page.principal.tenant.id
            )
            subscriptions = await licensing_subscriptions.get_all(
                db_session=db_session, tenant_id=page.principal.tenant.id
            )
            problems = await overview.problems(
                db_session=db_session, tenant_id=page.principal.tenant.id
            )
            in_error = await overview.users_with_problems(
                db_session=db_session, tenant_id=page.principal.tenant.id
            )
    licenses = [
        view for view in (pool_view(p, catalog) for p in pools) if view["status"] != DELETED
    ]
    default = next((d for d in domains if d.is_default), None)
    return render_admin(
        request,
        "tenants/admin_home.html",
        principal=page.principal,
        section="home",
        licenses=licenses,
        sees_licenses=sees_licenses,
        lapsing=[
            {
                "name": sku_name(catalog, s.sku_id),
                "status": s.status,
                "quantity": s.quantity,
                "until": format_date(page.language, s.next_lifecycle_at),
            }
            for s in subscriptions
            if s.status in (WARNING, SUSPENDED)
        ],
        problems=[
            {
                "name": sku_name(catalog, problem.sku_id),
                "error": problem.error,
                "users": problem.users,
            }
            for problem in problems
        ],
        in_error=[user_row(user) for user in in_error],
        full=[view for view in licenses if view["total"] and not view["available"]],
        people=people,
        roles=[translate(page.language, f"web.role.{role}") for role in sorted(held)],
        default_domain=names.display(default.name) if default else "",
        domain_count=len(domains),
        verified_count=sum(1 for d in domains if d.is_verified),
        can_manage_users=may(held, *USER_MANAGERS),
        can_manage_groups=may(held, *GROUP_MANAGERS),
        can_buy=may(held, *BUYERS),
        can_manage_domains=may(held),
    )
