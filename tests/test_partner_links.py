"""Linked tenants and the partner account a person acts for, over HTTP: who may link a tenant
(nothing is created otherwise, nothing changes in its directory), unlinking, another
organization's account answering 404 everywhere, and `partnerAccountId` at sign-in."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tenantry.auth.models import WEB_SESSION
from tenantry.core.audit import Actor
from tenantry.core.db import Database
from tenantry.partner import acting
from tenantry.partner.exceptions import NotPartnerAccountMember
from tests.support.admin import make_global_admin
from tests.support.partner import add_person, enroll, roles_by_address
from tests.test_web_admin_takeover import sign_in


@pytest.fixture()
def two(stories, database):
    """Ariane (contoso.com) enrolled Contoso Labs; Bruno is Global Administrator of
    fabrikam.com, where Kim is a plain user."""
    for email, name in (("ariane@contoso.com", "Ariane Dupont"), ("bruno@fabrikam.com", "Bruno")):
        stories.sign_up(email, name)
        make_global_admin(database, email)
    ariane = stories.client_for("ariane@contoso.com")
    bruno = stories.client_for("bruno@fabrikam.com")
    add_person(bruno, "kim@fabrikam.com", "Kim Lee")
    account = enroll(ariane, "Contoso Labs")
    fabrikam = bruno.get("/v1/organization").json()["id"]
    return ariane, bruno, account, fabrikam


def count(database, table: str) -> int:
    return database.scalar(f"SELECT count(*) FROM {table}")


def test_linking_a_tenant_needs_one_of_its_global_administrators(two, stories, database):
    ariane, bruno, account, fabrikam = two
    path = f"/v1/partnerAccounts/{account['id']}/tenants"
    directory = bruno.get("/v1/users").json()["value"]
    kim_token = stories.token("kim@fabrikam.com")

    # Ariane is Owner of the account but not an administrator of fabrikam: refused, whatever
    # she sends; an id that names no tenant reads the same.
    for body in (
        {"tenantId": fabrikam},
        {"tenantId": fabrikam, "tenantAdministratorToken": kim_token},
        {"tenantId": fabrikam, "tenantAdministratorToken": "made-up"},
        {"tenantId": "00000000-0000-4000-8000-000000000000"},
        {"tenantId": "not-an-id"},
    ):
        refused = ariane.post(path, json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "notTenantGlobalAdministrator"
        assert "fabrikam" not in refused.text.lower()
    assert count(database, "partner_account_tenants") == 1

    # With a token of Bruno, fabrikam's Global Administrator, the tenant is linked.
    linked = ariane.post(
        path,
        json={
            "tenantId": fabrikam,
            "tenantAdministratorToken": stories.token("bruno@fabrikam.com"),
        },
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()["displayName"] == "fabrikam.com"
    assert linked.json()["isEnrollingTenant"] is False
    tenants = ariane.get(path).json()["value"]
    assert [t["displayName"] for t in tenants] == ["contoso.com", "fabrikam.com"]
    again = ariane.post(
        path,
        json={
            "tenantId": fabrikam,
            "tenantAdministratorToken": stories.token("bruno@fabrikam.com"),
        },
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "tenantAlreadyLinked"
    # Nothing changed in fabrikam's directory; its audit log says who linked it.
    assert bruno.get("/v1/users").json()["value"] == directory
    events = bruno.get("/v1/auditLogs/directoryAudits").json()["value"]
    assert any(event["activityDisplayName"] == "partnerAccount.tenantLinked" for event in events)

    # The account's Owner sees fabrikam's users, to pick members among them.
    found = ariane.get(f"{path}/{fabrikam}/users", params={"$search": "kim"})
    assert found.status_code == 200, found.text
    assert [u["userPrincipalName"] for u in found.json()["value"]] == ["kim@fabrikam.com"]
    assert len(ariane.get(f"{path}/{fabrikam}/users").json()["value"]) == 2

    # fabrikam's people can now be members.
    added = ariane.post(
        f"/v1/partnerAccounts/{account['id']}/members",
        json={"userIds": ["kim@fabrikam.com"], "roles": ["developer"]},
    )
    assert added.status_code == 201, added.text
    assert added.json()["value"][0]["tenantId"] == fabrikam
    kim = stories.client_for("kim@fabrikam.com")
    assert kim.get("/v1/me").json()["partnerAccount"]["publisherDisplayName"] == "Contoso Labs"

    # A Developer neither links tenants nor browses their users.
    refused = kim.post(path, json={"tenantId": fabrikam})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "partnerRoleRequired"
    refused = kim.get(f"{path}/{account['tenantId']}/users")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "partnerRoleRequired"

    # Unlinking removes fabrikam's memberships, not its people; the enrolling tenant stays.
    stays = ariane.delete(f"{path}/{account['tenantId']}")
    assert stays.status_code == 400
    assert stays.json()["error"]["code"] == "cannotUnlinkEnrollingTenant"
    gone = ariane.delete(f"{path}/{fabrikam}")
    assert gone.status_code == 204, gone.text
    assert set(roles_by_address(ariane, account["id"])) == {"ariane@contoso.com"}
    assert bruno.get("/v1/users/kim@fabrikam.com").status_code == 200
    assert kim.get("/v1/me").json()["partnerAccount"] is None
    for missing in (ariane.delete(f"{path}/{fabrikam}"), ariane.get(f"{path}/{fabrikam}/users")):
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "tenantNotLinked"
        assert "kim" not in missing.text
    actions = [
        row[0]
        for row in database.rows(
            "SELECT action FROM audit_events WHERE action LIKE 'partnerAccount.tenant%'"
        )
    ]
    # Each recorded in both organizations' logs.
    assert (
        sorted(actions)
        == ["partnerAccount.tenantLinked"] * 2 + ["partnerAccount.tenantUnlinked"] * 2
    )


def test_another_accounts_routes_answer_404(two, stories, database):
    ariane, bruno, account, fabrikam = two
    bruno_account = enroll(bruno, "Fabrikam Studio")
    add_person(ariane, "alain@contoso.com", "Alain Martin")
    ariane.post(
        f"/v1/partnerAccounts/{account['id']}/members",
        json={"userIds": ["alain@contoso.com"], "roles": ["developer"]},
    ).raise_for_status()
    before = (count(database, "partner_account_members"), count(database, "partner_member_roles"))
    path = f"/v1/partnerAccounts/{account['id']}"
    probes = [
        ("GET", "", None),
        ("PATCH", "", {"publisherDisplayName": "Mine"}),
        ("POST", "/resendApproval", None),
        ("GET", "/tenants", None),
        ("POST", "/tenants", {"tenantId": fabrikam}),
        ("DELETE", f"/tenants/{account['tenantId']}", None),
        ("GET", "/members", None),
        ("POST", "/members", {"userIds": ["bruno@fabrikam.com"], "roles": ["owner"]}),
        ("GET", "/members/alain@contoso.com", None),
        ("PATCH", "/members/alain@contoso.com", {"roles": ["owner"]}),
        ("DELETE", "/members/ariane@contoso.com", None),
    ]
    for method, suffix, body in probes:
        answer = bruno.request(method, f"{path}{suffix}", json=body)
        assert answer.status_code == 404, (method, suffix, answer.text)
        assert answer.json()["error"]["code"] == "partnerAccountNotFound"
        assert "contoso" not in answer.text.lower() and "alain" not in answer.text.lower()
    # Bruno's own account with Contoso's ids: nothing of Contoso either.
    own = f"/v1/partnerAccounts/{bruno_account['id']}"
    assert bruno.get(f"{own}/members/alain@contoso.com").status_code == 404
    assert bruno.delete(f"{own}/tenants/{account['tenantId']}").status_code == 404
    refused = bruno.post(
        f"{own}/members", json={"userIds": ["alain@contoso.com"], "roles": ["marketer"]}
    )
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "userNotFound"
    assert (
        count(database, "partner_account_members"),
        count(database, "partner_member_roles"),
    ) == before
    assert bruno.get("/v1/me/partnerAccounts").json()["value"][0]["publisherDisplayName"] == (
        "Fabrikam Studio"
    )


def test_the_token_acts_for_the_partner_account_named_at_sign_in(two, stories, database, api):
    ariane, bruno, account, fabrikam = two
    bruno_account = enroll(bruno, "Fabrikam Studio")
    # Bruno also works for Contoso Labs: two accounts, so no token acts for one by itself.
    ariane.post(
        f"/v1/partnerAccounts/{account['id']}/tenants",
        json={
            "tenantId": fabrikam,
            "tenantAdministratorToken": stories.token("bruno@fabrikam.com"),
        },
    ).raise_for_status()
    ariane.post(
        f"/v1/partnerAccounts/{account['id']}/members",
        json={"userIds": ["bruno@fabrikam.com"], "roles": ["manager", "marketer"]},
    ).raise_for_status()
    bruno = stories.client_for("bruno@fabrikam.com")
    mine = bruno.get("/v1/me/partnerAccounts").json()["value"]
    assert [(m["publisherDisplayName"], m["roles"]) for m in mine] == [
        ("Contoso Labs", ["manager", "marketer"]),
        ("Fabrikam Studio", ["owner"]),
    ]
    assert bruno.get("/v1/me").json()["partnerAccount"] is None

    def sign_in(**extra):
        return api.post(
            "/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "bruno@fabrikam.com",
                "password": "Correct-Horse-9",
                **extra,
            },
        )

    chosen = sign_in(partnerAccountId=account["id"])
    assert chosen.status_code == 200, chosen.text
    me = api.get("/v1/me", headers={"Authorization": f"Bearer {chosen.json()['access_token']}"})
    assert me.json()["partnerAccount"] == {
        "id": account["id"],
        "publisherDisplayName": "Contoso Labs",
        "state": "pendingApproval",
        "roles": ["manager", "marketer"],
    }

    # An account Bruno is not a member of, or none at all: refused, and no token is made.
    stories.sign_up("olga@northwind.com", "Olga")
    make_global_admin(database, "olga@northwind.com")
    northwind = enroll(stories.client_for("olga@northwind.com"), "Northwind Works")
    tokens = count(database, "access_tokens")
    for value in (northwind["id"], "00000000-0000-4000-8000-000000000000", "nope"):
        refused = sign_in(partnerAccountId=value)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "notPartnerAccountMember"
        assert "Northwind" not in refused.text
    assert count(database, "access_tokens") == tokens
    french = api.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "bruno@fabrikam.com",
            "password": "Correct-Horse-9",
            "partnerAccountId": "nope",
        },
        headers={"Accept-Language": "fr"},
    )
    assert french.json()["error"]["message"].startswith("Vous n'êtes pas membre")
    assert bruno_account["id"] in {m["id"] for m in mine}


def test_a_web_session_acts_for_the_only_account_and_may_be_given_another(
    two, stories, database, server
):
    """The partner pages' chooser calls `partner.acting.choose` on the session: here straight
    through the service, on the real database, with the session the sign-in page made."""
    _, bruno, account, _ = two
    other = enroll(bruno, "Fabrikam Studio")
    with sign_in(server, "ariane@contoso.com") as browser:
        session = browser.cookies["tenantry_session"]
        (row,) = database.rows(
            "SELECT partner_account_id, user_id FROM access_tokens WHERE kind = 'web'"
        )
        assert uuid.UUID(str(row[0])) == uuid.UUID(account["id"])
        user_id = uuid.UUID(str(row[1]))

        async def choose(partner_account_id):
            db = Database(database.url)
            try:
                async with db.unit_of_work() as db_session:
                    return await acting.choose(
                        db_session=db_session,
                        token=session,
                        kind=WEB_SESSION,
                        actor=Actor(user_id, uuid.UUID(account["tenantId"]), "127.0.0.1"),
                        partner_account_id=partner_account_id,
                        language="en",
                    )
            finally:
                await db.dispose()

        assert asyncio.run(choose(None)) is None
        assert (
            database.scalar("SELECT partner_account_id FROM access_tokens WHERE kind = 'web'")
            is None
        )
        with pytest.raises(NotPartnerAccountMember):
            asyncio.run(choose(uuid.UUID(other["id"])))
        chosen = asyncio.run(choose(uuid.UUID(account["id"])))
        assert chosen is not None and chosen.roles == ["owner"]
        assert browser.get("/").status_code == 200  # still signed in
    assert (
        database.scalar("SELECT count(*) FROM audit_events WHERE action = 'Choose partner account'")
        == 2
    )
