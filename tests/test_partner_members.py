"""Multi-user access to a partner account over HTTP (seed 003, "Comment configurer l'accès pour
plusieurs utilisateurs"): Ariane adds five contoso.com people at once with one role, groups
lend their roles to their members, new tenant users are made from here, the last Owner
stays, and every refusal leaves nothing behind."""

from __future__ import annotations

import pytest

from tests.support.admin import make_global_admin
from tests.support.partner import add_person, enroll, members, roles_by_address

PEOPLE = [
    ("alain@contoso.com", "Alain Martin"),
    ("bea@contoso.com", "Béatrice Durand"),
    ("chloe@contoso.com", "Chloé Petit"),
    ("david@contoso.com", "David Moreau"),
    ("emma@contoso.com", "Emma Laurent"),
]


@pytest.fixture()
def contoso(stories, database):
    """Ariane, Global Administrator of contoso.com, has enrolled Contoso Labs; five more
    people work at contoso.com."""
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    make_global_admin(database, "ariane@contoso.com")
    ariane = stories.client_for("ariane@contoso.com")
    account = enroll(ariane, "Contoso Labs")
    people = {email: add_person(ariane, email, name)["id"] for email, name in PEOPLE}
    return ariane, account, people


def count(database, table: str) -> int:
    return database.scalar(f"SELECT count(*) FROM {table}")


