"""`tenantry user …`, `tenantry group …` and `tenantry role …`: the directory from a terminal.

These are API clients of the server `tenantry login` signed in to. Users and
groups are named by id or by address / display name; `--json` prints what the
API returned.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tenantry.cli.support import JsonOption, api_client, check, console, emit, err_console, fail

user_app = typer.Typer(help="Users: list, add, import from CSV, change, block, reset, delete.")
group_app = typer.Typer(help="Groups and their members.")
role_app = typer.Typer(help="Admin roles and who holds them.")

USER_COLUMNS = [
    "displayName",
    "userPrincipalName",
    "usageLocation",
    "accountEnabled",
    "source",
    "id",
]
GROUP_COLUMNS = ["displayName", "mailNickname", "description", "id"]
MEMBERS_PER_REQUEST = 1000


def _pages(client: httpx.Client, path: str, params: dict[str, Any], *, everything: bool) -> Any:
    """The items of a list; with `everything`, of every page (following `@odata.nextLink`)."""
    body = check(client.get(path, params={k: v for k, v in params.items() if v is not None}))
    items = list(body["value"])
    while everything and body.get("@odata.nextLink"):
        link = urlsplit(body["@odata.nextLink"])
        body = check(client.get(f"{link.path}?{link.query}"))
        items += body["value"]
    return items, body.get("@odata.nextLink")


def _user(client: httpx.Client, key: str) -> dict[str, Any]:
    return check(client.get(f"/v1/users/{key}"))


def _member_id(client: httpx.Client, address: str) -> str:
    """The id of the user at `address`, or a refusal naming the address."""
    response = client.get(f"/v1/users/{address}")
    if response.status_code == 404:
        fail(f"no user has the address {address}: nobody was added")
    return check(response)["id"]


def find_group(client: httpx.Client, key: str) -> dict[str, Any]:
    """A group by id, or by its exact display name when only one group has it."""
    response = client.get(f"/v1/groups/{key}")
    if response.status_code == 200:
        return response.json()
    quoted = key.replace("'", "''")
    found = check(client.get("/v1/groups", params={"$filter": f"displayName eq '{quoted}'"}))
    if len(found["value"]) == 1:
        return found["value"][0]
    if not found["value"]:
        fail(f"no group is called {key!r}")
    fail(f"several groups are called {key!r}: give the id")


# --- users --------------------------------------------------------------------------------

FilterOption = typer.Option(None, "--filter", help="OData $filter, e.g. \"usageLocation eq 'FR'\".")
SearchOption = typer.Option(None, "--search", help='Words to find, e.g. "dup" or "mail:alain".')
OrderOption = typer.Option(None, "--orderby", help="displayName or userPrincipalName \\[desc].")
TopOption = typer.Option(100, "--top", min=1, max=999, help="Users per page.")
AllOption = typer.Option(False, "--all", help="Every page, not just the first.")


@user_app.command("list")
def user_list(
    filter_: str | None = FilterOption,
    search: str | None = SearchOption,
    orderby: str | None = OrderOption,
    top: int = TopOption,
    everything: bool = AllOption,
    as_json: bool = JsonOption,
) -> None:
    """The organization's users."""
    with api_client() as client:
        users, more = _pages(
            client,
            "/v1/users",
            {"$filter": filter_, "$search": search, "$orderby": orderby, "$top": top},
            everything=everything,
        )
    emit(users, as_json=as_json, columns=USER_COLUMNS, title="Users")
    if more and not as_json:
        console.print("More users: add --all, or narrow with --filter / --search.")


@user_app.command("show")
def user_show(
    user: str = typer.Argument(..., help="Id or address."), as_json: bool = JsonOption
) -> None:
    """One user."""
    with api_client() as client:
        found = _user(client, user)
        groups = check(client.get(f"/v1/users/{found['id']}/memberOf"))["value"]
    if as_json:
        emit(found | {"memberOf": groups}, as_json=True)
        return
    emit(found | {"groups": ", ".join(g["displayName"] for g in groups) or "-"}, as_json=False)


