"""`tenantry jobs …`: the background job queue (group licensing), for the operator."""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from tenantry.cli.support import JsonOption, emit
from tenantry.core.config import get_settings

app = typer.Typer(help="Background jobs (group licensing): list, run.", no_args_is_help=True)


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


@app.command("list")
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


@app.command("run-once")
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
