"""Buying subscriptions: idempotent purchases, subscribedSkus, adding and removing licenses."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

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


def test_a_retried_purchase_buys_once(stories, database):
    ariane = global_admin(stories, database)
    key = str(uuid.uuid4())
    body = {"skuPartNumber": "BUSINESS_PREMIUM", "quantity": 20}

    first = ariane.api.post("/v1/subscriptions", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    subscription = first.json()
    assert subscription["skuPartNumber"] == "BUSINESS_PREMIUM"
    assert subscription["skuId"] == str(PREMIUM.sku_id)
    assert subscription["status"] == "Enabled"
    assert subscription["totalLicenses"] == 20
    assert subscription["autoRenew"] is True
    assert "Idempotent-Replayed" not in first.headers

    again = ariane.api.post("/v1/subscriptions", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201
    assert again.json() == subscription
    assert again.headers["Idempotent-Replayed"] == "true"

    reused = ariane.api.post(
        "/v1/subscriptions",
        json={"skuPartNumber": "BUSINESS_PREMIUM", "quantity": 21},
        headers={"Idempotency-Key": key},
    )
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotencyKeyReused"

    missing = ariane.api.post("/v1/subscriptions", json=body)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "idempotencyKeyRequired"

    subscriptions = ariane.api.get("/v1/subscriptions").json()["value"]
    assert [s["id"] for s in subscriptions] == [subscription["id"]]
    assert sku_view(ariane.api, "BUSINESS_PREMIUM")["prepaidUnits"]["enabled"] == 20


def test_simultaneous_retries_with_one_key_buy_once(stories, database):
    ariane = global_admin(stories, database)
    key = str(uuid.uuid4())

    def attempt(_: int):
        return ariane.api.post(
            "/v1/subscriptions",
            json={"skuPartNumber": "BUSINESS_ESSENTIALS", "quantity": 5},
            headers={"Idempotency-Key": key},
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, range(8)))

    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 7
    assert len(ariane.api.get("/v1/subscriptions").json()["value"]) == 1
    assert sku_view(ariane.api, "BUSINESS_ESSENTIALS")["prepaidUnits"]["enabled"] == 5
    purchases = database.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'Purchase subscription'"
    )
    assert purchases == 1


def test_subscribed_skus_has_graphs_shape(stories, database):
    ariane = global_admin(stories, database)
    buy(ariane.api, "BUSINESS_PREMIUM", 10)
    buy(ariane.api, "BUSINESS_PREMIUM", 5)
    buy(ariane.api, "BUSINESS_ESSENTIALS", 3)
    (user_id,) = add_users(database, ariane.tenant_id, 1)
    assert assign(ariane.api, user_id, PREMIUM.sku_id).status_code == 200

    skus = ariane.api.get("/v1/subscribedSkus")
    assert skus.status_code == 200
    assert [s["skuPartNumber"] for s in skus.json()["value"]] == [
        "BUSINESS_ESSENTIALS",
        "BUSINESS_PREMIUM",
    ]
    premium = skus.json()["value"][1]
    assert premium == {
        "id": f"{ariane.tenant_id}_{PREMIUM.sku_id}",
        "skuId": str(PREMIUM.sku_id),
        "skuPartNumber": "BUSINESS_PREMIUM",
        "appliesTo": "User",
        "capabilityStatus": "Enabled",
        "consumedUnits": 1,
        "prepaidUnits": {"enabled": 15, "warning": 0, "suspended": 0, "lockedOut": 0},
        "servicePlans": [
            {
                "servicePlanId": str(plan.service_plan_id),
                "servicePlanName": plan.name,
                "provisioningStatus": "Success",
                "appliesTo": "User",
            }
            for plan in PREMIUM.service_plans
        ],
    }
    one = ariane.api.get(f"/v1/subscribedSkus/{premium['id']}")
    assert one.status_code == 200 and one.json() == premium


def test_bad_purchases_are_refused_with_a_reason(stories, database):
    ariane = global_admin(stories, database)
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    unknown = ariane.api.post(
        "/v1/subscriptions", json={"skuPartNumber": "NOPE", "quantity": 1}, headers=headers
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unknownSku"
    assert "BUSINESS_PREMIUM" in unknown.json()["error"]["message"]
    zero = ariane.api.post(
        "/v1/subscriptions",
        json={"skuPartNumber": "BUSINESS_PREMIUM", "quantity": 0},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert zero.status_code == 400
    # A failed request stores nothing: the same key works once the request is right.
    fixed = ariane.api.post(
        "/v1/subscriptions",
        json={"skuPartNumber": "BUSINESS_PREMIUM", "quantity": 1},
        headers=headers,
    )
    assert fixed.status_code == 201


def test_licenses_are_added_and_removed_but_never_below_those_in_use(stories, database):
    ariane = global_admin(stories, database)
    subscription = buy(ariane.api, "BUSINESS_ESSENTIALS", 3)
    users = add_users(database, ariane.tenant_id, 3)
    for user_id in users:
        assert assign(ariane.api, user_id, ESSENTIALS.sku_id).status_code == 200

    path = f"/v1/subscriptions/{subscription['id']}"
    key = str(uuid.uuid4())
    added = ariane.api.post(
        f"{path}/addLicenses", json={"quantity": 20}, headers={"Idempotency-Key": key}
    )
    assert added.status_code == 200, added.text
    assert added.json()["totalLicenses"] == 23
    replayed = ariane.api.post(
        f"{path}/addLicenses", json={"quantity": 20}, headers={"Idempotency-Key": key}
    )
    assert replayed.json()["totalLicenses"] == 23
    assert sku_view(ariane.api, "BUSINESS_ESSENTIALS")["prepaidUnits"]["enabled"] == 23

    too_many = ariane.api.post(f"{path}/removeLicenses", json={"quantity": 21})
    assert too_many.status_code == 409
    error = too_many.json()["error"]
    assert error["code"] == "licensesInUse"
    assert "3 of the 23" in error["message"]
    assert (
        ariane.api.post(f"{path}/removeLicenses", json={"quantity": 20}).json()["totalLicenses"]
        == 3
    )
    view = sku_view(ariane.api, "BUSINESS_ESSENTIALS")
    assert view["prepaidUnits"]["enabled"] == 3 and view["consumedUnits"] == 3


def test_who_may_buy_and_read_subscriptions(stories, database):
    ariane = global_admin(stories, database)
    buy(ariane.api, "BUSINESS_ESSENTIALS", 2)
    stories.sign_up("alain@contoso.com", "Alain")
    make_global_admin(database, "alain@contoso.com", role=Role.LICENSE_ADMINISTRATOR)
    stories.sign_up("bea@contoso.com", "Béa")
    make_global_admin(database, "bea@contoso.com", role=Role.BILLING_ADMINISTRATOR)
    stories.sign_up("chloe@contoso.com", "Chloé")

    with stories.client_for("alain@contoso.com") as alain:
        assert alain.get("/v1/subscribedSkus").status_code == 200
        refused = buy_attempt(alain)
        assert refused.status_code == 403
        assert "BillingAdministrator" in refused.json()["error"]["message"]
    with stories.client_for("bea@contoso.com") as bea:
        assert buy_attempt(bea).status_code == 201
    with stories.client_for("chloe@contoso.com") as chloe:
        assert chloe.get("/v1/subscribedSkus").status_code == 403
        assert buy_attempt(chloe).status_code == 403

    stories.sign_up("lea@fabrikam.com", "Léa")
    with stories.client_for("lea@fabrikam.com") as lea:
        unmanaged = buy_attempt(lea)
        assert unmanaged.status_code == 403
        assert unmanaged.json()["error"]["code"] == "tenantUnmanaged"


def buy_attempt(api):
    return api.post(
        "/v1/subscriptions",
        json={"skuPartNumber": "BUSINESS_ESSENTIALS", "quantity": 1},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


def test_a_subscribed_sku_id_naming_another_tenant_is_not_found(stories, database):
    ariane = global_admin(stories, database)
    bruno = global_admin(stories, database, "bruno@fabrikam.com")
    buy(ariane.api, "BUSINESS_PREMIUM", 5)
    buy(bruno.api, "BUSINESS_PREMIUM", 3)

    own = bruno.api.get(f"/v1/subscribedSkus/{bruno.tenant_id}_{PREMIUM.sku_id}")
    assert own.status_code == 200 and own.json()["prepaidUnits"]["enabled"] == 3
    assert bruno.api.get(f"/v1/subscribedSkus/{PREMIUM.sku_id}").json() == own.json()
    for other in (f"{ariane.tenant_id}_{PREMIUM.sku_id}", f"nope_{PREMIUM.sku_id}"):
        refused = bruno.api.get(f"/v1/subscribedSkus/{other}")
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "notFound"
