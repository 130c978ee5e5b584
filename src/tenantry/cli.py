"""`tenantry`: run the server and do every admin task from a terminal (`--json` for scripts)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tenantry.core.config import get_settings

app = typer.Typer(
    help="Tenantry: tenants, domains, licenses and directory sync.", no_args_is_help=True
)
mail_app = typer.Typer(help="The development mailbox.", no_args_is_help=True)
app.add_typer(mail_app, name="mail")
jobs_app = typer.Typer(help="Background jobs (group licensing): list, run.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")

console = Console()
err_console = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def emit(
    data: Any, *, as_json: bool, columns: list[str] | None = None, title: str | None = None
) -> None:
    """Print data as JSON or as a human table."""
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    rows = data if isinstance(data, list) else [data]
    if not rows:
        console.print("(nothing)")
        return
    columns = columns or list(rows[0].keys())
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


def fail(message: str, code: int = 1) -> None:
    """Print an error and exit."""
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


# --- server -------------------------------------------------------------------------------


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
) -> None:
    """Apply migrations, then serve the API, the web pages and the outbox worker."""
    import uvicorn

    from tenantry.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    settings.signing_secret  # noqa: B018 - create the key once, before workers start
    if not settings.smtp_url:
        console.print(
            f"[bold]Development mailbox:[/bold] http://{host}:{port}/dev/mailbox "
            "(or `tenantry mail list`)"
        )
    from tenantry.core import http_protocol

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
    )


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


# --- development mailbox ------------------------------------------------------------------


@mail_app.command("list")
def mail_list(
    to: str | None = typer.Option(None, "--to", help="Only messages to this address."),
    limit: int = typer.Option(20, help="How many messages, newest first."),
    as_json: bool = JsonOption,
) -> None:
    """Messages in the outbox / development mailbox, newest first."""
    from tenantry.core.db import Database
    from tenantry.core.mail import mailbox

    settings = get_settings()

    async def read() -> list[dict[str, Any]]:
        database = Database(settings.database_url)
        try:
            messages = await mailbox(database, recipient=to, limit=limit)
        finally:
            await database.dispose()
        return [
            {
                "id": str(m.id),
                "to": m.recipient,
                "subject": m.subject,
                "status": m.status,
                "created": m.created_at.isoformat(timespec="seconds"),
                "body": m.body_text,
            }
            for m in messages
        ]

    messages = asyncio.run(read())
    if as_json:
        emit(messages, as_json=True)
        return
    for message in messages:
        console.rule(escape(f"{message['created']}  to {message['to']}  [{message['status']}]"))
        console.print(f"[bold]{message['subject']}[/bold]")
        console.print(message["body"])
    if not messages:
        console.print("The mailbox is empty.")


# --- background jobs ----------------------------------------------------------------------


def _job_row(job: Any) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "payload": job.payload,
        "runAt": job.run_at.isoformat(timespec="seconds"),
        "created": job.created_at.isoformat(timespec="seconds"),
        "finished": job.finished_at.isoformat(timespec="seconds") if job.finished_at else None,
        "lastError": job.last_error,
    }


@jobs_app.command("list")
def jobs_list(
    status: str | None = typer.Option(None, "--status", help="queued, running, done or failed."),
    limit: int = typer.Option(20, help="How many jobs, newest first."),
    as_json: bool = JsonOption,
) -> None:
    """Operator: the newest background jobs and how they went."""
    from tenantry.core.db import Database
    from tenantry.core.jobs import get_all

    settings = get_settings()

    async def read() -> list[dict[str, Any]]:
        database = Database(settings.database_url)
        try:
            return [_job_row(job) for job in await get_all(database, status=status, limit=limit)]
        finally:
            await database.dispose()

    jobs = asyncio.run(read())
    emit(
        jobs,
        as_json=as_json,
        columns=["created", "kind", "status", "attempts", "lastError", "id"],
        title="Jobs",
    )


@jobs_app.command("run-once")
def jobs_run_once(as_json: bool = JsonOption) -> None:
    """Operator: run every due job now, in this process (servers run them on their own)."""
    from datetime import timedelta

    import tenantry.app  # noqa: F401 - registers every job handler
    from tenantry import catalog
    from tenantry.core.db import Database
    from tenantry.core.jobs import JobWorker

    settings = get_settings()

    async def run() -> list[dict[str, Any]]:
        database = Database(settings.database_url)
        worker = JobWorker(
            database,
            resources={"catalog": catalog.load(settings.catalog_path), "settings": settings},
            lease=timedelta(seconds=settings.job_lease_seconds),
        )
        outcomes = []
        try:
            while (context := await worker.claim()) is not None:
                outcome = await worker.execute(context)
                outcomes.append(
                    {
                        "id": str(outcome.job_id),
                        "kind": outcome.kind,
                        "status": outcome.status,
                        "error": outcome.error,
                    }
                )
        finally:
            await database.dispose()
        return outcomes

    outcomes = asyncio.run(run())
    if as_json:
        emit(outcomes, as_json=True)
        return
    emit(outcomes, as_json=False, columns=["kind", "status", "error", "id"], title="Jobs run")
    if any(outcome["status"] != "done" for outcome in outcomes):
        raise typer.Exit(1)


# --- API client ---------------------------------------------------------------------------


def credentials_path() -> Path:
    """Where `tenantry login` keeps the server URL and token."""
    base = os.environ.get("TENANTRY_CONFIG_DIR") or Path.home() / ".config" / "tenantry"
    return Path(base) / "credentials.json"


def api_client() -> httpx.Client:
    """An HTTP client for the server `tenantry login` signed in to."""
    path = credentials_path()
    if not path.exists():
        fail("not signed in: run `tenantry login` first")
    saved = json.loads(path.read_text())
    return httpx.Client(
        base_url=saved["url"],
        headers={"Authorization": f"Bearer {saved['access_token']}"},
        timeout=30,
    )


def check(response: httpx.Response) -> Any:
    """The JSON of a successful response, or the server's error message and exit 1."""
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            fail(f"{error['message']} ({error['code']})")
        except (ValueError, KeyError, TypeError):
            fail(f"HTTP {response.status_code}: {response.text[:200]}")
    return response.json() if response.content else None


