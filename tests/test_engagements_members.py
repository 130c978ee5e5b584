"""Members of an engagement: the Power User adds colleagues found by a part of their name,
exports and removes; what owners and Power Users each see; inactivity warnings and removal;
a suspended partner account loses access until it is active again."""

from __future__ import annotations

import csv
import io

import pytest

from tenantry.core.clock import clock
from tests.support.engagements import (
    create_engagement,
    mail_about,
    make_operator,
    ok,
    partner_organization,
    request_access,
    tick,
)


@pytest.fixture()
def cast(stories, database):
    nadia = make_operator(stories, database, "nadia@tenantry-ops.com", "Nadia Operator")
    fabrikam = partner_organization(
        stories,
        database,
        nadia,
        domain="fabrikam.com",
        publisher="Fabrikam Labs",
        admin=("fatima", "Fatima Admin"),
        people=[
            ("paul", "Paul Power"),
            ("felix", "Felix Fabre"),
            ("fiona", "Fiona Faure"),
            ("frank", "Frank Fontaine"),
        ],
    )
    contoso = partner_organization(
        stories,
        database,
        nadia,
        domain="contoso.com",
        publisher="Contoso Partners",
        admin=("carla", "Carla Admin"),
        people=[("chris", "Chris Contoso"), ("cora", "Cora Contoso")],
    )
    preview = create_engagement(nadia, "Contoso Devices Preview")
    for organization, email in ((fabrikam, "paul@fabrikam.com"), (contoso, "chris@contoso.com")):
        ok(
            nadia.post(
                f"/v1/engagements/{preview['id']}/members",
                json={"userIds": [organization.user_ids[email]], "role": "powerUser"},
            ),
            201,
        )
    return nadia, fabrikam, contoso, preview


