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
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error and exit."""
    err_console.print(f"[red]error:[/red] {message}")
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


def api_client() -> httpx.Client:
    """An HTTP client for the server `tenantry login` signed in to."""
    path = credentials_path()
    if not path.exists():
        fail("not signed in: run `tenantry login` first")
    saved = json.loads(path.read_text())
    return httpx.Client(
        base_url=saved["url"],
        headers={"Authorization": f"Bearer {saved['access_token']}"},
        timeout=30,
    )


def check(response: httpx.Response) -> Any:
    """The JSON of a successful response, or the server's error message and exit 1."""
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            fail(f"{error['message']} ({error['code']})")
        except (ValueError, KeyError, TypeError):
            fail(f"HTTP {response.status_code}: {response.text[:200]}")
    return response.json() if response.content else None