@app.command()
def login(
    username: str = typer.Option(..., "--username", "-u", prompt=True, help="Your email address."),
    password: str = typer.Option(..., "--password", "-p", prompt=True, hide_input=True),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", envvar="TENANTRY_URL"),
    new_password: str | None = typer.Option(
        None,
        "--new-password",
        help="Your own password, when signing in with a temporary one (asked for otherwise).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Sign in to a Tenantry server and keep the token for the other commands."""
    with httpx.Client(base_url=url, timeout=30) as client:
        token = check(
            client.post(
                "/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": password},
            )
        )
        if token.get("password_change_required"):
            # A temporary password (an admin reset it): choose one before anything else.
            if new_password is None:
                err_console.print("You signed in with a temporary password: choose your own.")
                new_password = typer.prompt(
                    "New password", hide_input=True, confirmation_prompt=True, err=True
                )
            check(
                client.post(
                    "/v1/me/changePassword",
                    headers={"Authorization": f"Bearer {token['access_token']}"},
                    json={"currentPassword": password, "newPassword": new_password},
                )
            )
            token["password_change_required"] = False
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, **token}))
    path.chmod(0o600)
    if as_json:
        emit({"url": url, "username": username, "expires_in": token["expires_in"]}, as_json=True)
    else:
        console.print(f"Signed in to {url} as {username}.")


@app.command()
def whoami(as_json: bool = JsonOption) -> None:
    """The signed-in user, their organization, roles and entitlements."""
    with api_client() as client:
        me = check(client.get("/v1/me"))
        organization = check(client.get("/v1/organization"))
    summary = {
        "user": me["userPrincipalName"],
        "displayName": me["displayName"],
        "organization": organization["displayName"],
        "state": organization["state"],
        "roles": ", ".join(me["roles"]) or "-",
    }
    emit({"me": me, "organization": organization} if as_json else summary, as_json=as_json)


def _register_domain_commands() -> None:
    # Imported here: these modules use the helpers above.
    from tenantry.domains.cli import app as domain_app
    from tenantry.tenants.cli import app as admin_app
    from tenantry.tenants.cli import audit_app

    app.add_typer(domain_app, name="domain")
    app.add_typer(admin_app, name="admin")
    app.add_typer(audit_app, name="audit")


_register_domain_commands()


def _register_licensing_commands() -> None:
    # Imported here: these modules use the helpers above.
    from tenantry.licensing.cli import license_app, subscription_app

    app.add_typer(subscription_app, name="subscription")
    app.add_typer(license_app, name="license")


_register_licensing_commands()


def _register_directory_commands() -> None:
    # Imported here: these modules use the helpers above.
    from tenantry.directory.cli import group_app, role_app, user_app

    app.add_typer(user_app, name="user")
    app.add_typer(group_app, name="group")
    app.add_typer(role_app, name="role")


_register_directory_commands()


def _register_group_licensing_commands() -> None:
    # Imported here: these modules use the helpers above.
    from tenantry.directory.cli import group_app
    from tenantry.licensing.group_cli import group_license_app

    group_app.add_typer(group_license_app, name="license")


_register_group_licensing_commands()

if __name__ == "__main__":
    app()