@user_app.command("add")
def user_add(
    user_principal_name: str = typer.Argument(..., help="Sign-in address, e.g. alain@contoso.com."),
    display_name: str = typer.Argument(..., help="Name shown to others."),
    given_name: str | None = typer.Option(None, "--given-name"),
    surname: str | None = typer.Option(None, "--surname"),
    usage_location: str | None = typer.Option(None, "--usage-location", help="e.g. FR."),
    password: str | None = typer.Option(
        None, "--password", help="Leave out to get a temporary password."
    ),
    blocked: bool = typer.Option(False, "--blocked", help="Create with sign-in blocked."),
    synced: bool = typer.Option(False, "--synced", help="A user provided by another directory."),
    licenses: list[str] = typer.Option([], "--license", help="skuId to assign (repeatable)."),
    as_json: bool = JsonOption,
) -> None:
    """Add a user."""
    body: dict[str, Any] = {
        "userPrincipalName": user_principal_name,
        "displayName": display_name,
        "givenName": given_name,
        "surname": surname,
        "usageLocation": usage_location,
        "accountEnabled": not blocked,
        "source": "synced" if synced else "cloud",
        "assignedLicenses": [{"skuId": sku_id} for sku_id in licenses],
    }
    if password is not None:
        body["password"] = password
    with api_client() as client:
        created = check(client.post("/v1/users", json=body))
    if as_json:
        emit(created, as_json=True)
        return
    console.print(f"Added {created['userPrincipalName']} ({created['id']}).")
    if created.get("temporaryPassword"):
        console.print(
            f"Temporary password (shown once, to change at first sign-in): "
            f"[bold]{created['temporaryPassword']}[/bold]"
        )


@user_app.command("update")
def user_update(
    user: str = typer.Argument(..., help="Id or address."),
    display_name: str | None = typer.Option(None, "--display-name"),
    given_name: str | None = typer.Option(None, "--given-name"),
    surname: str | None = typer.Option(None, "--surname"),
    usage_location: str | None = typer.Option(
        None, "--usage-location", help='e.g. FR; "" clears it.'
    ),
    enabled: bool | None = typer.Option(None, "--enable/--block", help="Allow or block sign-in."),
    as_json: bool = JsonOption,
) -> None:
    """Change a user's names, usage location or sign-in."""
    changes: dict[str, Any] = {}
    for name, value in (
        ("displayName", display_name),
        ("givenName", given_name),
        ("surname", surname),
        ("accountEnabled", enabled),
    ):
        if value is not None:
            changes[name] = value
    if usage_location is not None:
        changes["usageLocation"] = usage_location or None
    if not changes:
        fail("nothing to change: give at least one option")
    with api_client() as client:
        updated = check(client.patch(f"/v1/users/{user}", json=changes))
    emit(updated, as_json=as_json, columns=None if as_json else USER_COLUMNS)


def _set_enabled(user: str, enabled: bool, as_json: bool) -> None:
    with api_client() as client:
        updated = check(client.patch(f"/v1/users/{user}", json={"accountEnabled": enabled}))
    if as_json:
        emit(updated, as_json=True)
    else:
        state = "can sign in again" if enabled else "is blocked from signing in; sessions ended"
        console.print(f"{updated['userPrincipalName']} {state}.")