def test_the_power_user_adds_three_colleagues_exports_and_removes_one(cast, stories, smtp):
    nadia, fabrikam, contoso, preview = cast
    paul = fabrikam.client(stories, "paul@fabrikam.com")
    path = f"/v1/engagements/{preview['id']}"

    found = ok(paul.get(f"{path}/memberCandidates", params={"search": "f"}))["value"]
    names = [person["displayName"] for person in found]
    assert names == ["Fatima Admin", "Felix Fabre", "Fiona Faure", "Frank Fontaine"]
    assert all(person["organization"] == "Fabrikam Labs" for person in found)
    assert ok(paul.get(f"{path}/memberCandidates", params={"search": "fon"}))["value"][0][
        "displayName"
    ] == ("Frank Fontaine")
    # Another organization's people are not his to find, nor to add.
    assert ok(paul.get(f"{path}/memberCandidates", params={"search": "cora"}))["value"] == []
    cora = contoso.user_ids["cora@contoso.com"]
    refused = paul.post(f"{path}/members", json={"userIds": [cora], "role": "participant"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "memberOutsideYourOrganization"
    owner_role = paul.post(
        f"{path}/members",
        json={"userIds": [fabrikam.user_ids["felix@fabrikam.com"]], "role": "owner"},
    )
    assert owner_role.status_code == 403
    assert owner_role.json()["error"]["code"] == "engagementRoleNotYours"

    colleagues = [p["id"] for p in found if p["displayName"] != "Fatima Admin"]
    added = ok(
        paul.post(
            f"{path}/members",
            json={"userIds": colleagues, "role": "participant", "sendInvitation": True},
        ),
        201,
    )["value"]
    assert sorted(m["displayName"] for m in added) == [
        "Felix Fabre",
        "Fiona Faure",
        "Frank Fontaine",
    ]
    invitation = mail_about(smtp, "felix@fabrikam.com", "added to Contoso Devices Preview")[-1]
    assert "Paul Power" in invitation.body and f"/engagements/{preview['id']}" in invitation.body
    # Chris (Contoso's Power User) adds Cora.
    chris = contoso.client(stories, "chris@contoso.com")
    ok(chris.post(f"{path}/members", json={"userIds": [cora], "role": "participant"}), 201)

    # Paul sees his own organization's members by name, the others by name and count.
    listed = ok(paul.get(f"{path}/members"))
    assert [m["displayName"] for m in listed["value"]] == [
        "Felix Fabre",
        "Fiona Faure",
        "Frank Fontaine",
        "Paul Power",
    ]
    assert {(o["displayName"], o["memberCount"]) for o in listed["organizations"]} == {
        ("Fabrikam Labs", 4),
        ("Contoso Partners", 2),
    }
    assert "Cora" not in paul.get(f"{path}/members").text
    assert "Chris" not in paul.get(f"{path}/members").text
    assert [
        m["displayName"] for m in ok(paul.get(f"{path}/members", params={"search": "fi"}))["value"]
    ] == ["Fiona Faure"]
    powers = ok(paul.get(f"{path}/members", params={"role": "powerUser"}))["value"]
    assert [m["displayName"] for m in powers] == ["Paul Power"]
    assert powers[0]["roles"] == ["powerUser"]  # not a Participant unless added as one

    # Nadia (the owner) sees everyone, with their organization.
    everyone = ok(nadia.get(f"{path}/members"))["value"]
    assert {(m["displayName"], m["organization"]) for m in everyone} >= {
        ("Cora Contoso", "Contoso Partners"),
        ("Felix Fabre", "Fabrikam Labs"),
        ("Nadia Operator", None),
    }

    exported = paul.get(f"{path}/members", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["displayName"] for row in rows] == [
        "Felix Fabre",
        "Fiona Faure",
        "Frank Fontaine",
        "Paul Power",
    ]
    assert rows[0]["organization"] == "Fabrikam Labs" and rows[0]["lastAccessDateTime"]

    felix = fabrikam.user_ids["felix@fabrikam.com"]
    other = paul.delete(f"{path}/members/{contoso.user_ids['cora@contoso.com']}")
    assert other.status_code == 403
    assert paul.delete(f"{path}/members/{felix}").status_code == 204
    assert "Felix" not in paul.get(f"{path}/members").text
    # His accounts are as they were: he signs in, his organization keeps its partner account.
    felix_client = stories.client_for("felix@fabrikam.com")
    assert ok(felix_client.get("/v1/me"))["displayName"] == "Felix Fabre"
    admin = fabrikam.client(stories, fabrikam.admin_email)
    assert ok(admin.get(f"/v1/partnerAccounts/{fabrikam.account_id}"))["state"] == "active"
    # A participant does not manage members.
    fiona = stories.client_for("fiona@fabrikam.com")
    assert fiona.get(f"{path}/members").json()["error"]["code"] == "notEngagementManager"


def test_an_inactive_participant_is_warned_at_30_14_and_1_days_then_removed(
    cast, stories, smtp, database
):
    _, fabrikam, _, preview = cast
    paul = fabrikam.client(stories, "paul@fabrikam.com")
    fiona_id = fabrikam.user_ids["fiona@fabrikam.com"]
    ok(
        paul.post(
            f"/v1/engagements/{preview['id']}/members",
            json={"userIds": [fiona_id], "role": "participant"},
        ),
        201,
    )
    # Paul keeps opening the engagement; Fiona never does.
    warnings = []
    for day, expected in ((149, 0), (150, 1), (166, 2), (179, 3)):
        clock.reset()
        clock.advance(days=day, minutes=1)
        stories.client_for("paul@fabrikam.com").get(f"/v1/engagements/{preview['id']}")
        counts = tick(database)
        assert counts["removedForInactivity"] == 0
        warnings = (
            mail_about(smtp, "fiona@fabrikam.com", "ends in", count=expected) if expected else []
        )
        assert len(warnings) == expected
    assert [m.subject for m in warnings] == [
        "Your access to Contoso Devices Preview ends in 30 day(s)",
        "Your access to Contoso Devices Preview ends in 14 day(s)",
        "Your access to Contoso Devices Preview ends in 1 day(s)",
    ]
    clock.reset()
    clock.advance(days=180, minutes=2)
    # Paul's own visits kept him in; Fiona goes, and so does Chris (Contoso's Power User),
    # who never came back either.
    counts = tick(database)
    assert counts["removedForInactivity"] == 2, counts
    assert mail_about(smtp, "fiona@fabrikam.com", "has ended")
    paul = stories.client_for("paul@fabrikam.com")
    names = [
        m["displayName"] for m in ok(paul.get(f"/v1/engagements/{preview['id']}/members"))["value"]
    ]
    assert names == ["Paul Power"]
    assert (
        database.scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'engagement.memberRemoved'"
        )
        == 2
    )
    assert tick(database)["inactivityWarnings"] == 0


def test_opening_the_engagement_clears_the_warnings(cast, stories, smtp, database):
    _, fabrikam, _, preview = cast
    paul = fabrikam.client(stories, "paul@fabrikam.com")
    frank_id = fabrikam.user_ids["frank@fabrikam.com"]
    ok(
        paul.post(
            f"/v1/engagements/{preview['id']}/members",
            json={"userIds": [frank_id], "role": "participant"},
        ),
        201,
    )
    clock.advance(days=179, minutes=1)
    # Frank, Paul and Chris: one warning each, the most urgent.
    assert tick(database)["inactivityWarnings"] == 3
    frank = stories.client_for("frank@fabrikam.com")
    ok(frank.get(f"/v1/engagements/{preview['id']}"))
    clock.advance(days=2)
    counts = tick(database)
    assert counts["removedForInactivity"] == 2  # Paul and Chris, not Frank
    frank = stories.client_for("frank@fabrikam.com")
    assert ok(frank.get(f"/v1/engagements/{preview['id']}"))["myRoles"] == ["participant"]


def test_a_suspended_partner_account_loses_access_until_it_is_active_again(cast, stories, database):
    nadia, fabrikam, _, preview = cast
    paul = fabrikam.client(stories, "paul@fabrikam.com")
    felix = fabrikam.client(stories, "felix@fabrikam.com")
    asked = request_access(felix, preview["id"], "Please.")
    path = f"/v1/engagements/{preview['id']}"

    ok(nadia.post(f"/v1/partnerAccounts/{fabrikam.account_id}/suspend"))
    assert paul.get(path).status_code == 404
    assert felix.get(f"/v1/accessRequests/{asked['id']}").json()["state"] == "canceled"
    assert ok(felix.get("/v1/engagements", params={"available": "true"}))["value"] == []
    assert paul.get(f"{path}/members").status_code == 404
    assert ok(paul.get("/v1/accessRequests"))["value"] == []
    # Kept, not counted: the owner's list leaves Fabrikam out meanwhile.
    assert "Paul" not in nadia.get(f"{path}/members").text
    assert database.scalar("SELECT count(*) FROM engagement_members WHERE is_power_user") == 2

    ok(nadia.post(f"/v1/partnerAccounts/{fabrikam.account_id}/approve"))
    assert ok(paul.get(path))["myRoles"] == ["powerUser"]
    again = request_access(felix, preview["id"], "Please, again.")
    assert again["state"] == "pendingApproval"
