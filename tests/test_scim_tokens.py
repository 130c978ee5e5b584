"""Provisioning tokens: created by an admin (shown once), listed, revoked at once; the CLI;
and a token sees only its own organization."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tenantry.cli.main import app
from tenantry.core.clock import clock
from tests.support.directory import add_user
from tests.support.licensing import cli as cli_json
from tests.support.scim import entra_user, patch, provisioning, scim_client
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


def test_a_token_is_shown_once_kept_hashed_and_revoked_at_once(stories, database):
    setup = provisioning(stories, database)
    admin = setup.admin.api
    assert setup.scim.get("/Users").status_code == 200
    listed = admin.get("/v1/scimTokens").json()["value"]
    assert [(t["id"], t["displayName"]) for t in listed] == [(setup.token_id, "Microsoft Entra ID")]
    assert "token" not in listed[0] and listed[0]["lastUsedDateTime"] is not None
    assert database.scalar("SELECT count(*) FROM scim_tokens WHERE digest = :t", t=setup.token) == 0

    revoked = admin.delete(f"/v1/scimTokens/{setup.token_id}")
    assert revoked.status_code == 204, revoked.text
    refused = setup.scim.get("/Users")
    assert refused.status_code == 401
    assert refused.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert (
        admin.delete(f"/v1/scimTokens/{setup.token_id}").json()["error"]["code"] == "tokenNotFound"
    )
    actions = [
        e["activityDisplayName"] for e in admin.get("/v1/auditLogs/directoryAudits").json()["value"]
    ]
    assert "Add provisioning token" in actions and "Revoke provisioning token" in actions


def test_only_global_and_user_administrators_manage_tokens(stories, database):
    setup = provisioning(stories, database)
    add_user(setup.admin.api, "lee@contoso.com", "Lee Gu", password=PASSWORD)
    member = stories.client_for("lee@contoso.com")
    assert member.post("/v1/scimTokens", json={"displayName": "x"}).status_code == 403
    assert member.get("/v1/scimTokens").status_code == 403
    assert member.delete(f"/v1/scimTokens/{setup.token_id}").status_code == 403


def test_another_organizations_ids_are_not_found(stories, database):
    contoso = provisioning(stories, database)
    fabrikam = provisioning(stories, database, "megan@fabrikam.com")
    alex = contoso.scim.post("/Users", json=entra_user("alex@contoso.com", "e1")).json()
    sales = contoso.scim.post("/Groups", json={"displayName": "Sales"}).json()
    for path in (f"/Users/{alex['id']}", f"/Groups/{sales['id']}"):
        assert fabrikam.scim.get(path).status_code == 404
        assert fabrikam.scim.delete(path).status_code == 404
        assert (
            fabrikam.scim.patch(
                path, json=patch({"op": "remove", "path": "externalId"})
            ).status_code
            == 404
        )
    listed = fabrikam.scim.get("/Users", params={"filter": 'userName eq "alex@contoso.com"'}).json()
    assert listed["totalResults"] == 0
    # Fabrikam cannot make a user on contoso.com, nor put Contoso's user in its group.
    refused = fabrikam.scim.post("/Users", json=entra_user("eve@contoso.com", "e2"))
    assert refused.status_code == 400 and refused.json()["scimType"] == "invalidValue"
    group = fabrikam.scim.post(
        "/Groups", json={"displayName": "Ops", "members": [{"value": alex["id"]}]}
    )
    assert group.status_code == 400, group.text
    assert (
        fabrikam.admin.api.get("/v1/auditLogs/provisioning").json()["value"][0][
            "provisioningStatusInfo"
        ]["status"]
        == "failure"
    )


def test_the_terminal_creates_lists_and_revokes_tokens(cli, stories, database, server):
    setup = provisioning(stories, database)
    cli("login", "--url", server.url, "-u", setup.admin.email, "-p", PASSWORD, "--json")
    created = cli("scim", "token", "create", "Okta", "--json")
    assert created["token"].startswith("tscim_")
    assert created["scimUrl"].endswith("/scim/v2")
    assert cli("scim", "url", "--json")["scimUrl"] == created["scimUrl"]
    names = {t["displayName"] for t in cli("scim", "token", "list", "--json")}
    assert names == {"Okta", "Microsoft Entra ID"}
    okta = scim_client(server.url, created["token"])
    okta.post("/Users", json=entra_user("alex@contoso.com", "o1"))
    rows = cli("scim", "log", "--json")
    assert rows[0]["httpMethod"] == "POST" and rows[0]["token"]["displayName"] == "Okta"
    assert "Okta" in cli("scim", "log")
    cli("scim", "token", "revoke", created["id"])
    assert okta.get("/Users").status_code == 401


def _pruned(database) -> int:
    counts = {row["records"]: row["deleted"] for row in cli_json(database, "prune")}
    return counts["provisioningLog"]


def test_the_provisioning_log_keeps_30_days(stories, database):
    setup = provisioning(stories, database)
    setup.scim.get("/Users")
    clock.advance(days=29)
    setup.scim.get("/Groups")
    assert _pruned(database) == 0
    clock.advance(days=2)
    assert _pruned(database) == 1
    admin = stories.client_for(setup.admin.email)  # a month later: signed in again
    rows = admin.get("/v1/auditLogs/provisioning").json()["value"]
    assert [row["path"] for row in rows] == ["/Groups"]


def test_a_token_acts_with_its_creators_rights(stories, database):
    setup = provisioning(stories, database)
    admin = setup.admin.api
    kim = setup.scim.post("/Users", json=entra_user("kim@contoso.com", "k")).json()
    lee = add_user(admin, "lee@contoso.com", "Lee Gu", password=PASSWORD)
    for user_id, role in ((kim["id"], "LicenseAdministrator"), (lee["id"], "UserAdministrator")):
        given = admin.post(f"/v1/directoryRoles/{role}/members", json={"userId": user_id})
        assert given.status_code in (200, 201, 204), given.text
    # A User Administrator's token cannot change an administrator (adminProtected)…
    lees = stories.client_for("lee@contoso.com")
    created = lees.post("/v1/scimTokens", json={"displayName": "Okta"})
    assert created.status_code == 201, created.text
    okta = scim_client(stories.server.url, created.json()["token"])
    title = patch({"op": "replace", "path": "title", "value": "Buyer"})
    refused = okta.patch(f"/Users/{kim['id']}", json=title)
    assert refused.status_code == 403, refused.text
    assert okta.delete(f"/Users/{kim['id']}").status_code == 403
    # … a Global Administrator's can.
    assert setup.scim.patch(f"/Users/{kim['id']}", json=title).status_code == 200
