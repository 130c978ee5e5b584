"""`tenantry login`, `tenantry whoami` and `tenantry tenants`: sign in from a terminal, see as
whom and where (`tenantry login --tenant` acts in another organization)."""

from __future__ import annotations

import json

import typer

from tenantry.cli.support import (
    JsonOption,
    api_client,
    check,
    console,
    credentials_path,
    emit,
    err_console,
    server_client,
)

# Added to `tenantry` without a name: these are top-level commands.
app = typer.Typer()


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
    tenant: str | None = typer.Option(
        None,
        "--tenant",
        help="The organization to act in (its id or a verified domain name; `tenantry "
        "tenants` lists yours). Your own when left out.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Sign in to a Tenantry server and keep the token for the other commands."""
    form = {"grant_type": "password", "username": username, "password": password}
    if tenant:
        form["tenant"] = tenant
    with server_client(url) as client:
        token = check(client.post("/v1/auth/token", data=form))
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
        where = f" (acting in {tenant})" if tenant else ""
        console.print(f"Signed in to {url} as {username}{where}.")


@app.command()
def whoami(as_json: bool = JsonOption) -> None:
    """The signed-in user, their organization, roles and entitlements."""
    with api_client() as client:
        me = check(client.get("/v1/me"))
        organization = check(client.get("/v1/organization"))
        entitlements = check(client.get("/v1/me/entitlements"))
    if as_json:
        emit({"me": me, "organization": organization, "entitlements": entitlements}, as_json=True)
        return
    summary = {
        "user": me["userPrincipalName"],
        "displayName": me["displayName"],
        "organization": organization["displayName"],
        "state": organization["state"],
        "roles": ", ".join(me["roles"]) or "-",
    }
    emit(summary, as_json=False)
    values = entitlements.get("entitlements") or {}
    rows = [{"entitlement": name, "value": value} for name, value in sorted(values.items())]
    emit(rows, as_json=False, columns=["entitlement", "value"], title="Entitlements")


@app.command()
def tenants(as_json: bool = JsonOption) -> None:
    """The organizations you may act in; `tenantry login --tenant` switches to another."""
    with api_client() as client:
        found = check(client.get("/v1/me/tenants"))["value"]
    rows = [item | {"current": "*" if item["isCurrent"] else ""} for item in found]
    emit(
        found if as_json else rows,
        as_json=as_json,
        columns=["current", "displayName", "defaultDomain", "userType", "tenantId"],
        title="Organizations",
    )
