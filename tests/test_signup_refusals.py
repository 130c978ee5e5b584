"""Every refusal of self-service sign-up: its own code, a clear message, and nothing created."""

from __future__ import annotations

import pytest

from tenantry.core.clock import clock
from tests.support.admin import make_global_admin
from tests.support.stories import PASSWORD

COUNTED_TABLES = ("tenants", "users", "domains", "signups", "offer_assignments")


def _counts(database) -> dict[str, int]:
    return {table: database.scalar(f"SELECT count(*) FROM {table}") for table in COUNTED_TABLES}


@pytest.mark.parametrize(
    ("email", "code"),
    [
        ("not-an-email", "invalidEmail"),
        ("ariane@", "invalidEmail"),
        ("ariane@@contoso.com", "invalidEmail"),
        ("bob@gmail.com", "consumerDomainNotAllowed"),
        ("bob@Outlook.com", "consumerDomainNotAllowed"),
        ("bob@hotmail.fr", "consumerDomainNotAllowed"),
        ("bob@skynet.be", "consumerDomainNotAllowed"),
        ("bob@mailinator.com", "disposableDomainNotAllowed"),
        ("bob@contoso.local", "notUnderPublicSuffix"),
        ("bob@co.uk", "notUnderPublicSuffix"),
        ("bob@localhost", "notUnderPublicSuffix"),
        ("bob@[127.0.0.1]", "ipLiteralNotAllowed"),
        ("bob@192.168.1.10", "ipLiteralNotAllowed"),
    ],
)
def test_refused_addresses_create_nothing(stories, database, smtp, email, code):
    response = stories.start_signup(email, "Bob")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"] and error["target"] == "email"
    assert _counts(database) == dict.fromkeys(COUNTED_TABLES, 0)
    assert database.scalar("SELECT count(*) FROM outbox_messages") == 0


