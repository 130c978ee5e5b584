"""`tenantry scim …`: provisioning tokens, the SCIM URL and the provisioning log, over the API."""

from __future__ import annotations

from datetime import datetime

import typer

from tenantry.cli.support import JsonOption, api_client, check, console, emit

scim_app = typer.Typer(
    help="Directory sync: what an identity provider needs to provision your organization.",
    no_args_is_help=True,
)
token_app = typer.Typer(help="Provisioning tokens (SCIM bearer tokens).", no_args_is_help=True)
scim_app.add_typer(token_app, name="token")


@token_app.command("create")
def create_token(
    display_name: str = typer.Argument(..., help="What the token is for, e.g. 'Entra ID'."),
    expires: datetime | None = typer.Option(
        None, "--expires", help="When it stops working (ISO 8601); default: until revoked."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create a token; it is shown this once: paste it into your identity provider now."""
    body: dict[str, object] = {"displayName": display_name}
    if expires is not None:
        body["expirationDateTime"] = expires.isoformat()
    with api_client() as client:
        created = check(client.post("/v1/scimTokens", json=body))
        url = _scim_url(client)
    if as_json:
        emit({**created, "scimUrl": url}, as_json=True)
        return
    console.print(f"Token [bold]{created['displayName']}[/bold] ({created['id']}):")
    console.print(created["token"], soft_wrap=True, highlight=False)
    console.print("It is shown only now: paste it into your identity provider with the SCIM URL")
    console.print(url, soft_wrap=True, highlight=False)


@token_app.command("list")
def list_tokens(as_json: bool = JsonOption) -> None:
    """The organization's provisioning tokens (never their values)."""
    with api_client() as client:
        found = check(client.get("/v1/scimTokens"))["value"]
    emit(
        found,
        as_json=as_json,
        columns=["id", "displayName", "createdDateTime", "expirationDateTime", "lastUsedDateTime"],
    )


@token_app.command("revoke")
def revoke_token(token_id: str = typer.Argument(..., help="The token's id (see list).")) -> None:
    """Revoke a token: the identity provider's next request with it is refused."""
    with api_client() as client:
        check(client.delete(f"/v1/scimTokens/{token_id}"))
    console.print(f"Revoked {token_id}.")


def _scim_url(client: object) -> str:
    """The SCIM base URL as the server publishes it (its ServiceProviderConfig's location)."""
    config = check(client.get("/scim/v2/ServiceProviderConfig"))  # type: ignore[attr-defined]
    return str(config["meta"]["location"]).removesuffix("/ServiceProviderConfig")


@scim_app.command("url")
def url(as_json: bool = JsonOption) -> None:
    """The organization's SCIM base URL (the tenant is implied by the token)."""
    with api_client() as client:
        found = _scim_url(client)
    if as_json:
        emit({"scimUrl": found}, as_json=True)
    else:
        console.print(found, soft_wrap=True, highlight=False)


@scim_app.command("log")
def provisioning_log(
    status: str | None = typer.Option(None, help="success or failure"),
    resource_type: str | None = typer.Option(None, "--resource-type", help="User or Group"),
    target: str | None = typer.Option(None, "--target", help="A user's or group's id."),
    top: int = typer.Option(50, help="How many rows (newest first)."),
    as_json: bool = JsonOption,
) -> None:
    """The provisioning log: each request the identity provider made, and its outcome."""
    params: dict[str, object] = {"$top": top}
    for key, value in (("status", status), ("resourceType", resource_type), ("targetId", target)):
        if value:
            params[key] = value
    with api_client() as client:
        rows = check(client.get("/v1/auditLogs/provisioning", params=params))["value"]
    if as_json:
        emit(rows, as_json=True)
        return
    emit(
        [
            {
                "time": row["activityDateTime"],
                "token": row["token"]["displayName"],
                "request": f"{row['httpMethod']} {row['path']}",
                "target": row["targetIdentity"]["displayName"] or row["targetIdentity"]["id"],
                "outcome": row["provisioningStatusInfo"]["status"],
                "status": row["provisioningStatusInfo"]["statusCode"],
                "changed": ", ".join(c.get("name", "") for c in row["modifiedProperties"]),
                "error": (row["provisioningStatusInfo"].get("errorInformation") or {}).get(
                    "reason"
                ),
            }
            for row in rows
        ],
        as_json=False,
    )
