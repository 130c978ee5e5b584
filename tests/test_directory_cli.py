"""`tenantry user …`, `tenantry group …`, `tenantry role …` against a live server."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tenantry.cli.main import app
from tenantry.directory.cli import csv_chunks
from tests.support.admin import make_global_admin
from tests.support.stories import PASSWORD


@pytest.fixture()
def cli(tmp_path, monkeypatch, server):
    monkeypatch.setenv("TENANTRY_CONFIG_DIR", str(tmp_path))
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> object:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    return run


def test_an_admin_manages_the_directory_from_the_terminal(cli, stories, database, server, tmp_path):
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    make_global_admin(database, "ariane@contoso.com")
    cli("login", "--url", server.url, "-u", "ariane@contoso.com", "-p", PASSWORD, "--json")

    added = cli(
        "user", "add", "alain@contoso.com", "Alain Martin", "--usage-location", "FR", "--json"
    )
    assert added["usageLocation"] == "FR" and added["temporaryPassword"]

    users_csv = tmp_path / "users.csv"
    users_csv.write_text(
        "userPrincipalName,displayName,usageLocation\n"
        + "".join(f"user{i}@contoso.com,User {i:02},BE\n" for i in range(7))
        + "bad@contoso.com,Bad,Belgium\n"
        + "alain@contoso.com,Alain Again,FR\n"
    )
    report = cli("user", "import", str(users_csv), "--chunk-size", "3", "--json", code=2)
    assert (report["total"], report["created"], report["failed"]) == (9, 7, 2)
    failed = {
        row["row"]: row["error"]["code"] for row in report["rows"] if row["status"] != "created"
    }
    assert failed == {8: "invalidCountryCode", 9: "userAlreadyExists"}
    table = cli("user", "import", str(users_csv), code=2)
    assert "0 created, 9 failed, of 9 rows." in table

    listed = cli(
        "user", "list", "--filter", "usageLocation eq 'BE'", "--top", "5", "--all", "--json"
    )
    assert [u["displayName"] for u in listed] == [f"User {i:02}" for i in range(7)]
    found = cli("user", "list", "--search", "alain", "--json")
    assert [u["userPrincipalName"] for u in found] == ["alain@contoso.com"]

    cli("user", "update", "alain@contoso.com", "--usage-location", "NL", "--json")
    cli("user", "block", "alain@contoso.com", "--json")
    shown = cli("user", "show", "alain@contoso.com", "--json")
    assert (shown["usageLocation"], shown["accountEnabled"]) == ("NL", False)
    cli("user", "unblock", "alain@contoso.com")

    reset = cli("user", "reset-password", "alain@contoso.com", "--json")
    temporary = reset["temporaryPassword"]

    sales = cli("group", "create", "Sales", "--description", "Sellers", "--json")
    added_members = cli(
        "group", "add-members", "Sales", "alain@contoso.com", "user0@contoso.com", "--json"
    )
    assert (added_members["added"], added_members["alreadyMembers"]) == (2, 0)
    unknown = CliRunner().invoke(
        app, ["group", "add-members", "Sales", "user1@contoso.com", "nobody@contoso.com"]
    )
    assert unknown.exit_code == 1
    assert "no user has the address nobody@contoso.com" in unknown.output
    members = cli("group", "members", sales["id"], "--json")
    assert [m["userPrincipalName"] for m in members] == ["alain@contoso.com", "user0@contoso.com"]
    cli("group", "remove-member", "Sales", "user0@contoso.com", "--json")
    assert len(cli("group", "members", "Sales", "--json")) == 1

    cli("role", "add", "UserAdministrator", "alain@contoso.com", "--json")
    roles = {r["roleName"]: r for r in cli("role", "list", "--json")}
    assert [m["userPrincipalName"] for m in roles["UserAdministrator"]["members"]] == [
        "alain@contoso.com"
    ]
    refused = cli("role", "remove", "GlobalAdministrator", "ariane@contoso.com", code=1)
    assert refused == ""  # the error goes to standard error

    sent = cli("user", "send-message", "--subject", "Hello", "--body", "Welcome all", "--json")
    assert sent["recipients"] == 9  # Ariane, Alain and 7 imported users

    cli("user", "delete", "user6@contoso.com", "--yes", "--json")
    cli("group", "delete", "Sales", "--yes", "--json")
    assert cli("group", "list", "--json") == []

    # Alain signs in with the temporary password and chooses his own on the way.
    cli(
        "login", "--url", server.url, "-u", "alain@contoso.com", "-p", temporary,
        "--new-password", "Brand-New-Pass-7", "--json",
    )  # fmt: skip
    assert "alain@contoso.com" in cli("whoami")
    assert stories.token("alain@contoso.com", "Brand-New-Pass-7")


def test_the_import_cuts_the_file_by_lines_as_the_server_reads_it():
    # A quote left open on a line fails that row alone on the server; the CLI must neither
    # read the lines after it into that row nor count them as one.
    data = (
        "userPrincipalName,displayName\n"
        'alain@contoso.com,"Alain Martin\n'
        ",\n"
        "chloe@contoso.com,Chloé\n"
        'lea@contoso.com,"Léa"\n'
    ).encode()
    total, chunks = csv_chunks(data, 2)
    header = "userPrincipalName,displayName"
    assert total == 3
    assert [(offset, chunk.decode().splitlines()) for offset, chunk in chunks] == [
        (0, [header, 'alain@contoso.com,"Alain Martin', "chloe@contoso.com,Chloé"]),
        (2, [header, 'lea@contoso.com,"Léa"']),
    ]


def test_tables_show_addresses_and_ids_whole_and_flags_take_no_value(
    cli, stories, database, server
):
    stories.sign_up("alexandra.vandenberghe-dupont@contoso.com", "Alexandra Vandenberghe-Dupont")
    make_global_admin(database, "alexandra.vandenberghe-dupont@contoso.com")
    cli("login", "--url", server.url, "-u", "alexandra.vandenberghe-dupont@contoso.com",
        "-p", PASSWORD, "--json")  # fmt: skip
    (me,) = cli("user", "list", "--json")
    table = cli("user", "list")
    lines = table.splitlines()
    # Wider than 80 columns, and still every value whole on its line: nothing cut with "…".
    assert "…" not in table
    assert any(me["id"] in line and me["userPrincipalName"] in line for line in lines), table
    help_text = cli("user", "list", "--help")
    assert "<bool>" not in help_text
    assert "[desc]" in help_text
