"""Entitlements for apps: the check API, and signed tokens verified without calling Tenantry."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import pytest

from tenantry.licensing import EntitlementVerifier, InvalidEntitlementToken, verify_token
from tests.support.licensing import PREMIUM, assign, buy, global_admin, set_usage_location


def check(api, name, value=None, user="me"):
    path = "/v1/me/entitlements/check" if user == "me" else f"/v1/users/{user}/entitlements/check"
    response = api.post(path, json={"name": name, "value": value})
    assert response.status_code == 200, response.text
    return response.json()


def test_an_app_asks_whether_a_user_may_host_a_meeting(stories, database):
    ariane = global_admin(stories, database)
    stories.sign_up("alain@contoso.com", "Alain Martin")
    alain = stories.client_for("alain@contoso.com")

    # The free offer: at most 10 participants.
    assert check(alain, "meetings.max_participants", 50) == {
        "name": "meetings.max_participants",
        "value": 50,
        "allowed": False,
        "limit": 10,
    }
    assert check(alain, "meetings.max_participants", 10)["allowed"] is True

    buy(ariane.api, "BUSINESS_PREMIUM", 5)
    set_usage_location(database, "alain@contoso.com", "BE")
    alain_id = alain.get("/v1/me").json()["id"]
    assert assign(ariane.api, alain_id, PREMIUM.sku_id).status_code == 200

    # Offer and license together: the largest value wins.
    assert check(alain, "meetings.max_participants", 50) == {
        "name": "meetings.max_participants",
        "value": 50,
        "allowed": True,
        "limit": 300,
    }
    assert check(alain, "meetings.max_participants", 301)["allowed"] is False
    unlimited = check(alain, "meetings.max_meetings", 1_000_000)
    assert (unlimited["allowed"], unlimited["limit"]) == (True, "unlimited")
    assert check(alain, "office.desktop_installs")["allowed"] is True
    unknown = check(alain, "rockets.max_launches", 1)
    assert (unknown["allowed"], unknown["limit"]) == (False, None)
    # An admin asks about a user of their organization.
    assert check(ariane.api, "files.storage_gb", 1024, user=alain_id)["allowed"] is True

    entitlements = alain.get("/v1/me/entitlements").json()
    assert entitlements["servicePlans"] == ["FILES", "MAIL", "MEETINGS", "OFFICE_APPS"]
    assert set(entitlements["sources"]) == {"MEETINGS_FREE", "BUSINESS_PREMIUM"}
    # The free offer still steps down to 3 after 60 days, but the license keeps 300:
    # no change to announce.
    assert entitlements["entitlementChanges"] == []

    bad = alain.post("/v1/me/entitlements/check", json={"name": "x", "value": -1})
    assert bad.status_code == 400


def test_an_entitlement_token_is_verified_offline(stories, database, server):
    ariane = global_admin(stories, database)
    buy(ariane.api, "BUSINESS_PREMIUM", 1)
    set_usage_location(database, ariane.email, "FR")
    assert assign(ariane.api, ariane.user_id, PREMIUM.sku_id).status_code == 200

    issued = ariane.api.post("/v1/me/entitlementToken")
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["tokenType"] == "JWT" and body["expiresIn"] == 300
    assert body["jwksUri"].endswith("/.well-known/jwks.json")
    jwks = httpx.get(f"{server.url}/.well-known/jwks.json").json()
    (key,) = jwks["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256"
    assert "d" not in key

    issuer = server.settings.base_url
    claims = verify_token(body["token"], jwks, issuer=issuer)
    assert claims.user_id == ariane.user_id
    assert claims.tenant_id == ariane.tenant_id
    assert claims.limits["meetings.max_participants"] == 300
    assert "OFFICE_APPS" in claims.service_plans
    assert claims.allows("meetings.max_participants", 50)
    assert not claims.allows("meetings.max_participants", 500)
    assert claims.allows("meetings.max_meetings", 10**9)

    verifier = EntitlementVerifier(jwks, issuer=issuer)
    assert verifier.verify(body["token"]) == verifier.verify(body["token"])
    with pytest.raises(InvalidEntitlementToken, match="expired"):
        verifier.verify(body["token"], now=time.time() + 400)
    with pytest.raises(InvalidEntitlementToken, match="issuer"):
        verify_token(body["token"], jwks, issuer="https://elsewhere.example")

    # Raising one's own limit breaks the signature.
    header, payload, signature = body["token"].split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged_claims["ent"]["meetings.max_participants"] = 100_000
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidEntitlementToken, match="signature"):
        verify_token(f"{header}.{forged}.{signature}", jwks)
    with pytest.raises(InvalidEntitlementToken):
        verify_token("not-a-token", jwks)

    # Headers: another algorithm, an unknown key, garbage; refused again by a verifier that
    # has already accepted a token (it remembers the key of the genuine header only).
    def with_header(fields) -> str:
        encoded = base64.urlsafe_b64encode(json.dumps(fields).encode()).rstrip(b"=").decode()
        return f"{encoded}.{payload}.{signature}"

    for forged_header, reason in (
        ({"alg": "none", "kid": verifier_kid(jwks)}, "ES256"),
        ({"alg": "HS256", "kid": verifier_kid(jwks)}, "ES256"),
        ({"alg": "ES256", "kid": "someone-else"}, "unknown key"),
    ):
        for _ in range(2):
            with pytest.raises(InvalidEntitlementToken, match=reason):
                verifier.verify(with_header(forged_header))
    with pytest.raises(InvalidEntitlementToken, match="malformed"):
        verifier.verify(f"%%%.{payload}.{signature}")


def verifier_kid(jwks) -> str:
    return jwks["keys"][0]["kid"]


def test_a_member_of_an_unmanaged_tenant_gets_a_token_of_their_offer(stories, server):
    stories.sign_up("lea@fabrikam.com", "Léa")
    with stories.client_for("lea@fabrikam.com") as lea:
        token = lea.post("/v1/me/entitlementToken").json()["token"]
        assert lea.get("/v1/me/entitlements").json()["entitlements"] == {
            "meetings.max_meetings": "unlimited",
            "meetings.max_participants": 10,
        }
    jwks = httpx.get(f"{server.url}/.well-known/jwks.json").json()
    claims = verify_token(token, jwks)
    assert claims.skus == ("MEETINGS_FREE",)
    assert claims.limits["meetings.max_participants"] == 10


def test_the_check_keeps_every_rule_on_its_fast_path(stories, database):
    """A user asking about themselves takes the one-statement path: same answers, same refusals."""
    ariane = global_admin(stories, database)
    subscription = buy(ariane.api, "BUSINESS_PREMIUM", 1)
    stories.sign_up("alain@contoso.com", "Alain")
    set_usage_location(database, "alain@contoso.com", "FR")
    alain = stories.client_for("alain@contoso.com")
    alain_id = alain.get("/v1/me").json()["id"]
    assert check(alain, "meetings.max_participants", 50, user=alain_id)["limit"] == 10
    assert assign(ariane.api, alain_id, PREMIUM.sku_id).status_code == 200
    assert check(alain, "meetings.max_participants", 50, user=alain_id)["limit"] == 300

    # A suspended subscription gives nothing: the free offer is what is left.
    ariane.api.post(f"/v1/subscriptions/{subscription['id']}/cancel")
    assert check(alain, "meetings.max_participants", 50, user=alain_id)["limit"] == 10
    assert check(alain, "meetings.max_participants", 50)["limit"] == 10

    # Asking about someone else needs an admin role, and the user must exist in the tenant.
    other = alain.post(
        f"/v1/users/{ariane.user_id}/entitlements/check", json={"name": "x", "value": 1}
    )
    assert other.status_code == 403
    missing = ariane.api.post(
        "/v1/users/00000000-0000-0000-0000-000000000000/entitlements/check",
        json={"name": "x", "value": 1},
    )
    assert missing.status_code == 404

    # A blocked account or a revoked token is refused like everywhere else.
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE users SET account_enabled = false"
            " WHERE user_principal_name = 'alain@contoso.com'"
        )
    blocked = alain.post(f"/v1/users/{alain_id}/entitlements/check", json={"name": "x"})
    assert blocked.status_code == 401
    assert ariane.api.post("/v1/auth/revoke").status_code == 204
    revoked = ariane.api.post("/v1/me/entitlements/check", json={"name": "x"})
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "unauthorized"


def test_the_fast_path_hands_everything_unusual_to_the_route(stories):
    """Bodies that are malformed, streamed in pieces or oversized get the route's answers."""
    stories.sign_up("alain@contoso.com", "Alain")
    alain = stories.client_for("alain@contoso.com")
    expected = check(alain, "meetings.max_participants", 50)

    malformed = alain.post(
        "/v1/me/entitlements/check",
        content=b'{"name": "meetings.max_participants", ',
        headers={"content-type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "invalidRequest"

    def pieces():
        yield b'{"name": "meetings.'
        yield b'max_participants", "value": 50}'

    streamed = alain.post(
        "/v1/me/entitlements/check", content=pieces(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 200, streamed.text
    assert streamed.json() == expected

    oversized = alain.post("/v1/me/entitlements/check", json={"name": "x" * 5000, "value": 1})
    assert oversized.status_code == 400
    assert oversized.json()["error"]["code"] == "invalidRequest"
    assert oversized.json()["error"]["target"] == "name"

    anonymous = httpx.post(
        f"{stories.server.url}/v1/me/entitlements/check", json={"name": "x", "value": 1}
    )
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"


def test_concurrent_checks_of_different_people_get_their_own_answers(stories, database):
    """Checks arriving together share round trips to the database (PostgreSQL): each still
    gets the answer of its own token."""
    ariane = global_admin(stories, database)
    buy(ariane.api, "BUSINESS_PREMIUM", 5)
    people = {}
    for name in ("alain", "chloe", "david", "emma"):
        stories.sign_up(f"{name}@contoso.com", name.title())
        people[name] = stories.client_for(f"{name}@contoso.com")
    for name in ("alain", "david"):  # licensed: 300 participants; the others keep 10
        set_usage_location(database, f"{name}@contoso.com", "BE")
        user_id = people[name].get("/v1/me").json()["id"]
        assert assign(ariane.api, user_id, PREMIUM.sku_id).status_code == 200
    expected = {"alain": 300, "chloe": 10, "david": 300, "emma": 10}

    async def ask_all() -> list[tuple[str, int]]:
        async with httpx.AsyncClient(base_url=stories.server.url, timeout=30) as client:

            async def ask(name: str) -> tuple[str, int]:
                response = await client.post(
                    "/v1/me/entitlements/check",
                    json={"name": "meetings.max_participants", "value": 50},
                    headers={"Authorization": people[name].headers["Authorization"]},
                )
                assert response.status_code == 200, response.text
                return name, response.json()["limit"]

            return await asyncio.gather(*(ask(name) for _ in range(20) for name in expected))

    answers = asyncio.run(ask_all())
    assert len(answers) == 80
    assert all(limit == expected[name] for name, limit in answers), answers
