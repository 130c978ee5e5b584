"""`tenantry domain …`: the domains of your managed organization, from a terminal."""

from __future__ import annotations

from urllib.parse import quote

import typer

from tenantry.cli.support import (
    DevZoneOption,
    JsonOption,
    api_client,
    check,
    console,
    emit,
    print_txt_record,
    publish_to_dev_zone,
)

app = typer.Typer(help="Domains of your organization (Global Administrator).", no_args_is_help=True)

COLUMNS = ["id", "isVerified", "isDefault", "isInitial", "isRoot"]


def _path(name: str, suffix: str = "") -> str:
    return f"/v1/domains/{quote(name.strip(), safe='')}{suffix}"


@app.command("list")
def list_domains(as_json: bool = JsonOption) -> None:
    """The organization's domains."""
    with api_client() as client:
        domains = check(client.get("/v1/domains"))["value"]
    emit(domains, as_json=as_json, columns=COLUMNS, title="Domains")


@app.command("add")
def add(name: str, dev_zone: bool = DevZoneOption, as_json: bool = JsonOption) -> None:
    """Add a domain and show the TXT record that proves you own it."""
    with api_client() as client:
        domain = check(client.post("/v1/domains", json={"id": name}))
        records = check(client.get(_path(domain["id"], "/verificationDnsRecords")))["value"]
        if dev_zone and not domain["isVerified"]:
            publish_to_dev_zone(client, domain["id"], records[0]["text"])
    if as_json:
        emit({"domain": domain, "verificationDnsRecords": records}, as_json=True)
        return
    emit(domain, as_json=False, columns=COLUMNS)
    if not domain["isVerified"]:
        print_txt_record(records[0])


@app.command("records")
def records(name: str, as_json: bool = JsonOption) -> None:
    """The TXT record to publish for a domain."""
    with api_client() as client:
        value = check(client.get(_path(name, "/verificationDnsRecords")))["value"]
    if as_json:
        emit(value, as_json=True)
    else:
        print_txt_record(value[0])


@app.command("verify")
def verify(name: str, as_json: bool = JsonOption) -> None:
    """Look the TXT record up in DNS and verify the domain."""
    with api_client() as client:
        domain = check(client.post(_path(name, "/verify")))
    emit(domain, as_json=as_json, columns=[*COLUMNS, "availabilityStatus", "movedUsers"])


@app.command("set-default")
def set_default(name: str, as_json: bool = JsonOption) -> None:
    """Make a verified domain the default for new users."""
    with api_client() as client:
        domain = check(client.patch(_path(name), json={"isDefault": True}))
    emit(domain, as_json=as_json, columns=COLUMNS)


@app.command("remove")
def remove(
    name: str,
    force: bool = typer.Option(
        False, "--force", help="Move its users to the initial domain and disable them."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Remove a domain (refused while it is the default or in use, unless --force)."""
    with api_client() as client:
        check(client.delete(_path(name), params={"force": "true"} if force else None))
    if as_json:
        emit({"removed": name, "forced": force}, as_json=True)
    else:
        console.print(f"Removed {name}.")
