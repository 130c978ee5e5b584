"""Seed 002: Ariane becomes the admin of contoso.com: DNS proof of ownership, then licenses."""

from __future__ import annotations

from tests.support.stories import publish_record

NEW_USER = {
    "displayName": "Chloé Bernard",
    "userPrincipalName": "chloe@contoso.com",
    "password": "Another-pass-1",
}


def test_ariane_becomes_the_admin(stories, smtp, dns_zone):
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    stories.sign_up("alain@contoso.com", "Alain Martin")
    ariane = stories.client_for("ariane@contoso.com")

    # Step 2: the wizard, from the admin entry point.
    state = ariane.post("/v1/organization/becomeAdmin", json={"entryPoint": "admin"})
    assert state.status_code == 200, state.text
    wizard = state.json()
    assert wizard["domain"] == "contoso.com"
    assert wizard["minimumLicenses"] == 2
    assert [o["skuPartNumber"] for o in wizard["offers"]] == ["BUSINESS_ESSENTIALS"]
    (record,) = wizard["verificationDnsRecords"]
    assert record["recordType"] == "Txt"
    assert record["label"] == "contoso.com"
    assert record["ttl"] == 3600
    assert record["text"].startswith("tenantry-verify=")

    # Step 3 before the record is published: a normal, retryable "not found yet".
    early = ariane.post("/v1/organization/becomeAdmin/verify")
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "verificationRecordNotFound"
    assert "up to an hour" in early.json()["error"]["message"]

    # The wizard remembers where she stopped.
    resumed = ariane.get("/v1/organization/becomeAdmin").json()
    assert resumed["status"] == "started"
    assert resumed["verificationDnsRecords"][0]["text"] == record["text"]

    # Until the licenses are bought, she can manage nothing.
    assert ariane.post("/v1/users", json=NEW_USER).json()["error"]["code"] == "tenantUnmanaged"

    publish_record(dns_zone, wizard)
    verified = ariane.post("/v1/organization/becomeAdmin/verify")
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "verified"
    assert ariane.post("/v1/users", json=NEW_USER).json()["error"]["code"] == "tenantUnmanaged"

    # Step 4: one license per person who signed up is the minimum.
    too_few = ariane.post(
        "/v1/organization/becomeAdmin/complete",
        json={"skuPartNumber": "BUSINESS_ESSENTIALS", "quantity": 1},
        headers={"Idempotency-Key": "k1"},
    )
    assert too_few.status_code == 400
    assert too_few.json()["error"]["code"] == "insufficientLicenses"
    assert too_few.json()["error"]["minimumLicenses"] == 2

    done = ariane.post(
        "/v1/organization/becomeAdmin/complete",
        json={"skuPartNumber": "BUSINESS_ESSENTIALS", "quantity": 2},
        headers={"Idempotency-Key": "k2"},
    )
    assert done.status_code == 200, done.text
    organization = done.json()
    assert organization["state"] == "managed"
    contoso = next(d for d in organization["domains"] if d["id"] == "contoso.com")
    assert contoso["isVerified"] is True

    me = ariane.get("/v1/me").json()
    assert "GlobalAdministrator" in me["roles"]

    # Alain is told the organization is managed, and by whom.
    (notice,) = smtp.wait_for("alain@contoso.com", count=2)[1:]
    assert "Ariane Dupont" in notice.body and "ariane@contoso.com" in notice.body

    # Both hold a license of the new subscription.
    skus = ariane.get("/v1/subscribedSkus").json()["value"]
    essentials = next(s for s in skus if s["skuPartNumber"] == "BUSINESS_ESSENTIALS")
    assert essentials["prepaidUnits"]["enabled"] == 2
    assert essentials["consumedUnits"] == 2

    # Now she can add users.
    added = ariane.post("/v1/users", json=NEW_USER)
    assert added.status_code == 201, added.text

    # The wizard now says there is an admin and offers nothing.
    again = stories.client_for("alain@contoso.com").post(
        "/v1/organization/becomeAdmin", json={"entryPoint": "upgrade"}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "tenantAlreadyManaged"


def test_upgrade_entry_point_offers_premium_too(stories, dns_zone):
    stories.sign_up("ariane@contoso.com")
    ariane = stories.client_for("ariane@contoso.com")
    wizard = ariane.post("/v1/organization/becomeAdmin", json={"entryPoint": "upgrade"}).json()
    assert {o["skuPartNumber"] for o in wizard["offers"]} == {
        "BUSINESS_ESSENTIALS",
        "BUSINESS_PREMIUM",
    }
    assert wizard["minimumLicenses"] == 1


def test_admin_entry_point_refuses_premium(stories, dns_zone):
    stories.sign_up("ariane@contoso.com")
    ariane = stories.client_for("ariane@contoso.com")
    wizard = ariane.post("/v1/organization/becomeAdmin", json={"entryPoint": "admin"}).json()
    publish_record(dns_zone, wizard)
    assert ariane.post("/v1/organization/becomeAdmin/verify").status_code == 200
    refused = ariane.post(
        "/v1/organization/becomeAdmin/complete",
        json={"skuPartNumber": "BUSINESS_PREMIUM", "quantity": 1},
        headers={"Idempotency-Key": "x"},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "offerNotAvailable"


def test_complete_before_verifying_is_refused(stories):
    stories.sign_up("ariane@contoso.com")
    ariane = stories.client_for("ariane@contoso.com")
    ariane.post("/v1/organization/becomeAdmin", json={"entryPoint": "admin"})
    refused = ariane.post(
        "/v1/organization/becomeAdmin/complete",
        json={"skuPartNumber": "BUSINESS_ESSENTIALS", "quantity": 1},
        headers={"Idempotency-Key": "x"},
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "domainVerificationRequired"


def test_dns_failures_are_reported_as_such(stories, dns_zone):
    stories.sign_up("ariane@contoso.com")
    ariane = stories.client_for("ariane@contoso.com")
    ariane.post("/v1/organization/becomeAdmin", json={"entryPoint": "admin"})
    dns_zone.fail("contoso.com")
    failed = ariane.post("/v1/organization/becomeAdmin/verify")
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "dnsServerFailure"


def test_wrong_entry_point_is_a_clear_error(stories):
    stories.sign_up("ariane@contoso.com")
    ariane = stories.client_for("ariane@contoso.com")
    wrong = ariane.post("/v1/organization/becomeAdmin", json={"entryPoint": "backdoor"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "invalidEntryPoint"


def test_an_unknown_country_is_refused_and_buys_nothing(stories, dns_zone, database):
    stories.sign_up("ariane@contoso.com")
    ariane = stories.client_for("ariane@contoso.com")
    wizard = ariane.post("/v1/organization/becomeAdmin", json={"entryPoint": "admin"}).json()
    publish_record(dns_zone, wizard)
    assert ariane.post("/v1/organization/becomeAdmin/verify").status_code == 200
    refused = ariane.post(
        "/v1/organization/becomeAdmin/complete",
        json={"skuPartNumber": "BUSINESS_ESSENTIALS", "quantity": 1, "countryLetterCode": "XX"},
        headers={"Idempotency-Key": "x"},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalidCountryCode"
    assert database.scalar("SELECT count(*) FROM subscriptions") == 0
    assert ariane.get("/v1/organization").json()["state"] == "unmanaged"
