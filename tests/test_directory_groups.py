"""Groups and their members: create, find, add many at once, remove, delete."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.support.directory import add_user, admin_api, error_code
from tests.support.stories import PASSWORD


@pytest.fixture()
def ariane(stories, database):
    with admin_api(stories, database, "ariane@contoso.com", "Ariane Dupont") as api:
        yield api


def _names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["displayName"] for item in response.json()["value"]]


def test_groups_are_created_found_changed_and_deleted(ariane, database):
    sales = ariane.post("/v1/groups", json={"displayName": "Sales", "description": "Sellers"})
    assert sales.status_code == 201, sales.text
    sales = sales.json()
    assert (sales["mailNickname"], sales["securityEnabled"], sales["mailEnabled"]) == (
        "sales",
        True,
        False,
    )
    ariane.post(
        "/v1/groups",
        json={
            "displayName": "Équipe Marketing",
            "mailNickname": "marketing",
            "mailEnabled": False,
            "securityEnabled": True,
            "groupTypes": [],
        },
    )
    ariane.post("/v1/groups", json={"displayName": "Sales Europe"})

    assert _names(ariane.get("/v1/groups")) == ["Équipe Marketing", "Sales", "Sales Europe"]
    assert _names(
        ariane.get("/v1/groups", params={"$filter": "startswith(displayName,'sal')"})
    ) == [
        "Sales",
        "Sales Europe",
    ]
    assert _names(ariane.get("/v1/groups", params={"$filter": "mailNickname eq 'marketing'"})) == [
        "Équipe Marketing"
    ]
    assert _names(ariane.get("/v1/groups", params={"$search": '"displayName:euro"'})) == [
        "Sales Europe"
    ]
    assert _names(ariane.get("/v1/groups", params={"$search": "equipe"})) == ["Équipe Marketing"]
    paged = ariane.get("/v1/groups", params={"$top": 2, "$orderby": "displayName desc"}).json()
    assert [g["displayName"] for g in paged["value"]] == ["Sales Europe", "Sales"]
    assert "$skiptoken=" in paged["@odata.nextLink"]
    refused = ariane.get("/v1/groups", params={"$filter": "description eq 'Sellers'"})
    assert refused.status_code == 400 and error_code(refused) == "invalidFilter"
    unified = ariane.post("/v1/groups", json={"displayName": "Team", "groupTypes": ["Unified"]})
    assert unified.status_code == 400

    renamed = ariane.patch(f"/v1/groups/{sales['id']}", json={"displayName": "Sales France"})
    assert renamed.status_code == 200 and renamed.json()["displayName"] == "Sales France"
    assert _names(ariane.get("/v1/groups", params={"$search": "france"})) == ["Sales France"]
    assert ariane.get(f"/v1/groups/{sales['id']}").json()["description"] == "Sellers"

    assert ariane.delete(f"/v1/groups/{sales['id']}").status_code == 204
    assert ariane.get(f"/v1/groups/{sales['id']}").status_code == 404
    assert ariane.get("/v1/groups/not-an-id").status_code == 404
    actions = {
        row[0]
        for row in database.rows("SELECT action FROM audit_events WHERE target_type = 'group'")
    }
    assert actions == {"Add group", "Update group", "Delete group"}


def test_members_are_added_in_bulk_listed_and_removed(ariane, stories, database):
    sales = ariane.post("/v1/groups", json={"displayName": "Sales"}).json()
    users = [
        add_user(ariane, f"seller{i}@contoso.com", f"Seller {i}", usageLocation="FR")
        for i in range(5)
    ]
    ids = [u["id"] for u in users]

    added = ariane.post(f"/v1/groups/{sales['id']}/members", json={"userIds": ids[:3]})
    assert added.status_code == 200, added.text
    assert added.json() == {"added": 3, "alreadyMembers": 0}
    # Current members and repeats are left as they are.
    again = ariane.post(
        f"/v1/groups/{sales['id']}/members", json={"userIds": [*ids, ids[4], ids[0]]}
    )
    assert again.json() == {"added": 2, "alreadyMembers": 3}

    members = ariane.get(f"/v1/groups/{sales['id']}/members", params={"$top": 3}).json()
    assert [m["displayName"] for m in members["value"]] == ["Seller 0", "Seller 1", "Seller 2"]
    link = urlsplit(members["@odata.nextLink"])
    rest = ariane.get(f"{link.path}?{link.query}").json()
    assert [m["displayName"] for m in rest["value"]] == ["Seller 3", "Seller 4"]
    filtered = ariane.get(
        f"/v1/groups/{sales['id']}/members",
        params={"$filter": "startswith(displayName,'seller 4')", "$count": "true"},
    ).json()
    assert filtered["@odata.count"] == 1

    member_of = ariane.get(f"/v1/users/{ids[0]}/memberOf").json()["value"]
    assert [g["displayName"] for g in member_of] == ["Sales"]

    assert ariane.delete(f"/v1/groups/{sales['id']}/members/{ids[0]}").status_code == 204
    gone = ariane.delete(f"/v1/groups/{sales['id']}/members/{ids[0]}")
    assert gone.status_code == 404 and error_code(gone) == "memberNotFound"
    assert ariane.get(f"/v1/users/{ids[0]}/memberOf").json()["value"] == []

    # A deleted user leaves their groups.
    assert ariane.delete(f"/v1/users/{ids[1]}").status_code == 204
    remaining = ariane.get(f"/v1/groups/{sales['id']}/members").json()["value"]
    assert [m["displayName"] for m in remaining] == ["Seller 2", "Seller 3", "Seller 4"]
    assert (
        database.scalar("SELECT count(*) FROM audit_events WHERE action = 'Add member to group'")
        == 5
    )
    assert (
        database.scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'Remove member from group'"
        )
        == 1
    )

    # Deleting the group takes its memberships with it, not its members.
    assert ariane.delete(f"/v1/groups/{sales['id']}").status_code == 204
    assert database.scalar("SELECT count(*) FROM group_members") == 0
    assert ariane.get(f"/v1/users/{ids[2]}").status_code == 200


def test_member_ids_that_are_not_text_are_refused(ariane):
    sales = ariane.post("/v1/groups", json={"displayName": "Sales"}).json()
    # JSON's escape of half a surrogate pair: it decodes to no character at all.
    refused = ariane.post(
        f"/v1/groups/{sales['id']}/members",
        content=b'{"userIds": ["\\ud800"]}',
        headers={"content-type": "application/json"},
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["target"] == "userIds.0"


def test_other_tenants_users_and_groups_do_not_exist_here(ariane, stories, database):
    sales = ariane.post("/v1/groups", json={"displayName": "Sales"}).json()
    alain = add_user(ariane, "alain@contoso.com", "Alain")
    with admin_api(stories, database, "fiona@fabrikam.com", "Fiona") as fiona:
        fiona_id = fiona.get("/v1/me").json()["id"]
        fiona_group = fiona.post("/v1/groups", json={"displayName": "Fabrikam"}).json()

        refused = ariane.post(
            f"/v1/groups/{sales['id']}/members", json={"userIds": [alain["id"], fiona_id]}
        )
        assert refused.status_code == 404 and error_code(refused) == "userNotFound"
        assert refused.json()["error"]["userIds"] == [fiona_id]
        garbage = ariane.post(f"/v1/groups/{sales['id']}/members", json={"userIds": ["nope"]})
        assert garbage.status_code == 404 and error_code(garbage) == "userNotFound"
        # All or nothing: Alain was not added either.
        assert ariane.get(f"/v1/groups/{sales['id']}/members").json()["value"] == []

        for response in (
            fiona.get(f"/v1/groups/{sales['id']}"),
            fiona.get(f"/v1/groups/{sales['id']}/members"),
            fiona.patch(f"/v1/groups/{sales['id']}", json={"displayName": "Mine"}),
            fiona.delete(f"/v1/groups/{sales['id']}"),
            fiona.post(f"/v1/groups/{sales['id']}/members", json={"userIds": [fiona_id]}),
            ariane.post(f"/v1/groups/{fiona_group['id']}/members", json={"userIds": [alain["id"]]}),
        ):
            assert response.status_code == 404, response.text
        assert _names(fiona.get("/v1/groups")) == ["Fabrikam"]


def test_groups_administrators_manage_groups_but_not_users(ariane, stories):
    gina = add_user(ariane, "gina@contoso.com", "Gina", password=PASSWORD)
    alain = add_user(ariane, "alain@contoso.com", "Alain")
    ariane.post("/v1/directoryRoles/GroupsAdministrator/members", json={"userId": gina["id"]})
    with stories.client_for("gina@contoso.com") as gina_api:
        team = gina_api.post("/v1/groups", json={"displayName": "Team"})
        assert team.status_code == 201
        added = gina_api.post(
            f"/v1/groups/{team.json()['id']}/members", json={"userIds": [alain["id"]]}
        )
        assert added.status_code == 200
        refused = gina_api.patch(f"/v1/users/{alain['id']}", json={"usageLocation": "FR"})
        assert refused.status_code == 403 and error_code(refused) == "accessDenied"
