"""Direct licensing: assignLicense, licenseDetails, disabled plans, usage location, seat limits."""

from __future__ import annotations

from tenantry.directory.constants import Role
from tests.support.admin import make_global_admin
from tests.support.licensing import (
    ESSENTIALS,
    PREMIUM,
    add_users,
    assign,
    buy,
    global_admin,
    sku_view,
)

USAGE_LOCATION_MESSAGE = (
    "License assignment cannot be done for user with invalid usage location. "
    "Set the user's usageLocation first, a two-letter country code such as FR "
    "(PATCH /v1/users/{id}, or `tenantry user update USER --usage-location FR`)."
)


def test_a_user_without_usage_location_cannot_be_licensed(stories, database):
    ariane = global_admin(stories, database)
    buy(ariane.api, "BUSINESS_PREMIUM", 5)
    (nowhere,) = add_users(database, ariane.tenant_id, 1, usage_location=None)

    refused = assign(ariane.api, nowhere, PREMIUM.sku_id)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalidUsageLocation"
    assert refused.json()["error"]["message"] == USAGE_LOCATION_MESSAGE
    assert sku_view(ariane.api, "BUSINESS_PREMIUM")["consumedUnits"] == 0


def test_assign_shows_the_license_and_its_plans(stories, database):
    ariane = global_admin(stories, database)
    buy(ariane.api, "BUSINESS_PREMIUM", 5)
    (alain,) = add_users(database, ariane.tenant_id, 1)
    meetings = PREMIUM.plan_named("MEETINGS")

    assigned = assign(
        ariane.api, alain, PREMIUM.sku_id, disabledPlans=[str(meetings.service_plan_id)]
    )
    assert assigned.status_code == 200, assigned.text
    user = assigned.json()
    assert user["id"] == alain
    assert user["assignedLicenses"] == [
        {"skuId": str(PREMIUM.sku_id), "disabledPlans": [str(meetings.service_plan_id)]}
    ]
    (state,) = user["licenseAssignmentStates"]
    assert state["assignedByGroup"] is None
    assert state["state"] == "Active"
    assert state["error"] == "None"

    (details,) = ariane.api.get(f"/v1/users/{alain}/licenseDetails").json()["value"]
    assert details["skuPartNumber"] == "BUSINESS_PREMIUM"
    statuses = {p["servicePlanName"]: p["provisioningStatus"] for p in details["servicePlans"]}
    assert statuses == {
        "MAIL": "Success",
        "MEETINGS": "Disabled",
        "FILES": "Success",
        "OFFICE_APPS": "Success",
    }
    entitlements = ariane.api.get(f"/v1/users/{alain}/entitlements").json()
    assert "MEETINGS" not in entitlements["servicePlans"]
    assert "meetings.max_participants" not in entitlements["entitlements"]
    assert entitlements["entitlements"]["office.desktop_installs"] == 5

    # Assigning again with other disabled plans changes the plans, not the count.
    again = assign(ariane.api, alain, PREMIUM.sku_id, disabledPlans=[])
    assert again.json()["assignedLicenses"][0]["disabledPlans"] == []
    assert sku_view(ariane.api, "BUSINESS_PREMIUM")["consumedUnits"] == 1

    bad_plan = assign(
        ariane.api,
        alain,
        ESSENTIALS.sku_id,
        disabledPlans=[str(PREMIUM.plan_named("OFFICE_APPS").service_plan_id)],
    )
    assert bad_plan.status_code == 400
    assert bad_plan.json()["error"]["code"] == "invalidServicePlan"


def test_the_last_license_goes_to_one_and_the_next_gets_count_violation(stories, database):
    ariane = global_admin(stories, database)
    subscription = buy(ariane.api, "BUSINESS_ESSENTIALS", 2)
    first, second, third = add_users(database, ariane.tenant_id, 3)
    assert assign(ariane.api, first, ESSENTIALS.sku_id).status_code == 200
    assert assign(ariane.api, second, ESSENTIALS.sku_id).status_code == 200

    full = assign(ariane.api, third, ESSENTIALS.sku_id)
    assert full.status_code == 409
    assert full.json()["error"]["code"] == "CountViolation"
    assert "not enough BUSINESS_ESSENTIALS licenses" in full.json()["error"]["message"]

    # Removing one frees it for someone else.
    removed = ariane.api.post(
        f"/v1/users/{first}/assignLicense",
        json={"addLicenses": [], "removeLicenses": [str(ESSENTIALS.sku_id)]},
    )
    assert removed.status_code == 200
    assert removed.json()["assignedLicenses"] == []
    assert assign(ariane.api, third, ESSENTIALS.sku_id).status_code == 200
    view = sku_view(ariane.api, "BUSINESS_ESSENTIALS")
    assert view["consumedUnits"] == 2 and view["prepaidUnits"]["enabled"] == 2

    # Buying more lets the refused user in.
    ariane.api.post(
        f"/v1/subscriptions/{subscription['id']}/addLicenses",
        json={"quantity": 1},
        headers={"Idempotency-Key": "more-1"},
    )
    assert assign(ariane.api, first, ESSENTIALS.sku_id).status_code == 200


