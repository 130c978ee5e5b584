"""Answers that carry a secret (a token, a temporary password) are never kept by a cache.

RFC 6749 §5.1: the token endpoint answers with `Cache-Control: no-store` and
`Pragma: no-cache`; Tenantry does the same for every answer holding a credential.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.directory import add_user, admin_api
from tests.support.stories import PASSWORD


@pytest.fixture()
def ariane(stories, database):
    with admin_api(stories, database, "ariane@contoso.com", "Ariane Dupont") as api:
        yield api


def _never_cached(response: httpx.Response) -> None:
    assert response.status_code in (200, 201), response.text
    assert response.headers.get("cache-control") == "no-store"
    assert response.headers.get("pragma") == "no-cache"


def test_answers_holding_a_credential_say_no_store(ariane, stories):
    _never_cached(
        stories.api.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": "ariane@contoso.com", "password": PASSWORD},
        )
    )
    _never_cached(ariane.post("/v1/me/entitlementToken"))
    alain = ariane.post(
        "/v1/users", json={"userPrincipalName": "alain@contoso.com", "displayName": "Alain"}
    )
    assert "temporaryPassword" in alain.json()
    _never_cached(alain)
    _never_cached(ariane.post(f"/v1/users/{alain.json()['id']}/resetPassword"))
    # An invitation's redeem link lets its holder accept it (with the invited address's proof).
    _never_cached(
        ariane.post(
            "/v1/invitations",
            json={
                "invitedUserEmailAddress": "kim@fabrikam.com",
                "inviteRedirectUrl": "https://apps.contoso.com/",
            },
        )
    )


def test_answers_without_a_credential_are_left_alone(ariane):
    add_user(ariane, "alain@contoso.com", "Alain", password=PASSWORD)
    listed = ariane.get("/v1/users")
    assert listed.status_code == 200
    assert "pragma" not in listed.headers
