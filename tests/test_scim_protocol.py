"""RFC 7644 as a client sees it: filters, sorting and paging, partial representations, ETags,
Bulk with bulkId references, the payload size it advertises, errors, and races on members."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.directory import add_user
from tests.support.scim import USER, entra_user, patch, provisioning

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def _people(scim, count: int, prefix: str = "p") -> list[dict]:
    people = []
    for index in range(count):
        created = scim.post(
            "/Users",
            json=entra_user(
                f"{prefix}{index}@contoso.com",
                f"ext-{prefix}{index}",
                displayName=f"Person {index:02}",
                active=index % 2 == 0,
            ),
        )
        assert created.status_code == 201, created.text
        people.append(created.json())
    return people


def test_filters_sorting_paging_and_partial_representations(stories, database):
    scim = provisioning(stories, database).scim
    _people(scim, 6)

    def names(**params) -> list[str]:
        found = scim.get("/Users", params=params)
        assert found.status_code == 200, found.text
        return [r["userName"] for r in found.json()["Resources"]]

    assert names(filter='userName sw "p1" or displayName eq "person 02"') == [
        "p1@contoso.com",
        "p2@contoso.com",
    ] or set(names(filter='userName sw "p1" or displayName eq "person 02"')) == {
        "p1@contoso.com",
        "p2@contoso.com",
    }
    assert set(names(filter='active eq true and not (displayName co "04")')) == {
        "p0@contoso.com",
        "p2@contoso.com",
        "ariane@contoso.com",
    }
    assert names(filter='emails[type eq "work" and value ew "p3@contoso.com"]') == [
        "p3@contoso.com"
    ]
    assert names(filter='externalId eq "ext-p5"') == ["p5@contoso.com"]
    assert names(filter="externalId pr", sortBy="userName", sortOrder="descending", count="2") == [
        "p5@contoso.com",
        "p4@contoso.com",
    ]
    page = scim.get("/Users", params={"sortBy": "userName", "startIndex": "3", "count": "2"}).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (7, 3, 2)
    assert [r["userName"] for r in page["Resources"]] == ["p1@contoso.com", "p2@contoso.com"]
    only = scim.get(
        "/Users", params={"filter": 'userName eq "p0@contoso.com"', "attributes": "userName"}
    )
    (resource,) = only.json()["Resources"]
    assert set(resource) == {"schemas", "id", "userName"}
    refused = scim.get("/Users", params={"filter": 'userName eq "x'})
    assert refused.status_code == 400 and refused.json()["scimType"] == "invalidFilter"
    unknown = scim.get("/Users", params={"filter": 'nickName eq "x" and x.y eq 1'})
    assert unknown.status_code == 400


def test_etags_refuse_a_stale_change_and_cloud_users_are_read_only(stories, database):
    setup = provisioning(stories, database)
    scim = setup.scim
    (person,) = _people(scim, 1)
    version = person["meta"]["version"]
    changed = scim.patch(
        f"/Users/{person['id']}",
        json=patch({"op": "replace", "path": "title", "value": "Buyer"}),
        headers={"If-Match": version},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] != version
    stale = scim.patch(
        f"/Users/{person['id']}",
        json=patch({"op": "replace", "path": "title", "value": "Seller"}),
        headers={"If-Match": version},
    )
    assert stale.status_code == 412, stale.text
    assert scim.get(f"/Users/{person['id']}").json()["title"] == "Buyer"
    unchanged = scim.get(
        f"/Users/{person['id']}", headers={"If-None-Match": changed.headers["ETag"]}
    )
    assert unchanged.status_code == 304

    group = scim.post("/Groups", json={"displayName": "Buyers"}).json()
    renamed = scim.patch(
        f"/Groups/{group['id']}",
        json=patch({"op": "replace", "path": "displayName", "value": "Purchasing"}),
        headers={"If-Match": group["meta"]["version"]},
    )
    assert renamed.status_code == 204, renamed.text
    assert renamed.headers["ETag"] not in ("", group["meta"]["version"])
    joined = scim.patch(
        f"/Groups/{group['id']}",
        json=patch({"op": "add", "path": "members", "value": [{"value": person["id"]}]}),
        headers={"If-Match": renamed.headers["ETag"]},
    )
    assert joined.status_code == 204 and joined.headers["ETag"] != renamed.headers["ETag"]
    late = scim.delete(f"/Groups/{group['id']}", headers={"If-Match": renamed.headers["ETag"]})
    assert late.status_code == 412

    cloud = add_user(setup.admin.api, "lee@contoso.com", "Lee Gu")
    taken = scim.post("/Users", json=entra_user("Lee@contoso.com", "x"))
    assert taken.status_code == 409 and taken.json()["scimType"] == "uniqueness"
    assert scim.get(f"/Users/{cloud['id']}").json()["userName"] == "lee@contoso.com"
    refused = scim.patch(
        f"/Users/{cloud['id']}", json=patch({"op": "replace", "path": "active", "value": False})
    )
    assert refused.status_code == 403, refused.text
    assert scim.delete(f"/Users/{cloud['id']}").status_code == 403
    # The organization's last Global Administrator is never blocked, through SCIM either.
    errors = scim.put("/Users/not-an-id", json=entra_user("z@contoso.com", "z"))
    assert errors.status_code == 404


def test_bulk_resolves_bulk_ids_and_stops_after_fail_on_errors(stories, database):
    setup = provisioning(stories, database)
    scim = setup.scim
    body = {
        "schemas": [BULK],
        "failOnErrors": 2,
        "Operations": [
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "team",
                "data": {
                    "displayName": "Team",
                    "members": [{"type": "User", "value": "bulkId:kim"}],
                },
            },
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "kim",
                "data": entra_user("kim@contoso.com", "k"),
            },
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "bad",
                "data": entra_user("kim@fabrikam.com", "f"),
            },
            {
                "method": "PATCH",
                "path": "/Users/bulkId:kim",
                "data": patch({"op": "replace", "path": "title", "value": "Lead"}),
            },
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "dup",
                "data": entra_user("kim@contoso.com", "k2"),
            },
            {"method": "DELETE", "path": "/Users/bulkId:kim"},
        ],
    }
    answered = scim.post("/Bulk", json=body)
    assert answered.status_code == 200, answered.text
    results = answered.json()["Operations"]
    assert [(r["method"], r["status"]) for r in results] == [
        ("POST", "201"),
        ("POST", "201"),
        ("POST", "400"),
        ("PATCH", "200"),
        ("POST", "409"),
    ]  # failOnErrors 2: the DELETE never ran
    team = scim.get(results[0]["location"].split("/scim/v2")[1]).json()
    kim_id = results[1]["location"].rsplit("/", 1)[1]
    assert [m["value"] for m in team["members"]] == [kim_id]
    assert scim.get(f"/Users/{kim_id}").json()["title"] == "Lead"
    too_many = scim.post(
        "/Bulk",
        json={"schemas": [BULK], "Operations": [{"method": "DELETE", "path": "/Users/x"}] * 1001},
    )
    assert too_many.status_code == 413


def test_a_bulk_load_of_users_answers_each_operation(stories, database):
    setup = provisioning(stories, database)
    scim = setup.scim
    add_user(setup.admin.api, "lee@contoso.com", "Lee Gu")
    people = [entra_user(f"load{index}@contoso.com", f"l{index}") for index in range(40)]
    people[5] = entra_user("lee@contoso.com", "taken")  # a cloud user has it
    people[9] = entra_user("load1@contoso.com", "again")  # created earlier in this request
    people[12] = entra_user("load12@fabrikam.com", "elsewhere")  # not a verified domain
    people[20] = {"schemas": [USER], "name": {"givenName": "No user name"}}
    body = {
        "schemas": [BULK],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": f"p{index}", "data": person}
            for index, person in enumerate(people)
        ]
        + [{"method": "DELETE", "path": "/Users/00000000-0000-0000-0000-000000000000"}],
    }
    answered = scim.post("/Bulk", json=body)
    assert answered.status_code == 200, answered.text
    statuses = [result["status"] for result in answered.json()["Operations"]]
    expected = ["201"] * 40 + ["404"]
    expected[5], expected[9], expected[12], expected[20] = "409", "409", "400", "400"
    assert statuses == expected
    created = scim.get("/Users", params={"filter": 'userName sw "load"', "count": "100"}).json()
    assert created["totalResults"] == 36
    one = answered.json()["Operations"][0]
    fetched = scim.get(one["location"].split("/scim/v2")[1])
    assert fetched.status_code == 200 and fetched.headers["ETag"] == one["version"]
    found = scim.get("/Users", params={"filter": 'displayName eq "givenName familyName"'})
    assert found.json()["totalResults"] == 36  # search terms and keys written with them
    audit = setup.admin.api.get("/v1/auditLogs/directoryAudits", params={"action": "Add user"})
    assert len(audit.json()["value"]) >= 36


def test_bodies_up_to_the_advertised_size_are_taken(stories, database):
    scim = provisioning(stories, database).scim
    config = scim.get("/ServiceProviderConfig").json()
    limit = config["bulk"]["maxPayloadSize"]
    assert limit > 1024 * 1024  # above the API's general limit
    big = entra_user("big@contoso.com", "b", title="x" * (2 * 1024 * 1024))
    created = scim.post("/Users", json=big)
    assert created.status_code == 201, created.text[:200]
    huge = entra_user("huge@contoso.com", "h", title="x" * (limit + 10))
    refused = scim.post("/Users", json=huge)
    assert refused.status_code == 413
    assert refused.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert scim.get("/NoSuchThing").status_code == 404
    assert scim.put("/ServiceProviderConfig", json={}).status_code == 405
    nul = scim.post("/Users", json=entra_user("nul@contoso.com", "bad\u0000id"))
    assert nul.status_code == 400 and nul.json()["scimType"] == "invalidValue"
    assert scim.get("/Users/%00").status_code == 404
    nul_filter = scim.get("/Users", params={"filter": 'externalId eq "a\u0000b"'})
    assert nul_filter.status_code == 400 and nul_filter.json()["scimType"] == "invalidFilter"
    assert (
        scim.post("/Users", content=b"{", headers={"Content-Type": "application/scim+json"}).json()[
            "scimType"
        ]
        == "invalidSyntax"
    )


def test_two_providers_adding_members_at_once_lose_none(stories, database):
    scim = provisioning(stories, database).scim
    people = _people(scim, 16, prefix="m")
    group = scim.post(
        "/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Everyone",
        },
    ).json()

    def add(person: dict) -> int:
        return scim.patch(
            f"/Groups/{group['id']}",
            json=patch({"op": "Add", "path": "members", "value": [{"value": person["id"]}]}),
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(add, people))
    assert statuses == [204] * len(people)
    members = scim.get(f"/Groups/{group['id']}").json()["members"]
    assert sorted(m["value"] for m in members) == sorted(p["id"] for p in people)

    def remove(person: dict) -> int:
        return scim.patch(
            f"/Groups/{group['id']}",
            json=patch({"op": "remove", "path": f'members[value eq "{person["id"]}"]'}),
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(remove, people[:8])) == [204] * 8
    members = scim.get(f"/Groups/{group['id']}").json()["members"]
    assert sorted(m["value"] for m in members) == sorted(p["id"] for p in people[8:])
    assert USER
