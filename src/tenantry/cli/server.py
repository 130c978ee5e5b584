"""`tenantry migrate`, `serve` and `prune`: the server process and its database."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import logging.config
import os

import typer

from tenantry.cli.support import JsonOption, console, emit, fail
from tenantry.core.config import get_settings

# Added to `tenantry` without a name: these are top-level commands.
app = typer.Typer()
log = logging.getLogger("tenantry.serve")


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    from tenantry.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    console.print(f"database is up to date ({settings.database_url})")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    access_log: bool = typer.Option(
        False,
        "--access-log/--no-access-log",
        envvar="TENANTRY_ACCESS_LOG",
        help="Log one line per request (off by default: it costs about a tenth of a "
        "small request's CPU, and a reverse proxy usually keeps the access log).",
    ),
    dev: bool = typer.Option(
        False,
        "--dev",
        help="Development mode: loopback only, the development mailbox, and the development "
        "DNS zone (/dev/dns, `tenantry dev dns publish`) answering domain verification.",
    ),
) -> None:
    """Apply migrations, then serve the API and the web pages, with the background workers:
    outbox email, group licensing jobs, the subscription lifecycle (and the free offers'
    step-down notices), and hourly deletion of expired records."""
    import uvicorn

    from tenantry.core.migrate import upgrade

    if dev:
        if not _loopback(host):
            fail(f"--dev serves loopback only (127.0.0.1 or ::1), not {host}")
        os.environ["TENANTRY_DEV_MODE"] = "1"  # read by the workers' settings too
    settings = get_settings()
    upgrade(settings.database_url)
    from tenantry.core.keyring import KeyringMismatch

    try:
        settings.signing_secret  # noqa: B018 - open (or seal) the keys once, before workers start
    except KeyringMismatch as mismatch:
        fail(str(mismatch))
    from tenantry.core import http_protocol
    from tenantry.core.logs import json_log_config

    if settings.log_format == "json":
        logging.config.dictConfig(json_log_config())
    base = f"http://{host}:{port}"
    for shown, what, url, how in (
        (settings.dev_mode, "Development DNS zone", f"{base}/dev/dns", "tenantry dev dns"),
        (
            settings.dev_mailbox_enabled,
            "Development mailbox",
            f"{base}/dev/mailbox",
            "tenantry mail",
        ),
    ):
        if not shown:
            continue
        if settings.log_format == "json":
            log.info("%s: %s", what, url, extra={"url": url})
        else:
            console.print(f"[bold]{what}:[/bold] {url} (or `{how} list`)", soft_wrap=True)
    if workers > 1 and settings.metrics_enabled:
        # Before the workers start: where each writes its counts for any one's /metrics.
        from tenantry.core.metrics import prepare_multiprocess

        prepare_multiprocess(settings.data_dir)
    log_config = {"log_config": json_log_config()} if settings.log_format == "json" else {}
    uvicorn.run(
        "tenantry.app:create_app",
        factory=True,
        http=http_protocol.PROTOCOL,  # unparsable requests get the one JSON error shape
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,  # the app believes X-Forwarded-For: TENANTRY_TRUSTED_PROXIES
        log_level="info",
        access_log=access_log,
        **log_config,
    )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


@app.command()
def prune(as_json: bool = JsonOption) -> None:
    """Operator: delete expired records now (the server does it every hour)."""
    import tenantry.app  # noqa: F401 - every domain registers what it prunes
    from tenantry.core.db import Database
    from tenantry.core.housekeeping import prune as prune_all

    settings = get_settings()

    async def run() -> dict[str, int]:
        database = Database(settings.database_url)
        try:
            return await prune_all(database)
        finally:
            await database.dispose()

    counts = asyncio.run(run())
    emit(
        [{"records": name, "deleted": count} for name, count in counts.items()],
        as_json=as_json,
        columns=["records", "deleted"],
        title="Expired records deleted",
    )