def test_ariane_adds_five_contoso_people_at_once_with_one_role(contoso, stories, database):
    ariane, account, people = contoso
    path = f"/v1/partnerAccounts/{account['id']}"
    # At enrollment: her tenant is linked and she is the Owner.
    tenants = ariane.get(f"{path}/tenants").json()["value"]
    assert [(t["displayName"], t["isEnrollingTenant"]) for t in tenants] == [("contoso.com", True)]
    assert roles_by_address(ariane, account["id"]) == {"ariane@contoso.com": ["owner"]}

    added = ariane.post(
        f"{path}/members",
        json={"userIds": [*list(people.values())[:4], "EMMA@Contoso.com"], "roles": ["developer"]},
    )
    assert added.status_code == 201, added.text
    assert (added.json()["added"], added.json()["alreadyMembers"]) == (5, 0)
    assert {m["userPrincipalName"] for m in added.json()["value"]} == set(people)
    assert roles_by_address(ariane, account["id"]) == {
        "ariane@contoso.com": ["owner"],
        **{email: ["developer"] for email in people},
    }
    assert count(database, "partner_account_members") == 6
    audited = database.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'partnerAccount.memberAdded'"
    )
    assert audited == 5

    # Alain signs in: the account is his only one, so his token acts for it.
    alain = stories.client_for("alain@contoso.com")
    mine = alain.get("/v1/me/partnerAccounts").json()["value"]
    assert [(a["publisherDisplayName"], a["roles"]) for a in mine] == [
        ("Contoso Labs", ["developer"])
    ]
    assert alain.get("/v1/me").json()["partnerAccount"] == {
        "id": account["id"],
        "publisherDisplayName": "Contoso Labs",
        "state": "pendingApproval",
        "roles": ["developer"],
    }
    # A Developer reads the account and its members, and changes nothing.
    assert alain.get(path).status_code == 200
    assert len(members(alain, account["id"])) == 6
    refused = alain.post(
        f"{path}/members", json={"userIds": [people["bea@contoso.com"]], "roles": ["manager"]}
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "partnerRoleRequired"
    assert alain.delete(f"{path}/members/bea@contoso.com").status_code == 403

    # Pages of two, in the order people were added; filters by role and type.
    first = ariane.get(f"{path}/members", params={"$top": 2})
    assert len(first.json()["value"]) == 2 and "@odata.nextLink" in first.json()
    paged = members(ariane, account["id"], **{"$top": 2})
    addresses = [m["userPrincipalName"] for m in paged]
    # Ariane first, then the five added together (in no particular order), each once.
    assert addresses[0] == "ariane@contoso.com" and sorted(addresses[1:]) == sorted(people)
    developers = members(ariane, account["id"], **{"$filter": "role eq 'developer'"})
    assert len(developers) == 5
    assert members(ariane, account["id"], **{"$filter": "memberType eq 'group'"}) == []
    bad = ariane.get(f"{path}/members", params={"$filter": "role eq 'admiral'"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalidFilter"
    bad = ariane.get(f"{path}/members", params={"$skiptoken": "not-a-token"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalidSkipToken"


def test_adding_is_all_or_nothing(contoso, stories, database):
    ariane, account, people = contoso
    path = f"/v1/partnerAccounts/{account['id']}/members"
    stories.sign_up("kim@fabrikam.com", "Kim Lee")  # another organization's user
    kim = database.scalar("SELECT id FROM users WHERE user_principal_name = 'kim@fabrikam.com'")
    before = count(database, "partner_account_members")

    for user_ids, missing in (
        ([people["alain@contoso.com"], "00000000-0000-4000-8000-000000000000"], 1),
        ([people["alain@contoso.com"], str(kim)], 1),
        ([people["alain@contoso.com"], "kim@fabrikam.com", "nobody@contoso.com"], 2),
    ):
        refused = ariane.post(path, json={"userIds": user_ids, "roles": ["developer"]})
        assert refused.status_code == 404, refused.text
        error = refused.json()["error"]
        assert error["code"] == "userNotFound" and error["target"] == "userIds"
        assert len(error["userIds"]) == missing
        assert "Kim" not in refused.text
    refused = ariane.post(path, json={"groupIds": ["nope"], "roles": ["developer"]})
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "groupNotFound"
    for body, code in (
        ({"userIds": [people["alain@contoso.com"]], "roles": ["admiral"]}, "invalidPartnerRole"),
        ({"roles": ["developer"]}, "noMembersGiven"),
        ({"userIds": [people["alain@contoso.com"]], "roles": []}, "invalidRequest"),
    ):
        refused = ariane.post(path, json=body)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == code, body
    refused = ariane.post(
        path,
        json={"userIds": [people["alain@contoso.com"]], "roles": ["admiral"]},
        headers={"Accept-Language": "fr"},
    )
    assert refused.json()["error"]["message"].startswith("Choisissez un ou plusieurs rôles")
    assert count(database, "partner_account_members") == before
    assert count(database, "partner_member_roles") == before

    # Someone already a member keeps their roles and gains the new one.
    ariane.post(path, json={"userIds": [people["alain@contoso.com"]], "roles": ["developer"]})
    again = ariane.post(
        path,
        json={
            "userIds": [people["alain@contoso.com"], people["bea@contoso.com"]],
            "roles": ["marketer"],
        },
    )
    assert (again.json()["added"], again.json()["alreadyMembers"]) == (1, 1)
    assert roles_by_address(ariane, account["id"])["alain@contoso.com"] == ["developer", "marketer"]


def test_a_persons_rights_are_their_roles_and_their_groups_roles(contoso, stories):
    ariane, account, people = contoso
    path = f"/v1/partnerAccounts/{account['id']}"
    finance = ariane.post("/v1/groups", json={"displayName": "Finance", "mailNickname": "finance"})
    assert finance.status_code == 201, finance.text
    group_id = finance.json()["id"]
    joined = ariane.post(
        f"/v1/groups/{group_id}/members", json={"userIds": [people["bea@contoso.com"]]}
    )
    assert joined.status_code == 200, joined.text
    ariane.post(f"{path}/members", json={"userIds": ["bea@contoso.com"], "roles": ["developer"]})
    added = ariane.post(
        f"{path}/members", json={"groupIds": [group_id], "roles": ["financeContributor"]}
    )
    assert added.status_code == 201, added.text
    assert added.json()["value"][0]["memberType"] == "group"
    assert added.json()["value"][0]["displayName"] == "Finance"

    bea = stories.client_for("bea@contoso.com")
    assert bea.get("/v1/me/partnerAccounts").json()["value"][0]["roles"] == [
        "developer",
        "financeContributor",
    ]
    # Chloé is only in the group: a member through it.
    ariane.post(f"/v1/groups/{group_id}/members", json={"userIds": [people["chloe@contoso.com"]]})
    chloe = stories.client_for("chloe@contoso.com")
    assert chloe.get("/v1/me").json()["partnerAccount"]["roles"] == ["financeContributor"]
    assert chloe.get(f"{path}/members").status_code == 200
    # Out of the group, out of the account: the token acts for nothing any more.
    removed = ariane.delete(f"/v1/groups/{group_id}/members/{people['chloe@contoso.com']}")
    assert removed.status_code == 204
    assert chloe.get("/v1/me").json()["partnerAccount"] is None
    assert chloe.get(path).status_code == 404

    # A Manager through a group manages the account.
    promoted = ariane.patch(f"{path}/members/{group_id}", json={"roles": ["manager"]})
    assert promoted.status_code == 200, promoted.text
    assert bea.get("/v1/me/partnerAccounts").json()["value"][0]["roles"] == ["manager", "developer"]
    manager = bea.post(
        f"{path}/members", json={"userIds": ["david@contoso.com"], "roles": ["marketer"]}
    )
    assert manager.status_code == 201, manager.text

    # A group's Owner role does not keep the account owned: the directory may empty the group.
    ariane.patch(f"{path}/members/{group_id}", json={"roles": ["owner"]}).raise_for_status()
    alone = ariane.delete(f"{path}/members/ariane@contoso.com")
    assert alone.status_code == 409 and alone.json()["error"]["code"] == "lastOwner"


def test_roles_change_members_leave_and_the_last_owner_stays(contoso, stories, database):
    ariane, account, people = contoso
    path = f"/v1/partnerAccounts/{account['id']}"
    ariane.post(f"{path}/members", json={"userIds": ["alain@contoso.com"], "roles": ["manager"]})
    alain = stories.client_for("alain@contoso.com")

    # A Manager manages the other roles, not the Owner role.
    added = alain.post(
        f"{path}/members", json={"userIds": ["bea@contoso.com"], "roles": ["developer"]}
    )
    assert added.status_code == 201
    changed = alain.patch(
        f"{path}/members/bea@contoso.com", json={"roles": ["developer", "marketer"]}
    )
    assert changed.status_code == 200 and changed.json()["roles"] == ["developer", "marketer"]
    for answer in (
        alain.patch(f"{path}/members/bea@contoso.com", json={"roles": ["owner"]}),
        alain.post(f"{path}/members", json={"userIds": ["chloe@contoso.com"], "roles": ["owner"]}),
        alain.delete(f"{path}/members/ariane@contoso.com"),
    ):
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "ownerRoleRequired"

    # The last Owner can be neither demoted nor removed.
    for answer in (
        ariane.patch(f"{path}/members/ariane@contoso.com", json={"roles": ["manager"]}),
        ariane.delete(f"{path}/members/ariane@contoso.com"),
    ):
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "lastOwner"
    assert roles_by_address(ariane, account["id"])["ariane@contoso.com"] == ["owner"]
    # With a second Owner she may step down.
    ariane.patch(f"{path}/members/bea@contoso.com", json={"roles": ["owner"]})
    stepped = ariane.patch(f"{path}/members/ariane@contoso.com", json={"roles": ["manager"]})
    assert stepped.status_code == 200 and stepped.json()["roles"] == ["manager"]

    # Removing Bea leaves her tenant account as it is.
    bea_id = people["bea@contoso.com"]
    # No longer an Owner, Ariane cannot take the role back herself; Bea gives it.
    back = ariane.patch(f"{path}/members/ariane@contoso.com", json={"roles": ["owner"]})
    assert back.status_code == 403 and back.json()["error"]["code"] == "ownerRoleRequired"
    bea = stories.client_for("bea@contoso.com")
    bea.patch(f"{path}/members/ariane@contoso.com", json={"roles": ["owner"]}).raise_for_status()
    gone = ariane.delete(f"{path}/members/{bea_id}")
    assert gone.status_code == 204, gone.text
    assert ariane.get(f"{path}/members/{bea_id}").json()["error"]["code"] == "memberNotFound"
    assert ariane.get(f"/v1/users/{bea_id}").status_code == 200
    assert bea.get("/v1/me/partnerAccounts").json()["value"] == []
    actions = [
        row[0]
        for row in database.rows(
            "SELECT action FROM audit_events WHERE action LIKE 'partnerAccount.member%' "
            "ORDER BY occurred_at"
        )
    ]
    assert actions.count("partnerAccount.memberRemoved") == 1
    assert "partnerAccount.memberRolesChanged" in actions


def test_a_global_administrator_creates_new_tenant_users_from_here(contoso, stories, database):
    ariane, account, _ = contoso
    path = f"/v1/partnerAccounts/{account['id']}/members"
    before = count(database, "users")
    added = ariane.post(
        path,
        json={
            "roles": ["marketer"],
            "userIds": ["alain@contoso.com"],
            "newUsers": [
                {"userPrincipalName": "fanny@contoso.com", "displayName": "Fanny Roux"},
                {
                    "userPrincipalName": "gael@contoso.com",
                    "displayName": "Gaël Blanc",
                    "usageLocation": "FR",
                },
            ],
        },
    )
    assert added.status_code == 201, added.text
    assert added.headers["cache-control"] == "no-store"
    created = {m["userPrincipalName"]: m for m in added.json()["value"]}
    assert created["fanny@contoso.com"]["temporaryPassword"]
    assert "temporaryPassword" not in created["alain@contoso.com"]
    assert count(database, "users") == before + 2
    assert ariane.get("/v1/users/gael@contoso.com").json()["usageLocation"] == "FR"

    # A refused new user refuses everything, naming which one.
    members_before = count(database, "partner_account_members")
    refused = ariane.post(
        path,
        json={
            "roles": ["marketer"],
            "userIds": ["bea@contoso.com"],
            "newUsers": [
                {"userPrincipalName": "hugo@contoso.com", "displayName": "Hugo"},
                {"userPrincipalName": "ines@fabrikam.com", "displayName": "Inès"},
            ],
        },
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["target"] == "newUsers[1].userPrincipalName"
    assert count(database, "users") == before + 2
    assert count(database, "partner_account_members") == members_before

    # A Manager who is not a Global Administrator adds existing people only.
    ariane.post(path, json={"userIds": ["alain@contoso.com"], "roles": ["manager"]})
    alain = stories.client_for("alain@contoso.com")
    refused = alain.post(
        path,
        json={
            "roles": ["marketer"],
            "newUsers": [{"userPrincipalName": "jo@contoso.com", "displayName": "Jo"}],
        },
    )
    assert (
        refused.status_code == 403 and refused.json()["error"]["code"] == "notGlobalAdministrator"
    )
    assert count(database, "users") == before + 2
