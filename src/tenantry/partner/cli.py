"""`tenantry operator …` and `tenantry partner …`: the partner program, from a terminal.

The operator's commands work on the database itself (TENANTRY_DATABASE_URL), like
`tenantry migrate`: whoever runs them runs the server, and the first operator can only
be named this way. A partner account's own commands (`enroll`, `show`, `members`,
`link-tenant`) are API clients: `account_cli`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.cli.support import JsonOption, console, emit, fail
from tenantry.core.audit import Actor
from tenantry.core.errors import TenantryError
from tenantry.partner import account_cli, service

operator_app = typer.Typer(
    help="Platform operators of the partner program (on the server).", no_args_is_help=True
)
partner_app = typer.Typer(help="The partner program.", no_args_is_help=True)
agreement_app = typer.Typer(
    help="The Collaboration agreement (operator, on the server).", no_args_is_help=True
)
reserved_app = typer.Typer(
    help="Reserved publisher names (operator, on the server).", no_args_is_help=True
)
partner_app.add_typer(agreement_app, name="agreement")
partner_app.add_typer(reserved_app, name="reserved")
# enroll, show, members, link-tenant, unlink-tenant: API clients, like the directory's.
account_cli.register(partner_app)

T = TypeVar("T")
# The audit log's actor for these commands: the server's own terminal.
TERMINAL = Actor(kind="terminal")


def _on_server(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one unit of work on the server's database; a refusal ends the command."""
    from tenantry.core.config import get_settings
    from tenantry.core.db import Database

    async def run() -> T:
        database = Database(get_settings().database_url)
        try:
            async with database.unit_of_work() as db_session:
                return await work(db_session)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except TenantryError as error:
        fail(f"{error.message} ({error.code})")


def _operator_row(user: Any, since: Any = None) -> dict[str, Any]:
    row = {"id": str(user.id), "userPrincipalName": user.user_principal_name}
    row["displayName"] = user.display_name
    if since is not None:
        row["operatorSince"] = since.isoformat(timespec="seconds")
    return row


@operator_app.command("add")
def operator_add(email: str, as_json: bool = JsonOption) -> None:
    """Give an existing user the platform role Operator."""
    user = _on_server(lambda s: service.add_operator(db_session=s, email=email, actor=TERMINAL))
    row = _operator_row(user)
    if as_json:
        emit(row, as_json=True)
    else:
        console.print(f"{row['userPrincipalName']} is now an operator.")


@operator_app.command("remove")
def operator_remove(email: str, as_json: bool = JsonOption) -> None:
    """Take the platform role Operator from a user."""
    user = _on_server(lambda s: service.remove_operator(db_session=s, email=email, actor=TERMINAL))
    row = _operator_row(user)
    if as_json:
        emit(row, as_json=True)
    else:
        console.print(f"{row['userPrincipalName']} is no longer an operator.")


@operator_app.command("list")
def operator_list(as_json: bool = JsonOption) -> None:
    """Every operator."""

    async def read(db_session: AsyncSession) -> list[dict[str, Any]]:
        operators = await service.list_operators(db_session=db_session)
        return [_operator_row(user, operator.created_at) for user, operator in operators]

    emit(
        _on_server(read),
        as_json=as_json,
        columns=["userPrincipalName", "displayName", "operatorSince"],
        title="Operators",
    )


@agreement_app.command("publish")
def agreement_publish(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    version: str = typer.Option(..., "--version", help="The new version's name."),
    language: str = typer.Option("en", "--language", help="en, fr or nl."),
    as_json: bool = JsonOption,
) -> None:
    """Publish the agreement's text in one language: a new version becomes the current one."""
    try:
        text = file.read_text("utf-8")
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text")
    agreement = _on_server(
        lambda s: service.publish_agreement(
            db_session=s, version=version, language=language, text=text, actor=TERMINAL
        )
    )
    row = {"version": agreement.version, "language": agreement.language}
    if as_json:
        emit(row, as_json=True)
    else:
        console.print(f"Published version {agreement.version} in {agreement.language}.")


@agreement_app.command("show")
def agreement_show(
    language: str = typer.Option("en", "--language", help="en, fr or nl."),
    as_json: bool = JsonOption,
) -> None:
    """The current agreement."""

    async def read(db_session: AsyncSession) -> dict[str, str]:
        agreement = await service.current_agreement(db_session=db_session, language=language)
        return {
            "version": agreement.version,
            "language": agreement.language,
            "text": agreement.text,
        }

    agreement = _on_server(read)
    if as_json:
        emit(agreement, as_json=True)
    else:
        console.print(f"Version {agreement['version']} ({agreement['language']})\n")
        console.print(agreement["text"], markup=False)


@reserved_app.command("add")
def reserved_add(name: str, as_json: bool = JsonOption) -> None:
    """Reserve a publisher name (and every look-alike of it)."""
    reserved = _on_server(lambda s: service.reserve_name(db_session=s, name=name, actor=TERMINAL))
    if as_json:
        emit({"name": reserved.name}, as_json=True)
    else:
        console.print(f"Reserved {reserved.name}.")


@reserved_app.command("remove")
def reserved_remove(name: str, as_json: bool = JsonOption) -> None:
    """Take a publisher name off the reserved list."""
    released = _on_server(lambda s: service.release_name(db_session=s, name=name, actor=TERMINAL))
    if as_json:
        emit({"name": released}, as_json=True)
    else:
        console.print(f"{released} is no longer reserved.")


@reserved_app.command("list")
def reserved_list(as_json: bool = JsonOption) -> None:
    """Every reserved publisher name."""

    async def read(db_session: AsyncSession) -> list[dict[str, str]]:
        return [
            {"name": reserved.name, "reserved": reserved.created_at.isoformat(timespec="seconds")}
            for reserved in await service.reserved_names(db_session=db_session)
        ]

    emit(_on_server(read), as_json=as_json, columns=["name", "reserved"], title="Reserved names")
