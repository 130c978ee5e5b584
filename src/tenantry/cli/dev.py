"""`tenantry dev dns …`: the development DNS zone of a server started with `--dev`.

It talks to the server over HTTP (`--url`, `TENANTRY_URL`, by default the address
`./scripts/serve` listens on); no sign-in, as the zone exists only on a development
server, which listens on loopback only.
"""

from __future__ import annotations

import typer

from tenantry.cli.support import JsonOption, check, console, emit, fail, server_client

app = typer.Typer(help="Development tools of a server started with `tenantry serve --dev`.")
dns_app = typer.Typer(help="The development DNS zone: TXT records domain verification reads.")
app.add_typer(dns_app, name="dns")

UrlOption = typer.Option(
    "http://127.0.0.1:8000", "--url", envvar="TENANTRY_URL", help="The development server."
)
NOT_DEV = "{url} is not in development mode: start it with `tenantry serve --dev` (./scripts/serve)"


def _zone(response_status: int, url: str) -> None:
    if response_status == 404:
        fail(NOT_DEV.format(url=url))


@dns_app.command("publish")
def publish(
    name: str = typer.Argument(..., help="Where, e.g. contoso.com."),
    record_type: str = typer.Argument(..., metavar="TXT", help="The record type: TXT."),
    value: str = typer.Argument(..., help="e.g. tenantry-verify=…"),
    url: str = UrlOption,
    as_json: bool = JsonOption,
) -> None:
    """Publish a TXT record in the development zone: domain verification finds it at once."""
    if record_type.upper() != "TXT":
        fail(f"the development zone holds TXT records, not {record_type}")
    with server_client(url) as client:
        response = client.post("/dev/dns/records", json={"name": name, "value": value})
        _zone(response.status_code, url)
        record = check(response)
    if as_json:
        emit(record, as_json=True)
    else:
        console.print(f'Published {record["name"]} TXT "{record["value"]}"', soft_wrap=True)


@dns_app.command("list")
def list_records(url: str = UrlOption, as_json: bool = JsonOption) -> None:
    """Every record of the development zone."""
    with server_client(url) as client:
        response = client.get("/dev/dns/records")
        _zone(response.status_code, url)
        records = check(response)["value"]
    emit(
        records, as_json=as_json, columns=["id", "name", "type", "value"], title="Development zone"
    )


@dns_app.command("remove")
def remove(
    record_id: str = typer.Argument(..., metavar="ID", help="From `tenantry dev dns list`."),
    url: str = UrlOption,
    as_json: bool = JsonOption,
) -> None:
    """Take a record out of the development zone."""
    with server_client(url) as client:
        response = client.delete(f"/dev/dns/records/{record_id}")
        if response.status_code == 404 and client.get("/dev/dns/records").status_code == 404:
            fail(NOT_DEV.format(url=url))
        check(response)
    emit({"removed": record_id}, as_json=as_json)