def test_missing_fields_are_a_clear_400(api, database):
    response = api.post("/v1/signup", json={"email": "ariane@contoso.com"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalidRequest"
    assert response.json()["error"]["target"] == "displayName"
    assert (
        api.post(
            "/v1/signup", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert _counts(database)["signups"] == 0


@pytest.mark.parametrize(
    ("body", "target"),
    [
        (b'{"email": "ariane@contoso.com", "displayName": "Ari\\u0000ane"}', "displayName"),
        (b'{"email": "ariane@contoso.com\\u0000", "displayName": "Ariane"}', "email"),
        (b'{"email": "ariane@contoso.com", "displayName": "Ari\\ud800ane"}', "displayName"),
    ],
)
def test_text_that_cannot_be_stored_is_a_clear_400(api, database, body, target):
    # U+0000 (PostgreSQL text cannot hold it) and half a surrogate pair (not a character).
    response = api.post("/v1/signup", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalidRequest"
    assert response.json()["error"]["target"] == target
    assert _counts(database) == dict.fromkeys(COUNTED_TABLES, 0)


def test_managed_tenant_that_closed_self_service_join_refuses(stories, database, api):
    stories.sign_up("ariane@contoso.com")
    make_global_admin(database, "ariane@contoso.com")
    with stories.client_for("ariane@contoso.com") as ariane:
        changed = ariane.patch(
            "/v1/policies/authorizationPolicy",
            json={"allowEmailVerifiedUsersToJoinOrganization": False},
        )
        assert changed.status_code == 200
        assert changed.json()["allowEmailVerifiedUsersToJoinOrganization"] is False
    before = _counts(database)
    refused = stories.start_signup("alain@contoso.com", "Alain")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "domainManagedByAdministrator"
    assert "administrator manages the accounts" in refused.json()["error"]["message"]
    assert _counts(database) == before
    realm = api.get("/v1/userRealm/alain@contoso.com").json()
    assert realm["state"] == "managed" and realm["nameSpaceType"] == "Managed"
    assert realm["signupAllowed"] is False


def test_managed_tenant_that_allows_join_takes_new_people(stories, database):
    stories.sign_up("ariane@contoso.com")
    make_global_admin(database, "ariane@contoso.com")
    alain = stories.sign_up("alain@contoso.com")
    assert alain["tenant"]["state"] == "managed"


def test_tenant_without_self_service_offers_refuses(stories, database):
    stories.sign_up("ariane@contoso.com")
    make_global_admin(database, "ariane@contoso.com")
    with stories.client_for("ariane@contoso.com") as ariane:
        ariane.patch(
            "/v1/policies/authorizationPolicy",
            json={"allowedToSignUpEmailBasedSubscriptions": False},
        )
    refused = stories.start_signup("alain@contoso.com", "Alain")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "selfServiceSignupDisabled"


def test_members_of_unmanaged_tenants_cannot_change_the_policy(stories):
    stories.sign_up("ariane@contoso.com")
    with stories.client_for("ariane@contoso.com") as ariane:
        refused = ariane.patch(
            "/v1/policies/authorizationPolicy",
            json={"allowEmailVerifiedUsersToJoinOrganization": False},
        )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "tenantUnmanaged"


def test_wrong_codes_count_and_run_out(stories, api, smtp, database):
    started = stories.start_signup("ariane@contoso.com", "Ariane").json()
    code = smtp.code_for("ariane@contoso.com")
    wrong = "000000" if code != "000000" else "111111"
    for remaining in (4, 3, 2, 1, 0):
        response = api.post(
            f"/v1/signup/{started['signupId']}/verify", json={"code": wrong, "password": PASSWORD}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalidCode"
        assert response.json()["error"]["attemptsRemaining"] == remaining
    exhausted = api.post(
        f"/v1/signup/{started['signupId']}/verify", json={"code": code, "password": PASSWORD}
    )
    assert exhausted.status_code == 429
    assert exhausted.json()["error"]["code"] == "tooManyAttempts"
    assert _counts(database)["users"] == 0 and _counts(database)["tenants"] == 0


def test_expired_code_is_refused_and_a_resend_is_throttled(stories, api, smtp, database):
    started = stories.start_signup("ariane@contoso.com", "Ariane").json()
    code = smtp.code_for("ariane@contoso.com")
    too_soon = api.post(f"/v1/signup/{started['signupId']}/resend")
    assert too_soon.status_code == 429
    assert too_soon.json()["error"]["code"] == "resendThrottled"
    assert int(too_soon.headers["Retry-After"]) > 0

    clock.advance(minutes=11)
    expired = api.post(
        f"/v1/signup/{started['signupId']}/verify", json={"code": code, "password": PASSWORD}
    )
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "codeExpired"
    assert _counts(database)["users"] == 0

    resent = api.post(f"/v1/signup/{started['signupId']}/resend")
    assert resent.status_code == 202
    new_code = smtp.code_for("ariane@contoso.com", count=2)
    done = api.post(
        f"/v1/signup/{started['signupId']}/verify", json={"code": new_code, "password": PASSWORD}
    )
    assert done.status_code == 201
    again = api.post(
        f"/v1/signup/{started['signupId']}/verify", json={"code": new_code, "password": PASSWORD}
    )
    assert again.json()["error"]["code"] == "signupAlreadyCompleted"


@pytest.mark.parametrize("password", ["short1A", "alllowercaseletters", "ariane-Password-1"])
def test_weak_passwords_are_refused(stories, api, smtp, database, password):
    started = stories.start_signup("ariane@contoso.com", "Ariane").json()
    code = smtp.code_for("ariane@contoso.com")
    weak = api.post(
        f"/v1/signup/{started['signupId']}/verify", json={"code": code, "password": password}
    )
    assert weak.status_code == 400
    assert weak.json()["error"]["code"] == "passwordTooWeak"
    assert _counts(database)["users"] == 0


def test_unknown_signup_ids_are_not_found(api):
    for signup_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = api.post(
            f"/v1/signup/{signup_id}/verify", json={"code": "123456", "password": PASSWORD}
        )
        assert response.status_code == 404


def test_repeated_failed_sign_ins_lock_the_account(stories, api):
    stories.sign_up("ariane@contoso.com")
    for guess in range(5):
        failed = api.post(
            "/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "ariane@contoso.com",
                "password": f"nope-{guess}",
            },
        )
        assert failed.json()["error"]["code"] == "invalid_grant"
    locked = api.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "ariane@contoso.com", "password": PASSWORD},
    )
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "accountLocked"
    clock.advance(minutes=16)
    stories.token("ariane@contoso.com")


def test_sign_ups_from_one_address_are_rate_limited(stories, server):
    settings = server.app.state.settings
    original = settings.signup_rate_per_hour
    settings.signup_rate_per_hour = 3
    try:
        statuses = [
            stories.api.post(
                "/v1/signup",
                json={"email": f"p{i}@contoso.com", "displayName": "P"},
                headers={"X-Forwarded-For": "203.0.113.7"},
            ).status_code
            for i in range(5)
        ]
    finally:
        settings.signup_rate_per_hour = original
    assert statuses == [202, 202, 202, 429, 429]


def test_codes_entered_from_one_network_are_rate_limited(stories, server, smtp, database):
    """Wrong codes count against the network's hourly limit; over it, even the right code
    is refused with 429 and nothing is created, while other networks are unaffected."""
    settings = server.app.state.settings
    original = settings.signup_rate_per_hour
    guessed = stories.start_signup("ariane@contoso.com", "Ariane").json()["signupId"]
    target = stories.start_signup("alain@contoso.com", "Alain").json()["signupId"]
    code = smtp.code_for("alain@contoso.com")
    wrong = "000000" if smtp.code_for("ariane@contoso.com") != "000000" else "111111"
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    settings.signup_rate_per_hour = 1  # five codes an hour from one network
    try:
        guesses = [
            stories.api.post(
                f"/v1/signup/{guessed}/verify",
                json={"code": wrong, "password": PASSWORD},
                headers=attacker,
            )
            for _ in range(5)
        ]
        refused = stories.api.post(
            f"/v1/signup/{target}/verify",
            json={"code": code, "password": PASSWORD},
            headers=attacker,
        )
        users_after_refusal = database.scalar("SELECT count(*) FROM users")
        elsewhere = stories.api.post(
            f"/v1/signup/{target}/verify",
            json={"code": code, "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.4"},
        )
    finally:
        settings.signup_rate_per_hour = original
    assert {g.json()["error"]["code"] for g in guesses} <= {"invalidCode"}
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "tooManyRequests"
    assert int(refused.headers["Retry-After"]) > 0
    assert users_after_refusal == 0
    assert elsewhere.status_code == 201, elsewhere.text
