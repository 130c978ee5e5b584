"""`tenantry mail …`: the development mailbox, read from the database."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import typer
from rich.markup import escape

from tenantry.cli.support import JsonOption, console, emit, fail
from tenantry.core.config import get_settings

app = typer.Typer(help="The development mailbox.", no_args_is_help=True)


def _read(to: str | None, limit: int) -> list[Any]:
    from tenantry.core.db import Database
    from tenantry.core.mail import mailbox

    settings = get_settings()

    async def read() -> list[Any]:
        database = Database(settings.database_url)
        try:
            return await mailbox(database, recipient=to, limit=limit)
        finally:
            await database.dispose()

    return asyncio.run(read())


CODE = re.compile(r"\b(\d{6})\b")


@app.command("code")
def mail_code(
    to: str = typer.Option(..., "--to", help="The address the code was sent to."),
) -> None:
    """Print the 6-digit code of the newest message to an address (for scripts:
    `tenantry signup verify --code "$(tenantry mail code --to ADDRESS)"`)."""
    for message in _read(to, 20):
        if found := CODE.search(message.body_text):
            print(found.group(1))
            return
    fail(f"no message with a code was sent to {to}")


@app.command("list")
def mail_list(
    to: str | None = typer.Option(None, "--to", help="Only messages to this address."),
    limit: int = typer.Option(20, help="How many messages, newest first."),
    as_json: bool = JsonOption,
) -> None:
    """Messages in the outbox / development mailbox, newest first."""
    messages = [
        {
            "id": str(m.id),
            "to": m.recipient,
            "subject": m.subject,
            "status": m.status,
            "created": m.created_at.isoformat(timespec="seconds"),
            "body": m.body_text,
        }
        for m in _read(to, limit)
    ]
    if as_json:
        emit(messages, as_json=True)
        return
    for message in messages:
        console.rule(escape(f"{message['created']}  to {message['to']}  [{message['status']}]"))
        console.print(f"[bold]{message['subject']}[/bold]")
        console.print(message["body"])
    if not messages:
        console.print("The mailbox is empty.")
