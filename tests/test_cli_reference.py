"""docs/cli.md's command reference is what the CLI itself says: a command added, renamed
or given another option without the documentation following fails here."""

from __future__ import annotations

from tenantry.cli.main import app
from tenantry.cli.reference import DOCUMENT, document_with_reference, reference


def test_docs_cli_md_is_what_the_cli_generates():
    current = DOCUMENT.read_text()
    assert current == document_with_reference(current, app), (
        "docs/cli.md is out of date: run `python -m tenantry.cli.reference --write`"
    )


def test_every_command_is_in_the_reference_with_its_options():
    table = reference(app)
    for line in (
        "| `tenantry user list` | `[--filter FILTER] [--search SEARCH]",
        "| `tenantry group license status` | `GROUP [--wait]",
        "| `tenantry jobs list` |",
        "| `tenantry doctor` | `[--json]` |",
        "| `tenantry subscription buy` | `SKU QUANTITY",
    ):
        assert line in table, line
