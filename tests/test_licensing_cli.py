"""`tenantry subscription …` and `tenantry license …` against a live server."""

from __future__ import annotations

from tests.support.licensing import add_users, cli, global_admin
from tests.support.stories import PASSWORD


def test_an_admin_buys_and_assigns_licenses_from_the_terminal(stories, database, server, tmp_path):
    ariane = global_admin(stories, database)
    alain, bea = add_users(database, ariane.tenant_id, 2)
    env = {"TENANTRY_CONFIG_DIR": str(tmp_path)}
    cli(database, "login", "-u", ariane.email, "-p", PASSWORD, "--url", server.url, env=env)

    products = {p["skuPartNumber"]: p for p in cli(database, "catalog", "list", env=env)}
    assert {"BUSINESS_PREMIUM", "BUSINESS_ESSENTIALS"} <= set(products)
    premium_offer = products["BUSINESS_PREMIUM"]
    assert premium_offer["displayName"] and premium_offer["entitlements"]
    assert "MAIL" in {plan["servicePlanName"] for plan in premium_offer["servicePlans"]}

    bought = cli(database, "subscription", "buy", "BUSINESS_PREMIUM", "1", env=env)
    assert bought["totalLicenses"] == 1
    retried = cli(
        database, "subscription", "buy", "BUSINESS_PREMIUM", "1", "--idempotency-key", "k1", env=env
    )
    again = cli(
        database, "subscription", "buy", "BUSINESS_PREMIUM", "1", "--idempotency-key", "k1", env=env
    )
    assert retried["id"] == again["id"]

    outcomes = cli(
        database, "license", "assign", alain, bea, "--sku", "BUSINESS_PREMIUM",
        "--disable", "OFFICE_APPS", env=env,
    )  # fmt: skip
    assert outcomes == [
        {"user": alain, "outcome": "ok", "code": None, "message": None},
        {"user": bea, "outcome": "ok", "code": None, "message": None},
    ]
    (details,) = cli(database, "license", "list", alain, env=env)
    plans = {p["servicePlanName"]: p["provisioningStatus"] for p in details["servicePlans"]}
    assert plans["OFFICE_APPS"] == "Disabled" and plans["MAIL"] == "Success"
    (premium,) = cli(database, "license", "list", env=env)
    assert premium["consumedUnits"] == 2 and premium["prepaidUnits"]["enabled"] == 2

    removed = cli(database, "license", "remove", bea, "--sku", "BUSINESS_PREMIUM", env=env)
    assert removed[0]["outcome"] == "ok"
    subscriptions = cli(database, "subscription", "list", env=env)
    assert len(subscriptions) == 2
    (skus,) = cli(database, "subscription", "skus", env=env)
    assert skus["consumedUnits"] == 1
