"""Builds the ASGI application: routers, error handlers, web pages, the background workers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tenantry import __version__, catalog
from tenantry.auth import pages as auth_pages
from tenantry.auth.router import me_router as auth_me_router
from tenantry.auth.router import router as auth_router
from tenantry.core import metrics, security
from tenantry.core.admission import RequestAdmission
from tenantry.core.bodylimit import BodyLimit
from tenantry.core.config import Settings, get_settings
from tenantry.core.db import Database
from tenantry.core.errors import ServiceUnavailable, install_handlers
from tenantry.core.hotread import HotReader
from tenantry.core.housekeeping import Housekeeper
from tenantry.core.jobs import JobWorker
from tenantry.core.mail import OutboxWorker
from tenantry.core.metrics import RequestMetrics
from tenantry.core.migrate import schema_head
from tenantry.directory.groups_router import router as directory_groups_router
from tenantry.directory.pages import groups as groups_pages
from tenantry.directory.pages import roles as roles_pages
from tenantry.directory.pages import user as user_pages
from tenantry.directory.pages import user_import as user_import_pages
from tenantry.directory.pages import users as users_pages
from tenantry.directory.roles_router import router as directory_roles_router
from tenantry.directory.router import router as directory_router
from tenantry.domains import names
from tenantry.domains import pages as domain_pages
from tenantry.domains import service as domain_service
from tenantry.domains.router import router as domains_router
from tenantry.engagements import scheduled as engagement_rounds
from tenantry.engagements.requests_router import router as engagement_requests_router
from tenantry.engagements.router import router as engagements_router
from tenantry.guests import pages as guest_pages
from tenantry.guests.router import router as guests_router
from tenantry.licensing import pages as licensing_pages
from tenantry.licensing.group_router import router as group_licensing_router
from tenantry.licensing.hot import HotEntitlementChecks
from tenantry.licensing.router import hot_router, well_known_router
from tenantry.licensing.router import router as licensing_router
from tenantry.licensing.scheduled import LifecycleWorker
from tenantry.partner.members_router import router as partner_members_router
from tenantry.partner.pages import account as partner_account_pages
from tenantry.partner.pages import approval as partner_approval_pages
from tenantry.partner.pages import enroll as partner_enroll_pages
from tenantry.partner.pages import operator as partner_operator_pages
from tenantry.partner.pages import people as partner_people_pages
from tenantry.partner.router import router as partner_router
from tenantry.scim import pages as scim_pages
from tenantry.scim import provider_router as scim_provider
from tenantry.scim.constants import SCIM_PATH
from tenantry.scim.router import router as scim_router
from tenantry.signup import pages as signup_pages
from tenantry.signup.router import router as signup_router
from tenantry.tenants.pages import audit as audit_pages
from tenantry.tenants.pages import become as become_pages
from tenantry.tenants.pages import home as home_pages
from tenantry.tenants.router import router as tenants_router
from tenantry.web import devtools
from tenantry.web import pages as web_pages
from tenantry.web.rendering import error_page, install_page_errors


async def _refuse_when_busy(scope: Any, receive: Any, send: Any, error: ServiceUnavailable) -> None:
    """503 in the one JSON shape for the API, the error page (in its language) for pages."""
    request = Request(scope, receive)
    if scope["path"].startswith(SCIM_PATH + "/"):  # SCIM clients read RFC 7644's error shape
        await scim_provider.refuse(error)(scope, receive, send)
        return
    if scope["path"].startswith(("/v1/", "/openapi.json", "/docs")):
        response: Response = JSONResponse(
            error.to_body(), status_code=error.status_code, headers=error.headers
        )
    else:
        # No database read for a refusal meant to spare the server work.
        response = await error_page(request, error, show_principal=False)
    await response(scope, receive, send)


def create_app(settings: Settings | None = None, *, run_worker: bool = True) -> FastAPI:
    """The Tenantry application for these settings (from the environment by default)."""
    settings = settings or get_settings()
    product_catalog = catalog.load(settings.catalog_path)
    security.configure_hashing(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    security.configure_pool(workers=settings.hash_workers, queue_depth=settings.hash_queue_depth)
    settings.signing_secret  # noqa: B018 - create the secret key file before any worker races for it

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        worker = OutboxWorker(database, settings)
        app.state.database = database
        app.state.worker = worker
        app.state.hot_reader = HotReader(settings.database_url)
        tasks = []
        job_worker = JobWorker(
            database,
            resources={"catalog": product_catalog, "settings": settings},
            poll_seconds=settings.worker_poll_seconds,
            lease=timedelta(seconds=settings.job_lease_seconds),
        )
        app.state.job_worker = job_worker
        if run_worker:
            lifecycle = LifecycleWorker(
                database, product_catalog, settings, interval=settings.lifecycle_interval_seconds
            )
            database.wakers.update(outbox=worker.wake, jobs=job_worker.wake)
            tasks.append(asyncio.create_task(worker.run(), name="outbox-worker"))
            tasks.append(asyncio.create_task(job_worker.run(), name="job-worker"))
            tasks.append(asyncio.create_task(lifecycle.run(), name="subscription-lifecycle"))
            housekeeper = Housekeeper(database, interval=settings.housekeeping_interval_seconds)
            tasks.append(asyncio.create_task(housekeeper.run(), name="housekeeping"))
            # Engagements' timed round is a job that queues its next run (one at a time).
            await engagement_rounds.ensure_ticking(database, settings)
        names.registrable("example.com")  # load the public suffix list now, not in a request
        async with database.unit_of_work(readonly=True) as db_session:
            # Subdomains verified against Entra's rule before it was enforced: one warning each.
            await domain_service.warn_of_nested_verifications(db_session=db_session)
        # What start-up made lives as long as the process: keep it out of the collector's
        # full passes, which otherwise walk it all and stall requests (tail latency).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.hot_reader.close()
            await database.dispose()
            metrics.process_exited()

    # Swagger UI at /docs and ReDoc at /redoc, their scripts served from the package
    # (fastapi-offline), not a CDN: the documentation works with no internet.
    app = FastAPIOffline(
        title="Tenantry",
        version=__version__,
        summary="Control plane for business software: tenants, domains, licenses, directory sync.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url="/redoc",
        static_url="/static/api-docs",
    )
    app.state.settings = settings
    app.state.catalog = product_catalog
    install_handlers(app)
    install_page_errors(app)
    # Inside the hot checks: a process runs a bounded number of requests at once, and sheds
    # (503, Retry-After) those that cannot start soon instead of slowing every answer.
    app.add_middleware(
        RequestAdmission,
        limit=settings.max_concurrent_requests,
        wait=settings.admission_wait_ms / 1000,
        refuse=_refuse_when_busy,
    )
    # Entitlement checks a token holder makes about themselves skip the framework.
    app.add_middleware(HotEntitlementChecks, state=app.state)
    # Outside it: every body, the hot checks' included, is counted as it streams in.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Outermost: every answer is counted and timed for /metrics, refusals included.
    if settings.metrics_enabled:
        app.add_middleware(RequestMetrics)
    # Whose X-Forwarded-For (and X-Forwarded-Proto) to believe is decided here, once, for
    # whatever server runs the app: `tenantry serve` and the test server turn uvicorn's own
    # proxy handling off (it trusts 127.0.0.1 unless told otherwise).
    if settings.trusted_proxy_networks:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_networks)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, Any]:
        """200 once the server can reach its database."""
        async with app.state.database.unit_of_work(readonly=True) as db_session:
            await db_session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> dict[str, Any]:
        """200 once the database answers and its schema is this version's (migrations
        applied); 503 `serviceUnavailable` otherwise, saying which."""
        try:
            async with app.state.database.unit_of_work(readonly=True) as db_session:
                revision = await db_session.scalar(text("SELECT version_num FROM alembic_version"))
        except Exception as failure:  # no database, or no schema at all
            raise ServiceUnavailable(
                "The database does not answer, or has no schema yet.", retry_after=5
            ) from failure
        if revision != schema_head():
            raise ServiceUnavailable(
                f"The database schema is at {revision}, this version needs {schema_head()}: "
                "run `tenantry migrate`.",
                retry_after=5,
            )
        return {"status": "ready", "version": __version__, "schema": revision}

    if settings.metrics_enabled:

        @app.get("/metrics", tags=["operations"], response_class=Response)
        async def metrics_exposition() -> Response:
            """Prometheus metrics (text exposition format); docs/operations.md lists them."""
            body, content_type = await metrics.exposition(app.state.database)
            return Response(body, media_type=content_type)

    @app.get("/v1/ping", tags=["operations"])
    async def ping() -> dict[str, Any]:
        """Liveness probe: answers `{}` without touching the database (see /healthz for that)."""
        return {}

    # Routes are matched in order, at a cost per route tried: the hot entitlement check first.
    for router in (
        hot_router,
        signup_router,
        auth_router,
        auth_me_router,
        directory_router,
        directory_roles_router,
        directory_groups_router,
        tenants_router,
        domains_router,
        licensing_router,
        group_licensing_router,
        well_known_router,
        partner_router,
        partner_members_router,
        guests_router,
        engagements_router,
        engagement_requests_router,
        scim_router,
    ):
        app.include_router(router)
    if settings.dev_mode:  # the development DNS zone: /dev/dns and its API
        app.include_router(devtools.api)
        app.include_router(devtools.pages)
    # The web pages, each domain's beside its API (`<domain>/pages.py`, its templates
    # beside it); web/ holds what they share.
    for pages in (
        web_pages,
        signup_pages,
        auth_pages,
        home_pages,
        become_pages,
        domain_pages,
        users_pages,
        user_import_pages,
        user_pages,  # after the two above: its /admin/users/{id} would take /admin/users/new
        groups_pages,
        licensing_pages,
        roles_pages,
        scim_pages,
        audit_pages,
        guest_pages,
        partner_account_pages,
        partner_enroll_pages,
        partner_approval_pages,
        partner_operator_pages,
        partner_people_pages,
    ):
        app.include_router(pages.router)
    # SCIM 2.0 (RFC 7644) is its own small application: its own errors, media type, body limit.
    app.mount(SCIM_PATH, scim_provider.build_app(app.state), name="scim")
    app.mount("/static", StaticFiles(packages=[("tenantry.web", "static")]), name="static")
    return app
