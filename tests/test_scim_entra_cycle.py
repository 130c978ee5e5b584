"""An identity provider provisions an organization over SCIM the way Microsoft Entra does.

The requests are the shapes Entra's provisioning service sends (its documentation,
"Develop and plan provisioning for a SCIM endpoint", and its known quirks: capitalised
ops, "False" as a string, filtered paths, a remove that carries the member it removes).
"""

from __future__ import annotations

from tests.support.group_licensing import state_of, wait_processed
from tests.support.licensing import PREMIUM, buy, sku_view
from tests.support.scim import GROUP, SCIM_JSON, entra_user, patch, provisioning
from tests.support.stories import PASSWORD


def test_entra_provisions_licenses_disables_and_deletes_a_person(stories, database):
    setup = provisioning(stories, database)
    scim, admin = setup.scim, setup.admin.api
    buy(admin, "BUSINESS_PREMIUM", 3)

    # Entra looks for the person before creating them.
    missing = scim.get("/Users", params={"filter": 'userName eq "alex@contoso.com"'})
    assert missing.status_code == 200, missing.text
    assert missing.headers["content-type"].startswith(SCIM_JSON)
    assert missing.json()["totalResults"] == 0 and missing.json()["Resources"] == []

    created = scim.post("/Users", json=entra_user("alex@contoso.com", "0a21f0f2-8d2a-4f8e"))
    assert created.status_code == 201, created.text
    alex = created.json()
    assert alex["userName"] == "alex@contoso.com" and alex["active"] is True
    assert created.headers["ETag"] == alex["meta"]["version"]
    assert created.headers["Location"].endswith(f"/scim/v2/Users/{alex['id']}")
    assert alex["name"] == {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName",
    }
    person = admin.get(f"/v1/users/{alex['id']}").json()
    assert (
        person["onPremisesSyncEnabled"] is True and person["displayName"] == "givenName familyName"
    )
    assert person["assignedLicenses"] == []  # never licensed directly at creation

    for query in ('userName eq "Alex@Contoso.com"', 'externalId eq "0a21f0f2-8d2a-4f8e"'):
        found = scim.get("/Users", params={"filter": query})
        assert found.status_code == 200, found.text
        assert [r["id"] for r in found.json()["Resources"]] == [alex["id"]], query

    # Entra's multi-valued and single-valued updates, its capitalised ops.
    updated = scim.patch(
        f"/Users/{alex['id']}",
        json=patch(
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "alex.w@contoso.com",
            },
            {"op": "Replace", "path": "name.familyName", "value": "Wilber"},
            {"op": "Replace", "path": "displayName", "value": "Alex Wilber"},
        ),
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["emails"][0]["value"] == "alex.w@contoso.com"
    person = admin.get(f"/v1/users/{alex['id']}").json()
    assert (person["displayName"], person["surname"], person["mail"]) == (
        "Alex Wilber",
        "Wilber",
        "alex.w@contoso.com",
    )

    # The department group, as Entra creates it, then licensed by the admin.
    group = scim.post(
        "/Groups",
        json={
            "schemas": [
                GROUP,
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
            ],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Sales",
            "meta": {"resourceType": "Group"},
        },
    )
    assert group.status_code == 201, group.text
    sales = group.json()
    assert sales["members"] == []
    found = scim.get(
        "/Groups", params={"excludedAttributes": "members", "filter": 'displayName eq "Sales"'}
    )
    assert found.status_code == 200, found.text
    (listed,) = found.json()["Resources"]
    assert listed["id"] == sales["id"] and "members" not in listed
    licensed = admin.post(
        f"/v1/groups/{sales['id']}/assignLicense",
        json={
            "addLicenses": [{"skuId": str(PREMIUM.sku_id), "disabledPlans": []}],
            "removeLicenses": [],
        },
    )
    assert licensed.status_code == 202, licensed.text
    wait_processed(admin, sales["id"])

    # Entra adds the member; group-based licensing runs as for an admin's change. Alex has
    # no usage location and the organization no country: the license is in error.
    added = scim.patch(
        f"/Groups/{sales['id']}",
        json=patch(
            {"op": "Add", "path": "members", "value": [{"$ref": None, "value": alex["id"]}]}
        ),
    )
    assert added.status_code == 204, added.text
    wait_processed(admin, sales["id"])
    assert state_of(admin, alex["id"], sales["id"]) == (
        "Error",
        "ProhibitedInUsageLocationViolation",
    )
    assert sku_view(admin, "BUSINESS_PREMIUM")["consumedUnits"] == 0

    # The provider sends the country: the error clears at once, a unit is taken.
    located = scim.patch(
        f"/Users/{alex['id']}",
        json=patch({"op": "Add", "path": 'addresses[type eq "work"].country', "value": "FR"}),
    )
    assert located.status_code == 200, located.text
    assert admin.get(f"/v1/users/{alex['id']}").json()["usageLocation"] == "FR"
    assert state_of(admin, alex["id"], sales["id"]) == ("Active", "None")
    assert sku_view(admin, "BUSINESS_PREMIUM")["consumedUnits"] == 1

    # What the provider owns is read-only for admins, with a clear refusal.
    for change in ({"usageLocation": "BE"}, {"displayName": "Someone Else"}):
        refused = admin.patch(f"/v1/users/{alex['id']}", json=change)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "propertyManagedBySync"

    # The provider gives Alex a password; Alex signs in.
    with_password = scim.patch(
        f"/Users/{alex['id']}", json=patch({"op": "replace", "path": "password", "value": PASSWORD})
    )
    assert with_password.status_code == 200, with_password.text
    assert "password" not in with_password.json()
    alex_api = stories.client_for("alex@contoso.com")
    assert alex_api.get("/v1/me").status_code == 200

    # Leaving: Entra disables ("False", a string), sign-in ends at once, licenses stay.
    disabled = scim.patch(
        f"/Users/{alex['id']}", json=patch({"op": "Replace", "path": "active", "value": "False"})
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["active"] is False
    assert alex_api.get("/v1/me").status_code == 401
    assert state_of(admin, alex["id"], sales["id"]) == ("Active", "None")

    # Entra's member removal carries the member in `value`; a filtered path also works.
    removed = scim.patch(
        f"/Groups/{sales['id']}",
        json=patch(
            {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": alex["id"]}]}
        ),
    )
    assert removed.status_code == 204, removed.text
    assert state_of(admin, alex["id"], sales["id"]) is None
    assert sku_view(admin, "BUSINESS_PREMIUM")["consumedUnits"] == 0
    readded = scim.patch(
        f"/Groups/{sales['id']}",
        json=patch({"op": "add", "path": "members", "value": [{"value": alex["id"]}]}),
    )
    assert readded.status_code == 204, readded.text
    wait_processed(admin, sales["id"])
    assert sku_view(admin, "BUSINESS_PREMIUM")["consumedUnits"] == 1

    # Deleted in the other directory: Alex goes, and so does the license unit.
    deleted = scim.delete(f"/Users/{alex['id']}")
    assert deleted.status_code == 204, deleted.text
    assert sku_view(admin, "BUSINESS_PREMIUM")["consumedUnits"] == 0
    gone = scim.get(f"/Users/{alex['id']}")
    assert gone.status_code == 404
    assert gone.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert gone.json()["status"] == "404"
    members = scim.get(f"/Groups/{sales['id']}").json()
    assert members["members"] == []

    # The provisioning log tells every request and what it changed.
    log = admin.get("/v1/auditLogs/provisioning", params={"targetId": alex["id"]})
    assert log.status_code == 200, log.text
    actions = [row["provisioningAction"] for row in log.json()["value"]]
    assert actions[0] == "delete" and actions[-1] == "create"
    created_row = log.json()["value"][-1]
    assert created_row["provisioningStatusInfo"]["status"] == "success"
    assert {"name": "userName", "oldValue": None, "newValue": "alex@contoso.com"} in created_row[
        "modifiedProperties"
    ]