def test_one_request_adds_and_removes_all_or_nothing(stories, database):
    ariane = global_admin(stories, database)
    buy(ariane.api, "BUSINESS_ESSENTIALS", 1)
    buy(ariane.api, "BUSINESS_PREMIUM", 1)
    alain, bea = add_users(database, ariane.tenant_id, 2)
    assert assign(ariane.api, alain, ESSENTIALS.sku_id).status_code == 200
    assert assign(ariane.api, bea, PREMIUM.sku_id).status_code == 200

    # Swap Alain from Essentials to Premium: Premium is full, so nothing changes.
    swap = ariane.api.post(
        f"/v1/users/{alain}/assignLicense",
        json={
            "addLicenses": [{"skuId": str(PREMIUM.sku_id), "disabledPlans": []}],
            "removeLicenses": [str(ESSENTIALS.sku_id)],
        },
    )
    assert swap.status_code == 409
    assert swap.json()["error"]["code"] == "CountViolation"
    (still,) = ariane.api.get(f"/v1/users/{alain}/licenseDetails").json()["value"]
    assert still["skuPartNumber"] == "BUSINESS_ESSENTIALS"
    assert sku_view(ariane.api, "BUSINESS_ESSENTIALS")["consumedUnits"] == 1

    not_held = ariane.api.post(
        f"/v1/users/{alain}/assignLicense",
        json={"addLicenses": [], "removeLicenses": [str(PREMIUM.sku_id)]},
    )
    assert not_held.status_code == 400
    assert not_held.json()["error"]["code"] == "licenseNotAssigned"

    unknown = assign(ariane.api, alain, "00000000-0000-0000-0000-000000000001")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unknownSku"


def test_users_are_found_by_sign_in_name_and_only_in_the_admins_tenant(stories, database):
    ariane = global_admin(stories, database)
    buy(ariane.api, "BUSINESS_ESSENTIALS", 2)
    stories.sign_up("lea@fabrikam.com", "Léa")

    by_name = assign(ariane.api, "ariane@contoso.com", ESSENTIALS.sku_id)
    assert by_name.status_code == 400  # she signed up without a usage location
    assert by_name.json()["error"]["code"] == "invalidUsageLocation"
    elsewhere = assign(ariane.api, "lea@fabrikam.com", ESSENTIALS.sku_id)
    assert elsewhere.status_code == 404
    assert ariane.api.get("/v1/users/not-a-user/licenseDetails").status_code == 404


def test_who_may_assign_and_read_licenses(stories, database):
    ariane = global_admin(stories, database)
    buy(ariane.api, "BUSINESS_ESSENTIALS", 5)
    (target,) = add_users(database, ariane.tenant_id, 1)
    for email, role in (
        ("alain@contoso.com", Role.LICENSE_ADMINISTRATOR),
        ("bea@contoso.com", Role.USER_ADMINISTRATOR),
        ("chloe@contoso.com", Role.BILLING_ADMINISTRATOR),
    ):
        stories.sign_up(email)
        make_global_admin(database, email, role=role)
    stories.sign_up("dan@contoso.com")

    with stories.client_for("alain@contoso.com") as alain:
        assert assign(alain, target, ESSENTIALS.sku_id).status_code == 200
    with stories.client_for("bea@contoso.com") as bea:
        assert bea.get(f"/v1/users/{target}/licenseDetails").status_code == 200
    with stories.client_for("chloe@contoso.com") as chloe:
        assert assign(chloe, target, ESSENTIALS.sku_id).status_code == 403
        assert chloe.get(f"/v1/users/{target}/licenseDetails").status_code == 403
    with stories.client_for("dan@contoso.com") as dan:
        assert dan.get(f"/v1/users/{target}/entitlements").status_code == 403
        # Everyone may read their own.
        assert dan.get("/v1/users/dan@contoso.com/licenseDetails").json() == {"value": []}
        assert dan.get("/v1/me/licenseDetails").status_code == 200
