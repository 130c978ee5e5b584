"""`tenantry mail …`: the development mailbox, read from the database."""

from __future__ import annotations

import asyncio
from typing import Any

import typer
from rich.markup import escape

from tenantry.cli.support import JsonOption, console, emit
from tenantry.core.config import get_settings

app = typer.Typer(help="The development mailbox.", no_args_is_help=True)


@app.command("list")
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
