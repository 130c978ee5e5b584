"""Prometheus metrics at `/metrics`, through prometheus-client.

What a process counts as it works (requests by route template, method and status, their
latency, sign-in failures, group-license throughput) lives in prometheus-client's
metrics below. With several worker processes, `tenantry serve` points
`PROMETHEUS_MULTIPROC_DIR` at a folder of the data dir before the workers start, so each
worker writes its counts there and any worker's `/metrics` answers for all of them
(prometheus-client's multiprocess mode). What the database knows (the outbox backlog and
its age, the job queue) is read when `/metrics` is scraped, not counted.

Route labels are route templates (`/v1/users/{user_id}`), never raw paths, so an id in a
URL cannot grow the number of series; anything no route matched is `(unmatched)`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import func, select

from tenantry.core.clock import clock

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# prometheus-client chooses how to keep values when it is first imported: decided here too.
MULTIPROCESS = bool(os.environ.get(MULTIPROCESS_ENV))
# A route that answers before routing (licensing/hot.py) names its template here.
ROUTE_KEY = "tenantry.route"
UNMATCHED = "(unmatched)"

REQUESTS = Counter(
    "tenantry_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "tenantry_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SIGN_IN_FAILURES = Counter(
    "tenantry_sign_in_failures",
    "Refused password sign-ins, by reason (wrongPassword, lockedOut, blocked, ...).",
    ["reason"],
)
GROUP_LICENSE_MEMBERS = Counter(
    "tenantry_group_license_members_processed",
    "Group members whose licenses group-based licensing has processed, by outcome.",
    ["outcome"],
)


def prepare_multiprocess(data_dir: Path) -> None:
    """Before the workers of `tenantry serve` start: an empty folder for their counts."""
    folder = data_dir / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_ENV] = str(folder)


def process_exited() -> None:
    """A worker stops: its live gauges leave the aggregate (counters stay counted)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())


class RequestMetrics:
    """ASGI middleware: counts every HTTP answer and times it, refusals included."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app fails before it starts one
        counted = False

        def count() -> None:
            nonlocal counted
            counted = True
            route = scope.get("route")
            template = getattr(route, "path", None) or scope.get(ROUTE_KEY) or UNMATCHED
            method = scope["method"]
            REQUESTS.labels(template, method, str(status)).inc()
            LATENCY.labels(template, method).observe(time.perf_counter() - started)

        async def send_counted(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Counted before the answer's last bytes leave: a client that reads
                # /metrics right after an answer finds it counted.
                count()
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            if not counted:
                count()


async def exposition(database: Any) -> tuple[bytes, str]:
    """The text `/metrics` answers: every process's counts, then the database's gauges."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    return counted + await _database_gauges(database), CONTENT_TYPE_LATEST


async def _database_gauges(database: Any) -> bytes:
    # Imported here: core.mail and core.jobs import models that import core.db, which
    # has no reason to load them for a process that never serves /metrics.
    from tenantry.core.jobs import Job
    from tenantry.core.mail import OutboxMessage

    now = clock.now()
    async with database.unit_of_work(readonly=True) as db_session:
        outbox = (
            await db_session.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.status == "pending"
                )
            )
        ).one()
        jobs = (
            await db_session.execute(
                select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
            )
        ).all()
    registry = CollectorRegistry()
    Gauge("tenantry_outbox_pending", "Emails waiting to be delivered.", registry=registry).set(
        outbox[0]
    )
    Gauge(
        "tenantry_outbox_oldest_pending_age_seconds",
        "Age of the oldest email waiting to be delivered (0 when none waits).",
        registry=registry,
    ).set(_age(now, outbox[1]))
    queue = Gauge(
        "tenantry_jobs",
        "Background jobs by kind and status (queued, running, done, failed).",
        ["kind", "status"],
        registry=registry,
    )
    for kind, status, count in jobs:
        queue.labels(kind, status).set(count)
    return generate_latest(registry)


def _age(now: datetime, since: datetime | None) -> float:
    if since is None:
        return 0.0
    if since.tzinfo is None:  # SQLite gives naive UTC
        since = since.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - since).total_seconds())
