"""The terminal path: `tenantry login`, `tenantry admin become`, `tenantry domain …` (--json)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tenantry.cli.main import app
from tests.support.stories import PASSWORD


@pytest.fixture()
def cli(tmp_path, monkeypatch, server):
    monkeypatch.setenv("TENANTRY_CONFIG_DIR", str(tmp_path))
    runner = CliRunner()

    def run(*args: str) -> object:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    return run


def test_become_admin_and_manage_domains_from_the_terminal(cli, stories, dns_zone, server):
    stories.sign_up("ariane@contoso.com", "Ariane")
    cli("login", "--url", server.url, "-u", "ariane@contoso.com", "-p", PASSWORD, "--json")

    state = cli("admin", "become", "--json")
    assert state["status"] == "started"
    record = state["verificationDnsRecords"][0]
    dns_zone.publish(record["label"], record["text"])

    said = cli(
        "admin", "become", "--wait", "--interval", "0.2", "--timeout", "10",
        "--sku", "BUSINESS_ESSENTIALS",
    )  # fmt: skip
    assert "Bought 1 BUSINESS_ESSENTIALS licenses" in said
    me = cli("whoami", "--json")
    assert me["organization"]["state"] == "managed"
    granted = me["entitlements"]["entitlements"]
    assert granted  # what the Business Essentials license entitles Ariane to
    shown = cli("whoami")
    assert "Entitlements" in shown
    assert all(name in shown for name in granted)

    added = cli("domain", "add", "fabrikam.com", "--json")
    assert added["domain"]["isVerified"] is False
    txt = added["verificationDnsRecords"][0]
    dns_zone.publish(txt["label"], txt["text"])
    assert cli("domain", "verify", "fabrikam.com", "--json")["isVerified"] is True
    assert cli("domain", "set-default", "fabrikam.com", "--json")["isDefault"] is True
    names = {d["id"]: d for d in cli("domain", "list", "--json")}
    assert names["fabrikam.com"]["isDefault"]
    cli("domain", "set-default", "contoso.com", "--json")
    assert cli("domain", "remove", "fabrikam.com", "--json") == {
        "removed": "fabrikam.com",
        "forced": False,
    }
    assert "fabrikam.com" not in {d["id"] for d in cli("domain", "list", "--json")}
    assert "Domains" in cli("domain", "list")
    removed = cli("audit", "list", "--action", "Remove*", "--json")
    assert [e["targetResources"][0]["id"] for e in removed] == ["fabrikam.com"]
