"""`tenantry engagement …` against a live server: Nadia creates and decides from her terminal,
Paul (a Power User) lists his organization's members and requests."""

from __future__ import annotations

import csv
import io

from tests.support.engagements import cli as run
from tests.support.engagements import make_operator, ok, partner_organization, request_access
from tests.support.licensing import cli
from tests.support.stories import PASSWORD


def test_an_operator_and_a_power_user_work_from_the_terminal(stories, database, server, tmp_path):
    nadia = make_operator(stories, database, "nadia@tenantry-ops.com", "Nadia Operator")
    fabrikam = partner_organization(
        stories,
        database,
        nadia,
        domain="fabrikam.com",
        publisher="Fabrikam Labs",
        admin=("fatima", "Fatima Admin"),
        people=[("kim", "Kim Akers"), ("paul", "Paul Power"), ("lea", "Lea Lemaire")],
    )
    nadia_env = {"TENANTRY_CONFIG_DIR": str(tmp_path / "nadia")}
    paul_env = {"TENANTRY_CONFIG_DIR": str(tmp_path / "paul")}
    for email, env in (("nadia@tenantry-ops.com", nadia_env), ("paul@fabrikam.com", paul_env)):
        cli(database, "login", "-u", email, "-p", PASSWORD, "--url", server.url, env=env)

    terms = tmp_path / "terms.txt"
    terms.write_text("Preview terms.", "utf-8")
    created = cli(
        database, "engagement", "create", "Contoso Devices Preview", "--description",
        "Early devices.", "--terms-file", str(terms), "--all-partner-accounts", env=nadia_env,
    )  # fmt: skip
    assert created["termsOfUse"] == "Preview terms." and created["myRoles"] == ["owner"]
    assert created["joinPolicy"] == "approvalRequired"
    ok(
        nadia.post(
            f"/v1/engagements/{created['id']}/members",
            json={"userIds": [fabrikam.user_ids["paul@fabrikam.com"]], "role": "powerUser"},
        ),
        201,
    )
    listed = cli(database, "engagement", "list", env=nadia_env)
    assert [e["displayName"] for e in listed] == ["Contoso Devices Preview"]

    kim = fabrikam.client(stories, "kim@fabrikam.com")
    lea = fabrikam.client(stories, "lea@fabrikam.com")
    first = request_access(kim, created["id"], "Drivers.")
    second = request_access(lea, created["id"], "Docs.")
    pending = cli(database, "engagement", "requests", env=paul_env)
    assert {r["requester"]["displayName"] for r in pending} == {"Kim Akers", "Lea Lemaire"}

    approved = cli(
        database, "engagement", "approve", first["id"], "--note", "Welcome", env=paul_env
    )
    assert approved["state"] == "delivered" and approved["approverJustification"] == "Welcome"
    denied = cli(database, "engagement", "deny", second["id"], env=nadia_env)
    assert denied["state"] == "denied"
    assert cli(database, "engagement", "requests", env=nadia_env) == []

    members = cli(database, "engagement", "members", created["id"], env=paul_env)
    assert [m["displayName"] for m in members["value"]] == ["Kim Akers", "Paul Power"]
    exported = run(database, "engagement", "members", created["id"], "--csv", env=paul_env)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [row["displayName"] for row in rows] == ["Kim Akers", "Paul Power"]

    # A refusal is one line with its code, exit 1.
    refused = run(database, "engagement", "approve", first["id"], code=1, env=paul_env)
    assert "requestAlreadyDecided" in refused