@user_app.command("block")
def user_block(user: str = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """Block a user's sign-in and end their sessions."""
    _set_enabled(user, False, as_json)


@user_app.command("unblock")
def user_unblock(user: str = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """Let a blocked user sign in again."""
    _set_enabled(user, True, as_json)


@user_app.command("delete")
def user_delete(
    user: str = typer.Argument(..., help="Id or address."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Delete a user for good (their licenses return to the pool)."""
    if not yes and not typer.confirm(f"Delete {user} for good?"):
        raise typer.Exit(1)
    with api_client() as client:
        check(client.delete(f"/v1/users/{user}"))
    if as_json:
        emit({"deleted": user}, as_json=True)
    else:
        console.print(f"Deleted {user}.")


@user_app.command("reset-password")
def user_reset_password(
    user: str = typer.Argument(..., help="Id or address."), as_json: bool = JsonOption
) -> None:
    """Give a user a temporary password (shown once); they choose their own at next sign-in."""
    with api_client() as client:
        reset = check(client.post(f"/v1/users/{user}/resetPassword"))
    if as_json:
        emit(reset, as_json=True)
    else:
        console.print(f"Temporary password for {user}: [bold]{reset['temporaryPassword']}[/bold]")
        console.print("It is shown once; the user must change it at their next sign-in.")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def csv_chunks(data: bytes, size: int) -> tuple[int, Iterator[tuple[int, bytes]]]:
    """How many users a CSV file holds, and the file cut into files of `size` users each
    (header repeated), each with the number of users before it.

    Cut by lines, as the server reads an import (one user per line): a quote left
    open on a line fails that row alone there, so it must not carry the lines
    after it into the same row here.
    """
    lines = _decode(data).splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0].lower().startswith("version:"):
        lines.pop(0)
    if not lines:
        fail("the file is empty")
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    header = lines[0]
    rows = [
        line
        for line in lines[1:]
        if any(cell.strip() for cell in next(csv.reader([line], delimiter=delimiter), []))
    ]

    def chunks() -> Iterator[tuple[int, bytes]]:
        for start in range(0, len(rows), size):
            chunk = [header, *rows[start : start + size]]
            yield start, "".join(f"{line}\n" for line in chunk).encode()

    return len(rows), chunks()


@user_app.command("import")
def user_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV file of users."),
    chunk_size: int = typer.Option(100, "--chunk-size", min=1, max=5000, help="Users per request."),
    as_json: bool = JsonOption,
) -> None:
    """Add users from a CSV file, with a progress bar, and print each row's outcome.

    Columns: userPrincipalName, displayName (required), givenName, surname,
    usageLocation, password (generated when empty), accountEnabled.
    """
    total, chunks = csv_chunks(file.read_bytes(), chunk_size)
    rows: list[dict[str, Any]] = []
    with (
        api_client() as client,
        Progress(
            TextColumn("Importing users"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console if not as_json else err_console,
            transient=as_json,
        ) as progress,
    ):
        task = progress.add_task("import", total=total)
        client.timeout = httpx.Timeout(600)  # rows with chosen passwords take a while to hash
        for offset, chunk in chunks:
            report = check(
                client.post("/v1/users/import", content=chunk, headers={"Content-Type": "text/csv"})
            )
            for row in report["rows"]:
                rows.append(row | {"row": row["row"] + offset})
            progress.advance(task, len(report["rows"]))
    created = sum(1 for row in rows if row["status"] == "created")
    summary = {"total": len(rows), "created": created, "failed": len(rows) - created, "rows": rows}
    if as_json:
        emit(summary, as_json=True)
    else:
        table = [
            {
                "row": row["row"],
                "userPrincipalName": row.get("userPrincipalName") or "",
                "status": row["status"],
                "temporaryPassword / error": row.get("temporaryPassword")
                or (row.get("error") or {}).get("message", ""),
            }
            for row in rows
        ]
        emit(table, as_json=False, title="Import")
        console.print(f"{created} created, {len(rows) - created} failed, of {len(rows)} rows.")
    if created < len(rows):
        raise typer.Exit(2)


@user_app.command("send-message")
def user_send_message(
    subject: str = typer.Option(..., "--subject", help="Subject of the email."),
    body: str | None = typer.Option(None, "--body", help="Text of the email."),
    body_file: Path | None = typer.Option(None, "--body-file", exists=True, dir_okay=False),
    as_json: bool = JsonOption,
) -> None:
    """Email every active user of the organization."""
    if body_file is not None:
        body = body_file.read_text()
    elif body is None and not sys.stdin.isatty():
        body = sys.stdin.read()
    if not body:
        fail("give the message with --body, --body-file or on standard input")
    with api_client() as client:
        sent = check(
            client.post("/v1/organization/sendMessage", json={"subject": subject, "body": body})
        )
    if as_json:
        emit(sent, as_json=True)
    else:
        console.print(f"Sent to {sent['recipients']} active users.")


# --- groups -------------------------------------------------------------------------------


@group_app.command("list")
def group_list(
    filter_: str | None = FilterOption,
    search: str | None = SearchOption,
    top: int = TopOption,
    everything: bool = AllOption,
    as_json: bool = JsonOption,
) -> None:
    """The organization's groups."""
    with api_client() as client:
        groups, more = _pages(
            client,
            "/v1/groups",
            {"$filter": filter_, "$search": search, "$top": top},
            everything=everything,
        )
    emit(groups, as_json=as_json, columns=GROUP_COLUMNS, title="Groups")
    if more and not as_json:
        console.print("More groups: add --all.")


@group_app.command("show")
def group_show(
    group: str = typer.Argument(..., help="Id or display name."), as_json: bool = JsonOption
) -> None:
    """One group."""
    with api_client() as client:
        found = find_group(client, group)
    emit(found, as_json=as_json, columns=None if as_json else GROUP_COLUMNS)


@group_app.command("create")
def group_create(
    display_name: str = typer.Argument(...),
    description: str | None = typer.Option(None, "--description"),
    mail_nickname: str | None = typer.Option(None, "--mail-nickname"),
    as_json: bool = JsonOption,
) -> None:
    """Create a security group."""
    body = {"displayName": display_name, "description": description}
    if mail_nickname:
        body["mailNickname"] = mail_nickname
    with api_client() as client:
        created = check(client.post("/v1/groups", json=body))
    emit(created, as_json=as_json, columns=None if as_json else GROUP_COLUMNS)


@group_app.command("update")
def group_update(
    group: str = typer.Argument(..., help="Id or display name."),
    display_name: str | None = typer.Option(None, "--display-name"),
    description: str | None = typer.Option(None, "--description"),
    mail_nickname: str | None = typer.Option(None, "--mail-nickname"),
    as_json: bool = JsonOption,
) -> None:
    """Rename a group or change its description."""
    changes = {
        name: value
        for name, value in (
            ("displayName", display_name),
            ("description", description),
            ("mailNickname", mail_nickname),
        )
        if value is not None
    }
    if not changes:
        fail("nothing to change: give at least one option")
    with api_client() as client:
        found = find_group(client, group)
        updated = check(client.patch(f"/v1/groups/{found['id']}", json=changes))
    emit(updated, as_json=as_json, columns=None if as_json else GROUP_COLUMNS)


@group_app.command("delete")
def group_delete(
    group: str = typer.Argument(..., help="Id or display name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Delete a group (its members stay)."""
    with api_client() as client:
        found = find_group(client, group)
        if not yes and not typer.confirm(f"Delete the group {found['displayName']}?"):
            raise typer.Exit(1)
        check(client.delete(f"/v1/groups/{found['id']}"))
    if as_json:
        emit({"deleted": found["id"]}, as_json=True)
    else:
        console.print(f"Deleted the group {found['displayName']}.")


@group_app.command("members")
def group_members(
    group: str = typer.Argument(..., help="Id or display name."),
    everything: bool = AllOption,
    as_json: bool = JsonOption,
) -> None:
    """A group's members."""
    with api_client() as client:
        found = find_group(client, group)
        members, more = _pages(
            client, f"/v1/groups/{found['id']}/members", {"$top": 999}, everything=everything
        )
    emit(members, as_json=as_json, columns=USER_COLUMNS, title=found["displayName"])
    if more and not as_json:
        console.print("More members: add --all.")


@group_app.command("add-members")
def group_add_members(
    group: str = typer.Argument(..., help="Id or display name."),
    users: list[str] = typer.Argument(..., help="User ids or addresses."),
    as_json: bool = JsonOption,
) -> None:
    """Add users to a group (current members are left as they are)."""
    added = already = 0
    with api_client() as client:
        found = find_group(client, group)
        ids = [key if "@" not in key else _member_id(client, key) for key in users]
        with Progress(
            TextColumn("Adding members"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console if not as_json else err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("add", total=len(ids))
            for start in range(0, len(ids), MEMBERS_PER_REQUEST):
                chunk = ids[start : start + MEMBERS_PER_REQUEST]
                result = check(
                    client.post(f"/v1/groups/{found['id']}/members", json={"userIds": chunk})
                )
                added += result["added"]
                already += result["alreadyMembers"]
                progress.advance(task, len(chunk))
    if as_json:
        emit({"group": found["id"], "added": added, "alreadyMembers": already}, as_json=True)
    else:
        console.print(
            f"Added {added} member(s) to {found['displayName']} ({already} already there)."
        )


@group_app.command("remove-member")
def group_remove_member(
    group: str = typer.Argument(..., help="Id or display name."),
    user: str = typer.Argument(..., help="User id or address."),
    as_json: bool = JsonOption,
) -> None:
    """Take a user out of a group."""
    with api_client() as client:
        found = find_group(client, group)
        check(client.delete(f"/v1/groups/{found['id']}/members/{user}"))
    if as_json:
        emit({"group": found["id"], "removed": user}, as_json=True)
    else:
        console.print(f"Removed {user} from {found['displayName']}.")


# --- roles --------------------------------------------------------------------------------


@role_app.command("list")
def role_list(as_json: bool = JsonOption) -> None:
    """The admin roles and their members."""
    with api_client() as client:
        roles = check(client.get("/v1/directoryRoles"))["value"]
    if as_json:
        emit(roles, as_json=True)
        return
    rows = [
        {
            "role": role["displayName"],
            "name": role["roleName"],
            "members": ", ".join(m["userPrincipalName"] for m in role["members"]) or "-",
        }
        for role in roles
    ]
    emit(rows, as_json=False, title="Admin roles")


@role_app.command("add")
def role_add(
    role: str = typer.Argument(..., help="e.g. UserAdministrator, or its template id."),
    user: str = typer.Argument(..., help="User id or address."),
    as_json: bool = JsonOption,
) -> None:
    """Give a user an admin role (Global Administrator only)."""
    with api_client() as client:
        check(client.post(f"/v1/directoryRoles/{role}/members", json={"userId": user}))
    if as_json:
        emit({"role": role, "added": user}, as_json=True)
    else:
        console.print(f"{user} is now {role}.")


@role_app.command("remove")
def role_remove(
    role: str = typer.Argument(..., help="e.g. UserAdministrator, or its template id."),
    user: str = typer.Argument(..., help="User id or address."),
    as_json: bool = JsonOption,
) -> None:
    """Take an admin role from a user (the last Global Administrator keeps theirs)."""
    with api_client() as client:
        check(client.delete(f"/v1/directoryRoles/{role}/members/{user}"))
    if as_json:
        emit({"role": role, "removed": user}, as_json=True)
    else:
        console.print(f"{user} is no longer {role}.")
