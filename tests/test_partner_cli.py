"""`tenantry partner enroll|show|members|link-tenant|unlink-tenant` against a live server."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tenantry.cli.main import app
from tests.support.admin import make_global_admin
from tests.support.partner import add_person
from tests.support.stories import PASSWORD

ENROLL = [
    "partner",
    "enroll",
    "--country",
    "FR",
    "--publisher-name",
    "Contoso Labs",
    "--contact-name",
    "Ariane Dupont",
    "--contact-email",
    "ariane@contoso.com",
    "--contact-phone",
    "+33 1 42 68 53 00",
    "--approver-name",
    "Jean Martin",
    "--approver-email",
    "jean@contoso.com",
    "--approver-phone",
    "+33 6 12 34 56 78",
]


@pytest.fixture()
def cli(tmp_path, monkeypatch, server):
    monkeypatch.setenv("TENANTRY_CONFIG_DIR", str(tmp_path))
    runner = CliRunner()

    def run(*args: str, code: int = 0, input: str | None = None) -> object:
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if "--json" in args and code == 0 else result.output

    return run


def admin(stories, database, email: str, name: str):
    stories.sign_up(email, name)
    make_global_admin(database, email)
    return stories.client_for(email)


def test_ariane_runs_the_partner_account_from_the_terminal(cli, stories, database, server, smtp):
    ariane = admin(stories, database, "ariane@contoso.com", "Ariane Dupont")
    bruno = admin(stories, database, "bruno@fabrikam.com", "Bruno Costa")
    add_person(bruno, "kim@fabrikam.com", "Kim Lee")
    for email, name in (("alain@contoso.com", "Alain Martin"), ("bea@contoso.com", "Bea Durand")):
        add_person(ariane, email, name)
    cli("login", "--url", server.url, "-u", "ariane@contoso.com", "-p", PASSWORD, "--json")

    account = cli(*ENROLL, "--accept-agreement", "--json")
    assert account["state"] == "pendingApproval" and account["contact"]["phone"] == "+33142685300"
    assert smtp.wait_for("jean@contoso.com")
    # Signed in before the account existed, the token acts for none: the only one is found.
    shown = cli("partner", "show", "--json")
    assert shown["id"] == account["id"]
    assert [t["displayName"] for t in shown["tenants"]] == ["contoso.com"]
    assert [(m["userPrincipalName"], m["roles"]) for m in shown["members"]] == [
        ("ariane@contoso.com", ["owner"])
    ]

    added = cli(
        "partner",
        "members",
        "add",
        "alain@contoso.com",
        "bea@contoso.com",
        "--role",
        "developer",
        "--new-user",
        "fanny@contoso.com,Fanny Roux",
        "--json",
    )
    assert (added["added"], added["alreadyMembers"]) == (3, 0)
    table = cli("partner", "members", "add", "chloe@contoso.com", "--role", "marketer", code=1)
    assert "userNotFound" in table and "chloe@contoso.com" in table
    developers = cli("partner", "members", "list", "--role", "developer", "--json")
    assert sorted(m["userPrincipalName"] for m in developers) == [
        "alain@contoso.com",
        "bea@contoso.com",
        "fanny@contoso.com",
    ]
    changed = cli(
        "partner",
        "members",
        "set-roles",
        "alain@contoso.com",
        "--role",
        "manager",
        "--role",
        "marketer",
        "--json",
    )
    assert changed["roles"] == ["manager", "marketer"]
    assert "is no longer a member" in cli("partner", "members", "remove", "bea@contoso.com")
    assert "lastOwner" in cli("partner", "members", "remove", "ariane@contoso.com", code=1)
    listed = cli("partner", "members", "list")
    assert "alain@contoso.com" in listed and "bea@contoso.com" not in listed

    # Linking fabrikam: Kim is no Global Administrator of it; Bruno is. His token serves once.
    fabrikam = bruno.get("/v1/organization").json()["id"]
    refused = cli(
        "partner",
        "link-tenant",
        fabrikam,
        "--admin-username",
        "kim@fabrikam.com",
        "--admin-password",
        PASSWORD,
        code=1,
    )
    assert "notTenantGlobalAdministrator" in refused
    tokens = database.scalar(
        "SELECT count(*) FROM access_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE u.user_principal_name = 'bruno@fabrikam.com'"
    )
    linked = cli("partner", "link-tenant", fabrikam, input=f"bruno@fabrikam.com\n{PASSWORD}\n")
    assert "Global Administrator of the tenant to link" in linked
    assert f"Linked fabrikam.com ({fabrikam})" in linked
    assert tokens == database.scalar(
        "SELECT count(*) FROM access_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE u.user_principal_name = 'bruno@fabrikam.com'"
    )
    cli("partner", "members", "add", "kim@fabrikam.com", "--role", "developer", "--json")
    shown = cli("partner", "show", account["id"])
    assert "fabrikam.com" in shown and "Kim Lee" in shown and "pendingApproval" in shown
    assert "Unlinked" in cli("partner", "unlink-tenant", fabrikam)
    assert "kim@fabrikam.com" not in cli("partner", "show")


def test_enroll_asks_for_what_is_missing_and_for_the_agreement(cli, stories, database, server):
    admin(stories, database, "ariane@contoso.com", "Ariane Dupont")
    fabrikam = admin(stories, database, "bruno@fabrikam.com", "Bruno Costa")
    fabrikam.post(
        "/v1/partnerAccounts",
        json={
            "countryOrRegion": "FR",
            "accountType": "company",
            "publisherDisplayName": "Contoso Labs",
            "contact": {"name": "B", "email": "bruno@fabrikam.com", "phone": "+33 1 42 68 53 00"},
            "approver": {"name": "J", "email": "j@fabrikam.com", "phone": "+33 1 42 68 53 00"},
            "agreement": {"version": "tenantry-default-1", "accepted": True},
        },
    ).raise_for_status()
    cli("login", "--url", server.url, "-u", "ariane@contoso.com", "-p", PASSWORD, "--json")

    # Declining the agreement enrolls nothing.
    answers = "FR\nContoso Studio\n\n\n+33 1 42 68 53 00\nJean Martin\njean@contoso.com\n" + (
        "+33 6 12 34 56 78\n"
    )
    declined = cli("partner", "enroll", code=1, input=answers + "n\n")
    assert "Collaboration" in declined and "not enrolled" in declined
    assert database.scalar("SELECT count(*) FROM partner_accounts") == 1

    # A taken name is asked again; her name and address are offered as the contact's.
    answers = "FR\ncontoso labs\nContoso Studio\n\n\n+33 1 42 68 53 00\nJean Martin\n" + (
        "jean@contoso.com\n+33 6 12 34 56 78\ny\n"
    )
    output = cli("partner", "enroll", input=answers)
    assert "publisherNameTaken" in output and "Enrolled Contoso Studio" in output
    ariane = stories.client_for("ariane@contoso.com")
    (account,) = ariane.get("/v1/me/partnerAccounts").json()["value"]
    assert account["publisherDisplayName"] == "Contoso Studio" and account["roles"] == ["owner"]
    contact = database.rows(
        "SELECT contact_name, contact_email FROM partner_accounts "
        "WHERE publisher_display_name = 'Contoso Studio'"
    )
    assert contact == [("Ariane Dupont", "ariane@contoso.com")]


def test_ariane_invites_consultants_into_the_partner_account(cli, stories, database, server, smtp):
    ariane = admin(stories, database, "ariane@contoso.com", "Ariane Dupont")
    ariane.close()
    cli("login", "--url", server.url, "-u", "ariane@contoso.com", "-p", PASSWORD, "--json")
    cli(*ENROLL, "--accept-agreement", "--json")
    invited = cli(
        "partner", "invite", "kim@fabrikam.com", "lee@example.org", "--role", "developer",
        "--json",
    )  # fmt: skip
    assert [i["status"] for i in invited["invitations"]] == ["PendingAcceptance"] * 2
    assert invited["members"]["added"] == 2
    guests = {m["userPrincipalName"]: m["roles"] for m in invited["members"]["value"]}
    assert guests == {
        "kim_fabrikam.com#EXT#@" + guests_domain(guests, "kim"): ["developer"],
        "lee_example.org#EXT#@" + guests_domain(guests, "lee"): ["developer"],
    }
    assert smtp.wait_for("kim@fabrikam.com") and smtp.wait_for("lee@example.org")
    too_many = [f"p{i}@example.org" for i in range(11)]
    refused = cli("partner", "invite", *too_many, "--role", "developer", code=1)
    assert "at most 10" in refused


def guests_domain(names: dict[str, list[str]], who: str) -> str:
    return next(name for name in names if name.startswith(who)).split("#EXT#@", 1)[1]
