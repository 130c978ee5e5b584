"""An admin adds, finds, changes, blocks, resets and deletes the organization's users."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from tenantry.core.clock import clock
from tests.support.directory import add_user, admin_api, error_code
from tests.support.stories import PASSWORD

ADMIN = "ariane@contoso.com"


@pytest.fixture()
def ariane(stories, database):
    with admin_api(stories, database, ADMIN, "Ariane Dupont") as api:
        yield api


def _all_pages(api, path: str, **params) -> tuple[list[dict], int]:
    """Every item of a list by following @odata.nextLink; and how many pages it took."""
    body = api.get(path, params=params).json()
    items, pages = list(body["value"]), 1
    while "@odata.nextLink" in body:
        link = urlsplit(body["@odata.nextLink"])
        body = api.get(f"{link.path}?{link.query}").json()
        items += body["value"]
        pages += 1
    return items, pages


def _names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [user["displayName"] for user in response.json()["value"]]


def test_admin_lists_filters_searches_and_pages_users(ariane):
    add_user(ariane, "alain@contoso.com", "Alain Martin", usageLocation="fr")
    add_user(ariane, "elodie@contoso.com", "Élodie Dupuis", usageLocation="BE")
    add_user(ariane, "bruno@contoso.com", "bruno Lefèvre", accountEnabled=False)
    add_user(ariane, "chloe.durand@contoso.com", "Chloé Durand", source="synced")
    add_user(ariane, "zoe@contoso.com", "Zoé Adam", usageLocation="FR")

    everyone, pages = _all_pages(ariane, "/v1/users", **{"$top": 2})
    names = [u["displayName"] for u in everyone]
    assert pages == 3
    # Sorted without regard to case or accents, each user once.
    assert names == [
        "Alain Martin",
        "Ariane Dupont",
        "bruno Lefèvre",
        "Chloé Durand",
        "Élodie Dupuis",
        "Zoé Adam",
    ]

    def listed(**params):
        return _names(ariane.get("/v1/users", params=params))

    assert listed(**{"$filter": "accountEnabled eq false"}) == ["bruno Lefèvre"]
    assert listed(**{"$filter": "usageLocation eq 'FR'"}) == ["Alain Martin", "Zoé Adam"]
    assert listed(**{"$filter": "source eq 'synced'"}) == ["Chloé Durand"]
    assert listed(**{"$filter": "startswith(displayName,'el')"}) == ["Élodie Dupuis"]
    assert listed(**{"$filter": "startswith(userPrincipalName,'chloe.')"}) == ["Chloé Durand"]
    assert listed(
        **{
            "$filter": "accountEnabled eq true and (usageLocation eq 'FR') "
            "and startswith(displayName, 'z')"
        }
    ) == ["Zoé Adam"]
    assert listed(**{"$filter": "usageLocation eq null and accountEnabled eq true"}) == [
        "Ariane Dupont",
        "Chloé Durand",
    ]

    # Search: word prefixes of the name, or of the address; accents and case do not matter.
    assert listed(**{"$search": '"displayName:dup"'}) == ["Ariane Dupont", "Élodie Dupuis"]
    assert listed(**{"$search": '"displayName:ELO"'}) == ["Élodie Dupuis"]
    assert listed(**{"$search": "durand"}) == ["Chloé Durand"]
    assert listed(**{"$search": '"mail:chloe.du"'}) == ["Chloé Durand"]
    assert listed(**{"$search": '"mail:alain@con"'}) == ["Alain Martin"]
    assert listed(**{"$search": '"displayName:dup" AND "displayName:a"'}) == ["Ariane Dupont"]
    assert listed(**{"$search": '"displayName:zoe" OR "displayName:bruno"'}) == [
        "bruno Lefèvre",
        "Zoé Adam",
    ]

    assert listed(**{"$orderby": "userPrincipalName desc", "$top": 2}) == [
        "Zoé Adam",
        "Élodie Dupuis",
    ]
    counted = ariane.get("/v1/users", params={"$filter": "usageLocation eq 'FR'", "$count": "true"})
    assert counted.json()["@odata.count"] == 2

    # Paging a filtered, searched, reversed list keeps its conditions.
    searched, pages = _all_pages(
        ariane, "/v1/users", **{"$search": "d", "$orderby": "displayName desc", "$top": 1}
    )
    assert [u["displayName"] for u in searched] == [
        "Élodie Dupuis",
        "Chloé Durand",
        "Ariane Dupont",
    ]
    assert pages == 3


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"$filter": "givenName eq 'Alain'"}, "invalidFilter"),
        ({"$filter": "(" * 500 + "displayName eq 'Alain'" + ")" * 500}, "invalidFilter"),
        ({"$filter": "accountEnabled eq true or usageLocation eq 'FR'"}, "invalidFilter"),
        ({"$filter": "usageLocation ne 'FR'"}, "invalidFilter"),
        ({"$filter": "endswith(mail,'@contoso.com')"}, "invalidFilter"),
        ({"$filter": "accountEnabled eq 'yes'"}, "invalidFilter"),
        ({"$filter": "displayName eq 'Ari\x00ane'"}, "invalidFilter"),
        ({"$filter": "startswith(displayName,"}, "invalidFilter"),
        ({"$search": '"jobTitle:boss"'}, "invalidSearch"),
        ({"$orderby": "createdDateTime"}, "invalidOrderBy"),
        ({"$skiptoken": "not-a-token"}, "invalidSkipToken"),
        ({"$skiptoken": _token("[" * 1400)}, "invalidSkipToken"),
        (
            {"$skiptoken": _token('{"o": "displayName", "d": false, "k": "a", "i": 5}')},
            "invalidSkipToken",
        ),
        ({"$top": "0"}, "invalidRequest"),
    ],
)
def test_unsupported_list_options_are_refused(ariane, params, code):
    response = ariane.get("/v1/users", params=params)
    assert response.status_code == 400, response.text
    assert error_code(response) == code


def test_admin_creates_users_with_checks(ariane, stories, database):
    created = add_user(ariane, "alain@contoso.com", "Alain Martin", givenName="Alain")
    assert created["usageLocation"] is None and created["source"] == "cloud"
    temporary = created["temporaryPassword"]
    # The generated password is temporary: it must be changed at first sign-in.
    token = stories.api.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "alain@contoso.com", "password": temporary},
    ).json()
    assert token["password_change_required"] is True

    chosen = ariane.post(
        "/v1/users",
        json={"userPrincipalName": "Lea@Contoso.com", "displayName": "Léa", "password": PASSWORD},
    )
    assert chosen.status_code == 201
    assert chosen.json()["userPrincipalName"] == "lea@contoso.com"
    assert "temporaryPassword" not in chosen.json()
    assert stories.token("lea@contoso.com")

    def refused(body):
        response = ariane.post("/v1/users", json={"displayName": "X", **body})
        assert response.status_code in (400, 409), response.text
        return error_code(response)

    assert refused({"userPrincipalName": "alain@contoso.com"}) == "userAlreadyExists"
    assert refused({"userPrincipalName": "bob@fabrikam.com"}) == "invalidUserPrincipalNameDomain"
    assert refused({"userPrincipalName": "not an address"}) == "invalidUserPrincipalName"
    assert refused({"userPrincipalName": "x@contoso.com", "usageLocation": "XX"}) == (
        "invalidCountryCode"
    )
    assert refused({"userPrincipalName": "x@contoso.com", "password": "short"}) == (
        "passwordTooWeak"
    )
    actions = {
        row[0] for row in database.rows("SELECT action FROM audit_events WHERE action = 'Add user'")
    }
    assert actions == {"Add user"}


def test_patch_validates_usage_location_and_records_changes(ariane, database):
    alain = add_user(ariane, "alain@contoso.com", "Alain Martin")
    bad = ariane.patch(f"/v1/users/{alain['id']}", json={"usageLocation": "France"})
    assert bad.status_code == 400 and error_code(bad) == "invalidCountryCode"
    unknown = ariane.patch(f"/v1/users/{alain['id']}", json={"usageLocation": "ZZ"})
    assert unknown.status_code == 400 and error_code(unknown) == "invalidCountryCode"
    assert ariane.patch(f"/v1/users/{alain['id']}", json={"jobTitle": "x"}).status_code == 400

    changed = ariane.patch(
        f"/v1/users/{alain['id']}",
        json={"usageLocation": "fr", "displayName": "Alain Martin-Roy", "surname": "Martin-Roy"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["usageLocation"] == "FR"
    # By userPrincipalName too, as in Graph.
    fetched = ariane.get("/v1/users/alain@contoso.com").json()
    assert fetched["displayName"] == "Alain Martin-Roy" and fetched["surname"] == "Martin-Roy"
    found = ariane.get("/v1/users", params={"$search": "roy"}).json()["value"]
    assert [u["id"] for u in found] == [alain["id"]]
    assert database.scalar("SELECT count(*) FROM audit_events WHERE action = 'Update user'") == 1

    cleared = ariane.patch(f"/v1/users/{alain['id']}", json={"usageLocation": None})
    assert cleared.json()["usageLocation"] is None


def test_synced_users_names_belong_to_their_directory(ariane):
    chloe = add_user(ariane, "chloe@contoso.com", "Chloé", source="synced")
    assert chloe["onPremisesSyncEnabled"] is True
    renamed = ariane.patch(f"/v1/users/{chloe['id']}", json={"displayName": "C"})
    assert renamed.status_code == 400 and error_code(renamed) == "propertyManagedBySync"
    located = ariane.patch(f"/v1/users/{chloe['id']}", json={"usageLocation": "NL"})
    assert located.status_code == 200 and located.json()["usageLocation"] == "NL"
    deleted = ariane.delete(f"/v1/users/{chloe['id']}")
    assert deleted.status_code == 400 and error_code(deleted) == "propertyManagedBySync"


def test_blocking_sign_in_ends_sessions_and_refuses_sign_in(ariane, stories, database):
    alain = add_user(ariane, "alain@contoso.com", "Alain Martin", password=PASSWORD)
    with stories.client_for("alain@contoso.com") as alain_api:
        assert alain_api.get("/v1/me").status_code == 200
        blocked = ariane.patch(f"/v1/users/{alain['id']}", json={"accountEnabled": False})
        assert blocked.status_code == 200 and blocked.json()["accountEnabled"] is False
        assert alain_api.get("/v1/me").status_code == 401
    assert database.scalar("SELECT count(*) FROM access_tokens WHERE user_id IS NOT NULL") >= 1
    refused = stories.api.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "alain@contoso.com", "password": PASSWORD},
    )
    assert refused.status_code == 400 and error_code(refused) == "accountDisabled"
    assert (
        database.scalar("SELECT count(*) FROM audit_events WHERE action = 'Disable account'") == 1
    )
    ariane.patch(f"/v1/users/{alain['id']}", json={"accountEnabled": True})
    assert stories.token("alain@contoso.com")


def test_reset_password_gives_a_temporary_password_that_must_be_changed(ariane, stories):
    alain = add_user(ariane, "alain@contoso.com", "Alain Martin", password=PASSWORD)
    with stories.client_for("alain@contoso.com") as before:
        reset = ariane.post(f"/v1/users/{alain['id']}/resetPassword")
        assert reset.status_code == 200, reset.text
        assert before.get("/v1/me").status_code == 401  # the reset ended his sessions
    temporary = reset.json()["temporaryPassword"]
    assert reset.json()["forceChangePasswordNextSignIn"] is True

    old = stories.api.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "alain@contoso.com", "password": PASSWORD},
    )
    assert old.status_code == 400
    signed_in = stories.api.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "alain@contoso.com", "password": temporary},
    )
    assert signed_in.status_code == 200
    assert signed_in.json()["password_change_required"] is True
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    api = stories.api
    must_change = api.get("/v1/me", headers=headers)
    assert must_change.status_code == 403 and error_code(must_change) == "passwordChangeRequired"

    wrong = api.post(
        "/v1/me/changePassword",
        headers=headers,
        json={"currentPassword": "nope", "newPassword": "Brand-New-Pass-7"},
    )
    assert wrong.status_code == 400 and error_code(wrong) == "invalidCurrentPassword"
    weak = api.post(
        "/v1/me/changePassword",
        headers=headers,
        json={"currentPassword": temporary, "newPassword": "weak"},
    )
    assert weak.status_code == 400 and error_code(weak) == "passwordTooWeak"
    changed = api.post(
        "/v1/me/changePassword",
        headers=headers,
        json={"currentPassword": temporary, "newPassword": "Brand-New-Pass-7"},
    )
    assert changed.status_code == 204, changed.text
    assert api.get("/v1/me", headers=headers).status_code == 200  # this session goes on

    again = api.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "alain@contoso.com", "password": temporary},
    )
    assert again.status_code == 400  # the temporary password worked once
    fresh = api.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "alain@contoso.com",
            "password": "Brand-New-Pass-7",
        },
    )
    assert fresh.status_code == 200 and fresh.json()["password_change_required"] is False


def test_password_changes_are_throttled_like_sign_in(ariane, stories, server):
    add_user(ariane, "alain@contoso.com", "Alain Martin", password=PASSWORD)
    settings = server.settings
    original = settings.signin_rate_per_minute
    with stories.client_for("alain@contoso.com") as alain:
        now = clock.now().timestamp()
        clock.advance(seconds=60 - now % 60 + 0.5)  # a fresh one-minute window
        settings.signin_rate_per_minute = 3
        try:
            guesses = [
                alain.post(
                    "/v1/me/changePassword",
                    json={"currentPassword": f"Guess-{n}", "newPassword": "Brand-New-Pass-7"},
                )
                for n in range(4)
            ]
            right = alain.post(
                "/v1/me/changePassword",
                json={"currentPassword": PASSWORD, "newPassword": "Brand-New-Pass-7"},
            )
        finally:
            settings.signin_rate_per_minute = original
    assert [guess.status_code for guess in guesses] == [400, 400, 400, 429]
    assert error_code(guesses[-1]) == "tooManyRequests"
    assert right.status_code == 429 and int(right.headers["Retry-After"]) >= 1
    stories.token("alain@contoso.com")  # the password did not change


def test_an_address_holding_a_nul_character_is_nobodys(ariane, stories):
    # PostgreSQL cannot even compare text holding U+0000: such an address finds nobody.
    assert ariane.get("/v1/users/ariane@contoso.com%00").status_code == 404
    refused = stories.api.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "ariane@contoso.com\x00", "password": PASSWORD},
    )
    assert refused.status_code == 400 and error_code(refused) == "invalid_grant"


def test_deleted_users_are_gone_and_other_tenants_users_do_not_exist(ariane, stories, database):
    alain = add_user(ariane, "alain@contoso.com", "Alain Martin")
    with admin_api(stories, database, "fiona@fabrikam.com", "Fiona") as fiona:
        for response in (
            fiona.get(f"/v1/users/{alain['id']}"),
            fiona.get("/v1/users/alain@contoso.com"),
            fiona.patch(f"/v1/users/{alain['id']}", json={"usageLocation": "FR"}),
            fiona.delete(f"/v1/users/{alain['id']}"),
            fiona.post(f"/v1/users/{alain['id']}/resetPassword"),
        ):
            assert response.status_code == 404, response.text
        assert [u["displayName"] for u in fiona.get("/v1/users").json()["value"]] == ["Fiona"]

    assert ariane.delete(f"/v1/users/{alain['id']}").status_code == 204
    assert ariane.get(f"/v1/users/{alain['id']}").status_code == 404
    assert ariane.delete(f"/v1/users/{alain['id']}").status_code == 404
    assert ariane.get("/v1/users/not-an-id").status_code == 404
    assert database.scalar("SELECT count(*) FROM audit_events WHERE action = 'Delete user'") == 1
    assert database.scalar("SELECT count(*) FROM user_search_terms WHERE term = 'alain'") == 0


def test_cloud_users_can_be_licensed_at_creation(ariane, database):
    bought = ariane.post(
        "/v1/subscriptions",
        json={"skuPartNumber": "BUSINESS_PREMIUM", "quantity": 1},
        headers={"Idempotency-Key": "directory-test-1"},
    )
    assert bought.status_code == 201, bought.text
    (premium,) = [
        s
        for s in ariane.get("/v1/subscribedSkus").json()["value"]
        if s["skuPartNumber"] == "BUSINESS_PREMIUM"
    ]
    licenses = [{"skuId": premium["skuId"]}]

    def consumed() -> int:
        skus = ariane.get("/v1/subscribedSkus").json()["value"]
        return next(s["consumedUnits"] for s in skus if s["skuId"] == premium["skuId"])

    no_location = ariane.post(
        "/v1/users",
        json={
            "userPrincipalName": "x@contoso.com",
            "displayName": "X",
            "assignedLicenses": licenses,
        },
    )
    assert no_location.status_code == 400 and error_code(no_location) == "invalidUsageLocation"
    synced = ariane.post(
        "/v1/users",
        json={
            "userPrincipalName": "y@contoso.com",
            "displayName": "Y",
            "usageLocation": "FR",
            "source": "synced",
            "assignedLicenses": licenses,
        },
    )
    assert synced.status_code == 400
    alain = add_user(
        ariane, "alain@contoso.com", "Alain", usageLocation="FR", assignedLicenses=licenses
    )
    details = ariane.get(f"/v1/users/{alain['id']}/licenseDetails").json()["value"]
    assert [d["skuId"] for d in details] == [premium["skuId"]]
    assert consumed() == 1
    full = ariane.post(
        "/v1/users",
        json={
            "userPrincipalName": "lea@contoso.com",
            "displayName": "Léa",
            "usageLocation": "FR",
            "assignedLicenses": licenses,
        },
    )
    assert full.status_code == 409 and error_code(full) == "CountViolation"
    # All or nothing: the refused users were not created.
    assert database.scalar("SELECT count(*) FROM users") == 2

    # Deleting a licensed user gives the unit back.
    assert ariane.delete(f"/v1/users/{alain['id']}").status_code == 204
    assert consumed() == 0


def test_of_two_password_changes_made_at_once_with_the_same_password_one_wins(stories):
    stories.sign_up("ariane@contoso.com", "Ariane")
    token = stories.token("ariane@contoso.com")

    def change(new: str) -> httpx.Response:
        with httpx.Client(base_url=stories.server.url, timeout=60) as client:
            return client.post(
                "/v1/me/changePassword",
                headers={"Authorization": f"Bearer {token}"},
                json={"currentPassword": PASSWORD, "newPassword": new},
            )

    news = [f"Brand-New-Pass-{n}x" for n in range(5)]
    with ThreadPoolExecutor(len(news)) as pool:
        answers = list(pool.map(change, news))
    # One wins; a loser that checked the current password before the winner committed
    # gets 409, one that checked it after finds it is no longer the current password.
    assert [a.status_code for a in answers].count(204) == 1, [a.text for a in answers]
    assert {error_code(a) for a in answers if a.status_code != 204} <= {
        "passwordChangedMeanwhile",
        "invalidCurrentPassword",
    }
    (winner,) = [
        new for new, answer in zip(news, answers, strict=True) if answer.status_code == 204
    ]
    assert stories.token("ariane@contoso.com", winner)  # the password is the winner's
