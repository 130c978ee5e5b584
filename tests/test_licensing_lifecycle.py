"""A subscription's life: renewal, expiry (Warning), suspension, deletion, reactivation."""

from __future__ import annotations

from datetime import datetime, timedelta

from tenantry.core.clock import clock
from tests.support.licensing import ESSENTIALS, add_users, assign, buy, global_admin, sku_view, tick


def signed_in(stories, email="ariane@contoso.com"):
    """A fresh API client (access tokens last an hour, and the tests move time by days)."""
    return stories.client_for(email)


def participants(api, user_id):
    return (
        api.get(f"/v1/users/{user_id}/entitlements")
        .json()["entitlements"]
        .get("meetings.max_participants")
    )


def test_an_expired_subscription_warns_then_suspends_and_comes_back(stories, database):
    ariane = global_admin(stories, database)
    subscription = buy(ariane.api, "BUSINESS_ESSENTIALS", 5)
    licensed, late, later = add_users(database, ariane.tenant_id, 3)
    assert assign(ariane.api, licensed, ESSENTIALS.sku_id).status_code == 200
    assert participants(ariane.api, licensed) == 300
    path = f"/v1/subscriptions/{subscription['id']}"
    off = ariane.api.patch(path, json={"autoRenew": False})
    assert off.status_code == 200 and off.json()["autoRenew"] is False

    # Nothing is due during the term.
    assert tick(database) == []
    clock.advance(days=ESSENTIALS.term_days + 1)
    (expired,) = tick(database)
    assert (expired["from"], expired["to"]) == ("Enabled", "Warning")
    with signed_in(stories) as api:
        view = sku_view(api, "BUSINESS_ESSENTIALS")
        assert view["capabilityStatus"] == "Warning"
        assert view["prepaidUnits"] == {"enabled": 0, "warning": 5, "suspended": 0, "lockedOut": 0}
        # Warning: everyone keeps access, and licenses can still be given.
        assert participants(api, licensed) == 300
        assert assign(api, late, ESSENTIALS.sku_id).status_code == 200

    clock.advance(days=ESSENTIALS.warning_days)
    (suspended,) = tick(database)
    assert (suspended["from"], suspended["to"]) == ("Warning", "Suspended")
    with signed_in(stories) as api:
        view = sku_view(api, "BUSINESS_ESSENTIALS")
        assert view["capabilityStatus"] == "Suspended"
        assert view["prepaidUnits"]["suspended"] == 5 and view["consumedUnits"] == 2
        assert {p["provisioningStatus"] for p in view["servicePlans"]} == {"Disabled"}
        # Suspended: users lose access, and no new assignment is taken.
        assert participants(api, licensed) is None
        (details,) = api.get(f"/v1/users/{licensed}/licenseDetails").json()["value"]
        assert {p["provisioningStatus"] for p in details["servicePlans"]} == {"Disabled"}
        refused = assign(api, later, ESSENTIALS.sku_id)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "subscriptionSuspended"
        # Admins keep their access: Ariane still manages the organization.
        assert api.get("/v1/subscriptions").status_code == 200

        back = api.post(f"{path}/reactivate")
        assert back.status_code == 200, back.text
        assert back.json()["status"] == "Enabled" and back.json()["autoRenew"] is True
        assert participants(api, licensed) == 300
        assert sku_view(api, "BUSINESS_ESSENTIALS")["prepaidUnits"]["enabled"] == 5


def test_a_renewing_subscription_renews_and_a_late_job_catches_up(stories, database):
    ariane = global_admin(stories, database)
    renewing = buy(ariane.api, "BUSINESS_ESSENTIALS", 1)
    expiring = buy(ariane.api, "BUSINESS_PREMIUM", 1)
    ariane.api.patch(f"/v1/subscriptions/{expiring['id']}", json={"autoRenew": False})

    # The job did not run for a long while: one run moves everything as far as it should.
    days = ESSENTIALS.term_days + ESSENTIALS.warning_days + ESSENTIALS.suspended_days + 1
    clock.advance(days=days)
    transitions = tick(database)
    steps = [(t["id"], t["from"], t["to"]) for t in transitions]
    assert (expiring["id"], "Enabled", "Warning") in steps
    assert (expiring["id"], "Warning", "Suspended") in steps
    assert (expiring["id"], "Suspended", "Deleted") in steps
    assert [t["renewed"] for t in transitions if t["id"] == renewing["id"]] == [True]

    with signed_in(stories) as api:
        by_id = {s["id"]: s for s in api.get("/v1/subscriptions").json()["value"]}
    assert by_id[renewing["id"]]["status"] == "Enabled"
    next_date = datetime.fromisoformat(by_id[renewing["id"]]["nextLifecycleDateTime"])
    first_end = datetime.fromisoformat(renewing["nextLifecycleDateTime"])
    assert next_date - first_end == timedelta(days=ESSENTIALS.term_days)
    assert by_id[expiring["id"]]["status"] == "Deleted"
    assert tick(database) == []


def test_a_cancelled_subscription_is_deleted_with_its_licenses(stories, database):
    ariane = global_admin(stories, database)
    subscription = buy(ariane.api, "BUSINESS_ESSENTIALS", 2)
    (user_id,) = add_users(database, ariane.tenant_id, 1)
    assert assign(ariane.api, user_id, ESSENTIALS.sku_id).status_code == 200
    path = f"/v1/subscriptions/{subscription['id']}"

    cancelled = ariane.api.post(f"{path}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "Suspended"
    assert participants(ariane.api, user_id) is None
    refused = ariane.api.post(
        f"{path}/addLicenses", json={"quantity": 1}, headers={"Idempotency-Key": "k"}
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalidSubscriptionState"

    clock.advance(days=ESSENTIALS.suspended_days + 1)
    (deleted,) = tick(database)
    assert deleted["to"] == "Deleted"
    with signed_in(stories) as api:
        assert api.get(f"/v1/users/{user_id}/licenseDetails").json() == {"value": []}
        view = sku_view(api, "BUSINESS_ESSENTIALS")
        assert view["capabilityStatus"] == "Deleted"
        assert view["consumedUnits"] == 0
        assert view["prepaidUnits"] == {"enabled": 0, "warning": 0, "suspended": 0, "lockedOut": 0}
        gone = api.post(f"{path}/reactivate")
        assert gone.status_code == 409
        assert gone.json()["error"]["code"] == "invalidSubscriptionState"
    assert database.scalar("SELECT count(*) FROM license_assignments") == 0
