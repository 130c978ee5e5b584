"""What every `tenantry` command shares: the API client, `--json`, tables and errors.

It imports no domain, so each domain's `cli.py` can import it while `tenantry.cli`
imports every domain's `cli.py` to assemble the app.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def emit(
    data: Any, *, as_json: bool, columns: list[str] | None = None, title: str | None = None
) -> None:
    """Print data as JSON or as a human table."""
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    rows = data if isinstance(data, list) else [data]
    if not rows:
        console.print("(nothing)")
        return
    columns = columns or list(rows[0].keys())
    table = Table(title=title)
    for column in columns:
        # Long values (addresses, ids) fold onto more lines, never cut with "…": what a
        # table shows can be copied whole, however narrow the terminal.
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    # Piped into a file or another program, a table is as wide as its longest values.
    out = console
    if not console.is_terminal:
        natural = Measurement.get(console, console.options.update(width=10_000), table).maximum
        if natural > console.width:
            out = Console(file=console.file, width=natural)
    out.print(table)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error and exit."""
    # One line, however narrow the terminal: a URL or an id in it stays whole to copy.
    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def print_txt_record(record: dict[str, object]) -> None:
    """A verification TXT record (as the API returns it) to publish, for people."""
    console.print("Publish this TXT record at your DNS host, then verify:")
    console.print(f"  type:  TXT\n  name:  @  ({record['label']})\n  value: {record['text']}")
    console.print(f"  TTL:   {record['ttl']}")


# --- API client ---------------------------------------------------------------------------


def credentials_path() -> Path:
    """Where `tenantry login` keeps the server URL and token."""
    base = os.environ.get("TENANTRY_CONFIG_DIR") or Path.home() / ".config" / "tenantry"
    return Path(base) / "credentials.json"


SERVER_HINT = "is `tenantry serve` running there? Another server: --url or TENANTRY_URL"


class _PlainErrors(httpx.HTTPTransport):
    """Turns a server that cannot be reached, or does not answer in time, into one line
    naming the URL and the fix (exit 1) instead of a traceback."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        server = f"{request.url.scheme}://{request.url.netloc.decode()}"
        try:
            return super().handle_request(request)
        except httpx.TimeoutException:
            fail(f"{server} did not answer in time: {SERVER_HINT}")
        except httpx.TransportError:
            fail(f"cannot reach {server}: {SERVER_HINT}")


def server_client(url: str, token: str | None = None) -> httpx.Client:
    """An HTTP client for the Tenantry server at `url`, with the bearer token if given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30, transport=_PlainErrors())


def api_client() -> httpx.Client:
    """An HTTP client for the server `tenantry login` signed in to."""
    path = credentials_path()
    if not path.exists():
        fail("not signed in: run `tenantry login` first")
    saved = json.loads(path.read_text())
    return server_client(saved["url"], saved["access_token"])


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        fail(
            f"{response.request.url} answered HTTP {response.status_code} with something "
            f"that is not Tenantry's JSON: {SERVER_HINT}"
        )


def check(response: httpx.Response) -> Any:
    """The JSON of a successful response, or the server's error message and exit 1."""
    if response.status_code >= 400:
        body = _json(response)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict) or "message" not in error:
            fail(f"HTTP {response.status_code} from {response.request.url}: {SERVER_HINT}")
        fail(f"{error['message']} ({error.get('code')})")
    return _json(response) if response.content else None


# --- the development DNS zone (`tenantry serve --dev`) --------------------------------------

DevZoneOption = typer.Option(
    False,
    "--publish-to-dev-zone",
    help="Publish the TXT record in the development server's DNS zone (tenantry serve --dev).",
)


def publish_to_dev_zone(client: httpx.Client, name: str, value: str) -> None:
    """Publish a TXT record in the development zone of the server `client` talks to."""
    response = client.post("/dev/dns/records", json={"name": name, "value": value})
    if response.status_code == 404:
        fail(
            f"{client.base_url} is not in development mode: publish the record at your DNS "
            "host, or start the server with `tenantry serve --dev` (./scripts/serve)"
        )
    check(response)
    err_console.print(f"Published the TXT record of {name} in the development zone.")
