"""Group-based licensing: Ariane gives BUSINESS_PREMIUM to "Sales"; its members get it."""

from __future__ import annotations

import uuid

from sqlalchemy import update

from tenantry.core.clock import clock
from tenantry.directory.constants import Role
from tenantry.tenants.models import Tenant
from tests.support.admin import make_global_admin
from tests.support.group_licensing import (
    add_members,
    assign_group,
    audit_events,
    create_group,
    state_of,
    states,
    wait_processed,
)
from tests.support.licensing import (
    ESSENTIALS,
    PREMIUM,
    add_users,
    assign,
    buy,
    global_admin,
    sku_view,
    tick,
)


def _consumed(api, part_number: str = "BUSINESS_PREMIUM") -> int:
    return sku_view(api, part_number)["consumedUnits"]


def test_sales_gets_licensed_then_count_violation_is_fixed_by_buying_and_reprocessing(
    stories, database
):
    ariane = global_admin(stories, database)
    api = ariane.api
    subscription = buy(api, "BUSINESS_PREMIUM", 3)
    sellers = sorted(add_users(database, ariane.tenant_id, 5))
    sales = create_group(api, "Sales", sellers)

    queued = assign_group(api, sales["id"], add=[(PREMIUM.sku_id, [])])
    assert queued.status_code == 202, queued.text
    assert queued.json()["licenseProcessingState"] == {"state": "QueuedForProcessing"}
    assert queued.json()["assignedLicenses"] == [
        {"skuId": str(PREMIUM.sku_id), "disabledPlans": []}
    ]

    group = wait_processed(api, sales["id"])
    assert group["hasMembersWithLicenseErrors"] is True
    # The first three members (by id) took the three licenses; the others wait for more.
    outcomes = [state_of(api, user, sales["id"]) for user in sellers]
    assert outcomes == [("Active", "None")] * 3 + [("Error", "CountViolation")] * 2
    assert _consumed(api) == 3
    (entry,) = states(api, sellers[0])
    assert entry["skuId"] == str(PREMIUM.sku_id)
    assert entry["assignedByGroup"] == sales["id"]
    assert entry["disabledPlans"] == []
    assert entry["lastUpdatedDateTime"]
    licensed = api.get(f"/v1/users/{sellers[0]}").json()
    assert licensed["assignedLicenses"] == [{"skuId": str(PREMIUM.sku_id), "disabledPlans": []}]
    assert api.get(f"/v1/users/{sellers[4]}").json()["assignedLicenses"] == []
    (details,) = api.get(f"/v1/users/{sellers[0]}/licenseDetails").json()["value"]
    assert details["skuPartNumber"] == "BUSINESS_PREMIUM"

    errors = api.get(f"/v1/groups/{sales['id']}/membersWithLicenseErrors").json()["value"]
    assert [member["id"] for member in errors] == sellers[3:]
    assert errors[0]["licenseAssignmentStates"][0]["error"] == "CountViolation"

    # Ariane buys two more: nothing changes until she reprocesses.
    more = api.post(
        f"/v1/subscriptions/{subscription['id']}/addLicenses",
        json={"quantity": 2},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert more.status_code == 200, more.text
    assert state_of(api, sellers[3], sales["id"]) == ("Error", "CountViolation")

    # One user at once…
    user = api.post(f"/v1/users/{sellers[3]}/reprocessLicenseAssignment")
    assert user.status_code == 200, user.text
    (entry,) = user.json()["licenseAssignmentStates"]
    assert (entry["state"], entry["error"]) == ("Active", "None")
    assert _consumed(api) == 4

    # …and the whole group in the background.
    again = api.post(f"/v1/groups/{sales['id']}/reprocessLicenseAssignment")
    assert again.status_code == 202, again.text
    group = wait_processed(api, sales["id"])
    assert group["hasMembersWithLicenseErrors"] is False
    assert [state_of(api, user, sales["id"]) for user in sellers] == [("Active", "None")] * 5
    assert _consumed(api) == 5
    assert api.get(f"/v1/groups/{sales['id']}/membersWithLicenseErrors").json()["value"] == []

    starts = audit_events(api, "Start applying group based license to users")
    finishes = audit_events(api, "Finish applying group based license to users")
    assert len(starts) == len(finishes) == 2
    first, last = finishes[-1], finishes[0]
    assert first["targetResources"][0]["id"] == sales["id"]
    assert (first["details"]["successes"], first["details"]["failures"]) == ("3", "2")
    assert (last["details"]["successes"], last["details"]["failures"]) == ("1", "0")


def test_leaving_the_group_removes_its_license_unless_also_given_directly(stories, database):
    ariane = global_admin(stories, database)
    api = ariane.api
    buy(api, "BUSINESS_PREMIUM", 10)
    direct, group_only = add_users(database, ariane.tenant_id, 2)
    assert assign(api, direct, PREMIUM.sku_id).status_code == 200
    sales = create_group(api, "Sales", [direct, group_only])
    assert assign_group(api, sales["id"], add=[(PREMIUM.sku_id, [])]).status_code == 202
    wait_processed(api, sales["id"])

    # Two sources, one unit.
    assert sorted(e["assignedByGroup"] or "direct" for e in states(api, direct)) == sorted(
        ["direct", sales["id"]]
    )
    assert _consumed(api) == 2

    # An inherited license cannot be removed on the user.
    refused = api.post(
        f"/v1/users/{group_only}/assignLicense",
        json={"addLicenses": [], "removeLicenses": [str(PREMIUM.sku_id)]},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "licenseInheritedFromGroup"
    # Removing the direct license leaves the inherited one, and the unit.
    removed = api.post(
        f"/v1/users/{direct}/assignLicense",
        json={"addLicenses": [], "removeLicenses": [str(PREMIUM.sku_id)]},
    )
    assert removed.status_code == 200, removed.text
    assert [e["assignedByGroup"] for e in removed.json()["licenseAssignmentStates"]] == [
        sales["id"]
    ]
    assert _consumed(api) == 2
    assert assign(api, direct, PREMIUM.sku_id).status_code == 200
    assert _consumed(api) == 2

    # Leaving: the direct license stays (and its unit); the group-only member loses theirs.
    for user in (direct, group_only):
        left = api.delete(f"/v1/groups/{sales['id']}/members/{user}")
        assert left.status_code == 204, left.text
    assert [e["assignedByGroup"] for e in states(api, direct)] == [None]
    assert states(api, group_only) == []
    assert api.get(f"/v1/users/{group_only}/licenseDetails").json() == {"value": []}
    assert _consumed(api) == 1


def test_the_same_sku_from_two_groups_takes_one_unit(stories, database):
    ariane = global_admin(stories, database)
    api = ariane.api
    buy(api, "BUSINESS_PREMIUM", 1)
    (chloe,) = add_users(database, ariane.tenant_id, 1)
    meetings = str(PREMIUM.plan_named("MEETINGS").service_plan_id)
    files = str(PREMIUM.plan_named("FILES").service_plan_id)
    sales = create_group(api, "Sales", [chloe])
    support = create_group(api, "Support", [chloe])
    assign_group(api, sales["id"], add=[(PREMIUM.sku_id, [meetings])])
    assign_group(api, support["id"], add=[(PREMIUM.sku_id, [meetings, files])])
    wait_processed(api, sales["id"])
    wait_processed(api, support["id"])

    assert (
        sorted(state_of(api, chloe, g["id"]) for g in (sales, support)) == [("Active", "None")] * 2
    )
    assert _consumed(api) == 1
    # Plans merged: MEETINGS is off in both, FILES is on through Sales.
    (details,) = api.get(f"/v1/users/{chloe}/licenseDetails").json()["value"]
    plans = {p["servicePlanName"]: p["provisioningStatus"] for p in details["servicePlans"]}
    assert plans["MEETINGS"] == "Disabled" and plans["FILES"] == "Success"
    assert api.get(f"/v1/users/{chloe}").json()["assignedLicenses"] == [
        {"skuId": str(PREMIUM.sku_id), "disabledPlans": [meetings]}
    ]

    assert api.delete(f"/v1/groups/{sales['id']}/members/{chloe}").status_code == 204
    assert [e["assignedByGroup"] for e in states(api, chloe)] == [support["id"]]
    assert _consumed(api) == 1

    # The group changes its disabled plans: its members' license follows.
    assign_group(api, support["id"], add=[(PREMIUM.sku_id, [])])
    wait_processed(api, support["id"])
    assert states(api, chloe)[0]["disabledPlans"] == []


def test_a_group_that_gives_licenses_cannot_be_deleted(stories, database):
    ariane = global_admin(stories, database)
    api = ariane.api
    buy(api, "BUSINESS_PREMIUM", 5)
    members = add_users(database, ariane.tenant_id, 3)
    sales = create_group(api, "Sales", members)
    assign_group(api, sales["id"], add=[(PREMIUM.sku_id, [])])
    wait_processed(api, sales["id"])

    refused = api.delete(f"/v1/groups/{sales['id']}")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "groupHasLicenses"

    removed = assign_group(api, sales["id"], remove=[PREMIUM.sku_id])
    assert removed.status_code == 202, removed.text
    assert removed.json()["assignedLicenses"] == []
    wait_processed(api, sales["id"])
    assert all(states(api, user) == [] for user in members)
    assert _consumed(api) == 0
    assert api.delete(f"/v1/groups/{sales['id']}").status_code == 204


def test_new_members_are_licensed_and_mistakes_are_refused(stories, database):
    ariane = global_admin(stories, database)
    api = ariane.api
    buy(api, "BUSINESS_PREMIUM", 5)
    first, later = add_users(database, ariane.tenant_id, 2)
    sales = create_group(api, "Sales", [first])
    assert api.get(f"/v1/groups/{sales['id']}").json()["licenseProcessingState"] is None
    assign_group(api, sales["id"], add=[(PREMIUM.sku_id, [])])
    wait_processed(api, sales["id"])

    add_members(api, sales["id"], [later])
    wait_processed(api, sales["id"])
    assert state_of(api, later, sales["id"]) == ("Active", "None")
    assert _consumed(api) == 2

    not_bought = assign_group(api, sales["id"], add=[(ESSENTIALS.sku_id, [])])
    assert not_bought.status_code == 400
    assert not_bought.json()["error"]["code"] == "unknownSku"
    bad_plan = assign_group(api, sales["id"], add=[(PREMIUM.sku_id, [str(uuid.uuid4())])])
    assert bad_plan.json()["error"]["code"] == "invalidServicePlan"
    not_given = assign_group(api, sales["id"], remove=[ESSENTIALS.sku_id])
    assert not_given.json()["error"]["code"] == "licenseNotAssigned"
    assert assign_group(api, sales["id"]).status_code == 400
    unknown = assign_group(api, str(uuid.uuid4()), add=[(PREMIUM.sku_id, [])])
    assert unknown.status_code == 404


def test_one_failed_license_of_a_group_withholds_its_others(stories, database):
    ariane = global_admin(stories, database)
    api = ariane.api
    buy(api, "BUSINESS_PREMIUM", 5)
    buy(api, "BUSINESS_ESSENTIALS", 1)
    members = sorted(add_users(database, ariane.tenant_id, 2))
    bundle = create_group(api, "Bundle", members)
    assign_group(api, bundle["id"], add=[(ESSENTIALS.sku_id, []), (PREMIUM.sku_id, [])])
    wait_processed(api, bundle["id"])

    first = {e["skuId"]: (e["state"], e["error"]) for e in states(api, members[0])}
    second = {e["skuId"]: (e["state"], e["error"]) for e in states(api, members[1])}
    assert first == {
        str(ESSENTIALS.sku_id): ("Active", "None"),
        str(PREMIUM.sku_id): ("Active", "None"),
    }
    assert second == {
        str(ESSENTIALS.sku_id): ("Error", "CountViolation"),
        str(PREMIUM.sku_id): ("Error", "Other"),
    }
    assert _consumed(api, "BUSINESS_ESSENTIALS") == 1
    assert _consumed(api, "BUSINESS_PREMIUM") == 1


def test_usage_location_comes_from_the_tenant_and_synced_users_are_licensed(stories, database):
    ariane = global_admin(stories, database)
    api = ariane.api
    buy(api, "BUSINESS_PREMIUM", 5)
    (nowhere,) = add_users(database, ariane.tenant_id, 1, usage_location=None)
    (synced,) = add_users(database, ariane.tenant_id, 1, source="synced")
    sales = create_group(api, "Sales", [nowhere, synced])
    assign_group(api, sales["id"], add=[(PREMIUM.sku_id, [])])
    wait_processed(api, sales["id"])
    assert state_of(api, nowhere, sales["id"]) == (
        "Error",
        "ProhibitedInUsageLocationViolation",
    )
    assert state_of(api, synced, sales["id"]) == ("Active", "None")
    assert _consumed(api) == 1

    # The country the takeover wizard asks for (arranged here straight in the database).
    with database.engine.begin() as connection:
        connection.execute(
            update(Tenant)
            .where(Tenant.id == uuid.UUID(ariane.tenant_id))
            .values(country_letter_code="FR")
        )
    api.post(f"/v1/groups/{sales['id']}/reprocessLicenseAssignment")
    wait_processed(api, sales["id"])
    assert state_of(api, nowhere, sales["id"]) == ("Active", "None")
    # Tenantry gives the license, not a usage location (seed 004).
    assert api.get(f"/v1/users/{nowhere}").json()["usageLocation"] is None


def test_a_suspended_subscription_takes_no_new_member(stories, database):
    ariane = global_admin(stories, database)
    api = ariane.api
    subscription = buy(api, "BUSINESS_PREMIUM", 5)
    first, later = add_users(database, ariane.tenant_id, 2)
    sales = create_group(api, "Sales", [first])
    assign_group(api, sales["id"], add=[(PREMIUM.sku_id, [])])
    wait_processed(api, sales["id"])
    cancelled = api.post(f"/v1/subscriptions/{subscription['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text

    assert state_of(api, first, sales["id"]) == ("Disabled", "None")
    add_members(api, sales["id"], [later])
    wait_processed(api, sales["id"])
    assert state_of(api, later, sales["id"]) == ("Error", "CountViolation")
    refused = assign_group(api, sales["id"], add=[(PREMIUM.sku_id, [])])
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "subscriptionSuspended"


def test_a_deleted_sku_stays_on_its_groups_and_their_members_show_the_error(stories, database):
    ariane = global_admin(stories, database)
    api = ariane.api
    premium = buy(api, "BUSINESS_PREMIUM", 5)
    buy(api, "BUSINESS_ESSENTIALS", 5)
    sellers = sorted(add_users(database, ariane.tenant_id, 2))
    helper, direct = add_users(database, ariane.tenant_id, 2)
    sales = create_group(api, "Sales", sellers)
    assign_group(api, sales["id"], add=[(PREMIUM.sku_id, []), (ESSENTIALS.sku_id, [])])
    support = create_group(api, "Support", [helper])
    assign_group(api, support["id"], add=[(PREMIUM.sku_id, [])])
    wait_processed(api, sales["id"])
    wait_processed(api, support["id"])
    assert assign(api, direct, PREMIUM.sku_id).status_code == 200
    assert _consumed(api) == 4

    # The last PREMIUM subscription is cancelled, then deleted by the lifecycle job.
    assert api.post(f"/v1/subscriptions/{premium['id']}/cancel").status_code == 200
    clock.advance(days=PREMIUM.suspended_days + 1)
    (deleted,) = tick(database)
    assert deleted["to"] == "Deleted"

    with stories.client_for(ariane.email) as api:  # tokens do not outlive 90 days
        view = sku_view(api, "BUSINESS_PREMIUM")
        assert (view["capabilityStatus"], view["consumedUnits"]) == ("Deleted", 0)
        # The groups still give it (the admin's intent stays), and say their members are in
        # error: CountViolation, no unit to take. The group's other license stays in effect.
        group = api.get(f"/v1/groups/{sales['id']}").json()
        assert {g["skuId"] for g in group["assignedLicenses"]} == {
            str(PREMIUM.sku_id),
            str(ESSENTIALS.sku_id),
        }
        assert group["hasMembersWithLicenseErrors"] is True
        for seller in sellers:
            entries = {
                e["skuId"]: (e["state"], e["error"])
                for e in states(api, seller)
                if e["assignedByGroup"] == sales["id"]
            }
            assert entries == {
                str(PREMIUM.sku_id): ("Error", "CountViolation"),
                str(ESSENTIALS.sku_id): ("Active", "None"),
            }
            (held,) = api.get(f"/v1/users/{seller}/licenseDetails").json()["value"]
            assert held["skuPartNumber"] == "BUSINESS_ESSENTIALS"
        errors = api.get(f"/v1/groups/{sales['id']}/membersWithLicenseErrors").json()["value"]
        assert [member["id"] for member in errors] == sellers
        # A direct license of a deleted SKU goes.
        assert states(api, direct) == []
        (event,) = [
            e
            for e in audit_events(api, "Update subscription status")
            if e["details"].get("to") == "Deleted"
        ]
        assert event["details"]["removedAssignments"] == "1"
        assert event["details"]["groupAssignmentsInError"] == "3"

        # Bought again, a reprocess gives Sales' members PREMIUM back…
        buy(api, "BUSINESS_PREMIUM", 5)
        api.post(f"/v1/groups/{sales['id']}/reprocessLicenseAssignment")
        group = wait_processed(api, sales["id"])
        assert group["hasMembersWithLicenseErrors"] is False
        assert {state_of(api, seller, sales["id"]) for seller in sellers} == {("Active", "None")}
        assert _consumed(api) == 2

        # …and taken off Support, it leaves no error behind: the group can then go.
        assert assign_group(api, support["id"], remove=[PREMIUM.sku_id]).status_code == 202
        group = wait_processed(api, support["id"])
        assert group["hasMembersWithLicenseErrors"] is False
        assert states(api, helper) == []
        assert api.delete(f"/v1/groups/{support['id']}").status_code == 204


def test_who_may_give_a_group_licenses(stories, database):
    ariane = global_admin(stories, database)
    buy(ariane.api, "BUSINESS_PREMIUM", 5)
    sales = create_group(ariane.api, "Sales")
    for email, role in (
        ("gaston@contoso.com", Role.GROUPS_ADMINISTRATOR),
        ("lea@contoso.com", Role.LICENSE_ADMINISTRATOR),
    ):
        stories.sign_up(email, email.split("@")[0].title())
        make_global_admin(database, email, role=role)
    with stories.client_for("gaston@contoso.com") as gaston:
        refused = assign_group(gaston, sales["id"], add=[(PREMIUM.sku_id, [])])
        assert refused.status_code == 403
        assert gaston.get(f"/v1/groups/{sales['id']}/membersWithLicenseErrors").status_code == 200
    with stories.client_for("lea@contoso.com") as lea:
        assert assign_group(lea, sales["id"], add=[(PREMIUM.sku_id, [])]).status_code == 202
        assert lea.post(f"/v1/groups/{sales['id']}/reprocessLicenseAssignment").status_code == 202
