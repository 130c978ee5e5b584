"""Numbers and booleans in a body are JSON numbers and booleans: `true` is not one license,
`"3"` is not three, `"yes"` and `1` are not true. Anything else is 400 naming the field."""

from __future__ import annotations

import uuid

import pytest

from tests.support.directory import error_code
from tests.support.licensing import global_admin, sku_view


@pytest.fixture()
def ariane(stories, database):
    admin = global_admin(stories, database)
    with admin.api:
        yield admin


def _refused(response, target: str) -> None:
    assert response.status_code == 400, response.text
    assert error_code(response) == "invalidRequest"
    assert response.json()["error"]["target"] == target


@pytest.mark.parametrize("quantity", [True, "3", 2.0, [1]])
def test_a_quantity_must_be_a_whole_number(ariane, quantity):
    bought = ariane.api.post(
        "/v1/subscriptions",
        json={"skuPartNumber": "BUSINESS_PREMIUM", "quantity": quantity},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    _refused(bought, "quantity")
    assert ariane.api.get("/v1/subscriptions").json()["value"] == []


def test_booleans_must_be_booleans(ariane):
    for value in ("yes", 1, "false"):
        _refused(
            ariane.api.patch(
                "/v1/policies/authorizationPolicy",
                json={"allowEmailVerifiedUsersToJoinOrganization": value},
            ),
            "allowEmailVerifiedUsersToJoinOrganization",
        )
    _refused(
        ariane.api.post(
            "/v1/users",
            json={
                "userPrincipalName": "alain@contoso.com",
                "displayName": "Alain",
                "accountEnabled": "true",
            },
        ),
        "accountEnabled",
    )


def test_an_entitlement_check_value_must_be_a_number(ariane):
    for path in ("/v1/me/entitlements/check", f"/v1/users/{ariane.user_id}/entitlements/check"):
        _refused(
            ariane.api.post(path, json={"name": "meetings.max_participants", "value": True}),
            "value",
        )


def test_json_numbers_and_booleans_are_still_taken(ariane):
    bought = ariane.api.post(
        "/v1/subscriptions",
        json={"skuPartNumber": "BUSINESS_PREMIUM", "quantity": 3},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert bought.status_code == 201, bought.text
    assert sku_view(ariane.api, "BUSINESS_PREMIUM")["prepaidUnits"]["enabled"] == 3
    policy = {"allowEmailVerifiedUsersToJoinOrganization": False}
    changed = ariane.api.patch("/v1/policies/authorizationPolicy", json=policy)
    assert changed.status_code == 200, changed.text
    assert changed.json()["allowEmailVerifiedUsersToJoinOrganization"] is False
