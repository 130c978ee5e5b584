"""Admin roles: who holds them, who may call what, and the last Global Administrator stays."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.directory import add_user, admin_api, error_code
from tests.support.stories import PASSWORD

GLOBAL_ADMIN_TEMPLATE = "62e90394-69f5-4237-9190-012177145e10"


@pytest.fixture()
def ariane(stories, database):
    with admin_api(stories, database, "ariane@contoso.com", "Ariane Dupont") as api:
        yield api


def _members(api, role_name: str) -> list[str]:
    roles = api.get("/v1/directoryRoles").json()["value"]
    role = next(r for r in roles if r["roleName"] == role_name)
    return [m["userPrincipalName"] for m in role["members"]]


def test_global_admin_gives_and_takes_roles(ariane, stories, database):
    roles = ariane.get("/v1/directoryRoles").json()["value"]
    assert [r["displayName"] for r in roles] == [
        "Global Administrator",
        "User Administrator",
        "License Administrator",
        "Billing Administrator",
        "Groups Administrator",
    ]
    assert roles[0]["roleTemplateId"] == GLOBAL_ADMIN_TEMPLATE
    assert _members(ariane, "GlobalAdministrator") == ["ariane@contoso.com"]

    alain = add_user(ariane, "alain@contoso.com", "Alain Martin", password=PASSWORD)
    given = ariane.post(
        "/v1/directoryRoles/LicenseAdministrator/members", json={"userId": alain["id"]}
    )
    assert given.status_code == 204, given.text
    # Again: nothing changes. By Graph's template id and @odata.id too.
    again = ariane.post(
        "/v1/directoryRoles/4d6ac14f-3453-41d0-bef9-a3e0c569773a/members",
        json={"@odata.id": f"https://tenantry.example/v1/directoryObjects/{alain['id']}"},
    )
    assert again.status_code == 204
    assert _members(ariane, "LicenseAdministrator") == ["alain@contoso.com"]
    assert (
        ariane.get("/v1/directoryRoles/License Administrator").json()["members"][0]["id"]
        == (alain["id"])
    )

    with stories.client_for("alain@contoso.com") as alain_api:
        assert alain_api.get("/v1/me").json()["roles"] == ["LicenseAdministrator"]
        # A License Administrator reads the directory but does not change users or roles.
        assert alain_api.get("/v1/users").status_code == 200
        assert alain_api.get("/v1/directoryRoles").status_code == 200
        for refused in (
            alain_api.post(
                "/v1/users", json={"userPrincipalName": "x@contoso.com", "displayName": "X"}
            ),
            alain_api.post(
                "/v1/directoryRoles/GlobalAdministrator/members", json={"userId": alain["id"]}
            ),
            alain_api.post("/v1/groups", json={"displayName": "Sales"}),
        ):
            assert refused.status_code == 403 and error_code(refused) == "accessDenied"

        taken = ariane.delete(f"/v1/directoryRoles/LicenseAdministrator/members/{alain['id']}")
        assert taken.status_code == 204
        assert alain_api.get("/v1/users").status_code == 403  # at once, same token

    missing = ariane.delete(f"/v1/directoryRoles/LicenseAdministrator/members/{alain['id']}")
    assert missing.status_code == 404 and error_code(missing) == "memberNotFound"
    unknown = ariane.post("/v1/directoryRoles/Operator/members", json={"userId": alain["id"]})
    assert unknown.status_code == 404 and error_code(unknown) == "roleNotFound"
    actions = [
        row[0]
        for row in database.rows(
            "SELECT action FROM audit_events WHERE action LIKE '%role' ORDER BY occurred_at"
        )
    ]
    assert actions.count("Add member to role") == 1  # giving it again wrote nothing
    assert actions.count("Remove member from role") == 1


def test_the_last_global_administrator_cannot_be_removed(ariane, stories, database):
    me = ariane.get("/v1/me").json()
    for response in (
        ariane.delete(f"/v1/directoryRoles/GlobalAdministrator/members/{me['id']}"),
        ariane.patch(f"/v1/users/{me['id']}", json={"accountEnabled": False}),
        ariane.delete(f"/v1/users/{me['id']}"),
    ):
        assert response.status_code == 409, response.text
        assert error_code(response) == "lastGlobalAdministrator"

    # A blocked Global Administrator does not count: they cannot sign in to help.
    alain = add_user(ariane, "alain@contoso.com", "Alain Martin", password=PASSWORD)
    ariane.post("/v1/directoryRoles/GlobalAdministrator/members", json={"userId": alain["id"]})
    ariane.patch(f"/v1/users/{alain['id']}", json={"accountEnabled": False})
    refused = ariane.delete(f"/v1/directoryRoles/GlobalAdministrator/members/{me['id']}")
    assert refused.status_code == 409

    ariane.patch(f"/v1/users/{alain['id']}", json={"accountEnabled": True})
    stepped_down = ariane.delete(f"/v1/directoryRoles/GlobalAdministrator/members/{me['id']}")
    assert stepped_down.status_code == 204
    assert ariane.get("/v1/directoryRoles").status_code == 403
    with stories.client_for("alain@contoso.com") as alain_api:
        assert _members(alain_api, "GlobalAdministrator") == ["alain@contoso.com"]


def test_two_global_admins_removing_each_other_at_once_leave_one(ariane, stories, database):
    me = ariane.get("/v1/me").json()
    alain = add_user(ariane, "alain@contoso.com", "Alain Martin", password=PASSWORD)
    ariane.post("/v1/directoryRoles/GlobalAdministrator/members", json={"userId": alain["id"]})
    with stories.client_for("alain@contoso.com") as alain_api:
        requests = [
            (ariane, f"/v1/directoryRoles/GlobalAdministrator/members/{alain['id']}"),
            (alain_api, f"/v1/directoryRoles/GlobalAdministrator/members/{me['id']}"),
        ]
        with ThreadPoolExecutor(2) as pool:
            statuses = sorted(
                pool.map(lambda request: request[0].delete(request[1]).status_code, requests)
            )
    # The loser is refused by the count (409), or is no longer an admin when checked (403).
    assert statuses in ([204, 409], [204, 403])
    holders = database.scalar(
        "SELECT count(*) FROM role_assignments WHERE role = 'GlobalAdministrator'"
    )
    assert holders == 1


def test_only_a_global_administrator_changes_another_administrator(ariane, stories):
    me = ariane.get("/v1/me").json()
    add_user(ariane, "ursula@contoso.com", "Ursula", password=PASSWORD)
    bob = add_user(ariane, "bob@contoso.com", "Bob")
    ariane.post(
        "/v1/directoryRoles/UserAdministrator/members", json={"userId": "ursula@contoso.com"}
    )
    with stories.client_for("ursula@contoso.com") as ursula:
        assert ursula.patch(f"/v1/users/{bob['id']}", json={"usageLocation": "FR"}).status_code == (
            200
        )
        assert ursula.post(f"/v1/users/{bob['id']}/resetPassword").status_code == 200
        for refused in (
            ursula.post(f"/v1/users/{me['id']}/resetPassword"),
            ursula.patch(f"/v1/users/{me['id']}", json={"accountEnabled": False}),
            ursula.delete(f"/v1/users/{me['id']}"),
        ):
            assert refused.status_code == 403 and error_code(refused) == "adminProtected"
        assert ursula.delete(f"/v1/users/{bob['id']}").status_code == 204


def test_members_without_a_role_and_unmanaged_tenants_are_refused(ariane, stories):
    add_user(ariane, "alain@contoso.com", "Alain Martin", password=PASSWORD)
    with stories.client_for("alain@contoso.com") as alain_api:
        for response in (
            alain_api.get("/v1/users"),
            alain_api.get("/v1/groups"),
            alain_api.get("/v1/directoryRoles"),
            alain_api.post("/v1/organization/sendMessage", json={"subject": "s", "body": "b"}),
            alain_api.post("/v1/users/import", content=b"x", headers={"Content-Type": "text/csv"}),
        ):
            assert response.status_code == 403, response.text
            assert error_code(response) == "accessDenied"
            assert "Global Administrator" in response.json()["error"]["message"]

    stories.sign_up("lea@fabrikam.com", "Léa")
    with stories.client_for("lea@fabrikam.com") as lea:
        for response in (
            lea.get("/v1/users"),
            lea.get("/v1/groups"),
            lea.get("/v1/directoryRoles"),
            lea.post("/v1/groups", json={"displayName": "Sales"}),
        ):
            assert response.status_code == 403 and error_code(response) == "tenantUnmanaged"
    assert stories.api.get("/v1/users").status_code == 401
