"""`tenantry admin become`: the become-the-admin wizard from a terminal."""

from __future__ import annotations

import time
import uuid

import httpx
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tenantry.cli.support import (
    DevZoneOption,
    JsonOption,
    api_client,
    check,
    console,
    emit,
    fail,
    print_txt_record,
    publish_to_dev_zone,
)

app = typer.Typer(help="Take over your organization as its administrator.", no_args_is_help=True)


def _poll_verify(client: httpx.Client, *, timeout: float, interval: float, quiet: bool) -> dict:
    """Retry the DNS check until the record is found or the time is up."""
    deadline = time.monotonic() + timeout
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=True,
    ) as progress:
        task = progress.add_task("Waiting for the TXT record to appear in DNS…")
        attempts = 0
        while True:
            attempts += 1
            response = client.post("/v1/organization/becomeAdmin/verify")
            if response.status_code == 200:
                return response.json()
            error = response.json().get("error", {}) if response.content else {}
            if response.status_code != 409 or error.get("code") != "verificationRecordNotFound":
                check(response)
            if time.monotonic() + interval > deadline:
                fail(error.get("message", "The record was not found in time."))
            progress.update(
                task, description=f"Not found yet (try {attempts}); DNS can take up to an hour…"
            )
            time.sleep(interval)


@app.command("become")
def become(
    entry_point: str = typer.Option("admin", help="admin or upgrade: which plans are offered."),
    wait: bool = typer.Option(False, "--wait", help="Poll DNS until the TXT record is found."),
    timeout: float = typer.Option(3600, help="How long --wait keeps trying, in seconds."),
    interval: float = typer.Option(30, help="Seconds between DNS checks with --wait."),
    sku: str | None = typer.Option(None, "--sku", help="Plan to buy (e.g. BUSINESS_ESSENTIALS)."),
    quantity: int | None = typer.Option(None, help="Licenses to buy (default: the minimum)."),
    country: str | None = typer.Option(
        None, help="Country (ISO 3166 alpha-2) for usage locations."
    ),
    idempotency_key: str | None = typer.Option(None, help="Reuse to retry a purchase safely."),
    dev_zone: bool = DevZoneOption,
    as_json: bool = JsonOption,
) -> None:
    """Become the admin: show the TXT record, verify it (optionally waiting), buy the licenses."""
    with api_client() as client:
        state = check(client.post("/v1/organization/becomeAdmin", json={"entryPoint": entry_point}))
        if dev_zone and state["status"] == "started":
            record = state["verificationDnsRecords"][0]
            publish_to_dev_zone(client, state["domain"], record["text"])
        if not as_json:
            console.print(f"Domain: [bold]{state['domain']}[/bold]")
            print_txt_record(state["verificationDnsRecords"][0])
            offers = ", ".join(o["skuPartNumber"] for o in state["offers"])
            console.print(f"Plans offered: {offers}; licenses needed: {state['minimumLicenses']}")
        if state["status"] == "started":
            if wait:
                state = _poll_verify(client, timeout=timeout, interval=interval, quiet=as_json)
            else:
                response = client.post("/v1/organization/becomeAdmin/verify")
                if response.status_code == 409 and response.json()["error"]["code"] == (
                    "verificationRecordNotFound"
                ):
                    if as_json:
                        emit(state, as_json=True)
                        return
                    console.print(response.json()["error"]["message"])
                    console.print("Run again with --wait to keep checking.")
                    raise typer.Exit(2)
                state = check(response)
        if not sku:
            if as_json:
                emit(state, as_json=True)
            else:
                console.print("Domain ownership confirmed. Buy the licenses with:")
                console.print(
                    f"  tenantry admin become --sku {state['offers'][0]['skuPartNumber']} "
                    f"--quantity {state['minimumLicenses']}"
                )
            return
        key = idempotency_key or str(uuid.uuid4())
        body = {"skuPartNumber": sku, "quantity": quantity or state["minimumLicenses"]}
        if country:
            body["countryLetterCode"] = country
        organization = check(
            client.post(
                "/v1/organization/becomeAdmin/complete",
                json=body,
                headers={"Idempotency-Key": key},
            )
        )
    if as_json:
        emit(organization, as_json=True)
    else:
        console.print(
            f"[green]{organization['displayName']} is now managed; you are its Global "
            "Administrator.[/green]"
        )
        console.print(
            f"Bought {body['quantity']} {body['skuPartNumber']} licenses, one for each person."
        )


audit_app = typer.Typer(help="The organization's audit log.", no_args_is_help=True)


@audit_app.command("list")
def audit_list(
    actor: str | None = typer.Option(None, help="User id or sign-in address."),
    action: str | None = typer.Option(None, help="Activity name; end with * for a prefix."),
    since: str | None = typer.Option(None, "--from", help="ISO date or time."),
    until: str | None = typer.Option(None, "--to", help="ISO date or time."),
    top: int = typer.Option(50, help="How many events, newest first."),
    as_json: bool = JsonOption,
) -> None:
    """Search the audit log (any admin role)."""
    params = {"actor": actor, "action": action, "from": since, "to": until, "$top": top}
    with api_client() as client:
        events = check(
            client.get(
                "/v1/auditLogs/directoryAudits",
                params={k: v for k, v in params.items() if v is not None},
            )
        )["value"]
    if as_json:
        emit(events, as_json=True)
        return
    rows = [
        {
            "when": e["activityDateTime"][:19],
            "activity": e["activityDisplayName"],
            "by": (e["initiatedBy"].get("user") or {}).get("userPrincipalName") or "Tenantry",
            "target": e["targetResources"][0]["id"],
        }
        for e in events
    ]
    emit(rows, as_json=False, title="Audit log")
