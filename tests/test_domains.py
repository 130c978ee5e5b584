"""Domains of a managed tenant: add, verify, default, remove (Graph shape), and bad input."""

from __future__ import annotations

import pytest

from tests.support.stories import become_admin, publish_record


@pytest.fixture()
def admin(stories, dns_zone):
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    ariane = stories.client_for("ariane@contoso.com")
    assert become_admin(ariane, dns_zone).status_code == 200
    return ariane


def test_add_verify_default_and_remove_a_domain(admin, dns_zone):
    added = admin.post("/v1/domains", json={"id": "Fabrikam.com"})
    assert added.status_code == 201, added.text
    assert added.json() == {
        "id": "fabrikam.com",
        "isVerified": False,
        "isDefault": False,
        "isInitial": False,
        "isRoot": True,
    }
    records = admin.get("/v1/domains/fabrikam.com/verificationDnsRecords").json()
    (record,) = records["value"]
    assert record["recordType"] == "Txt" and record["ttl"] == 3600
    assert record["label"] == "fabrikam.com" and record["text"].startswith("tenantry-verify=")

    not_yet = admin.post("/v1/domains/fabrikam.com/verify")
    assert not_yet.status_code == 409
    assert not_yet.json()["error"]["code"] == "verificationRecordNotFound"
    cannot_default = admin.patch("/v1/domains/fabrikam.com", json={"isDefault": True})
    assert cannot_default.json()["error"]["code"] == "domainNotVerified"

    publish_record(dns_zone, records)
    verified = admin.post("/v1/domains/fabrikam.com/verify")
    assert verified.status_code == 200
    assert verified.json()["isVerified"] is True
    assert verified.json()["availabilityStatus"] == "AvailableImmediately"

    made_default = admin.patch("/v1/domains/fabrikam.com", json={"isDefault": True})
    assert made_default.json()["isDefault"] is True
    listed = {d["id"]: d for d in admin.get("/v1/domains").json()["value"]}
    assert listed["fabrikam.com"]["isDefault"] and not listed["contoso.com"]["isDefault"]

    refused = admin.delete("/v1/domains/fabrikam.com")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "domainIsDefault"

    admin.patch("/v1/domains/contoso.com", json={"isDefault": True})
    assert admin.delete("/v1/domains/fabrikam.com").status_code == 204
    assert admin.get("/v1/domains/fabrikam.com").status_code == 404


def test_initial_domain_cannot_be_removed(admin):
    initial = next(d for d in admin.get("/v1/domains").json()["value"] if d["isInitial"])
    refused = admin.delete(f"/v1/domains/{initial['id']}")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "initialDomainCannotBeRemoved"


def test_removing_a_domain_in_use_needs_force_which_renames_and_disables(admin, api, dns_zone):
    admin.post("/v1/domains", json={"id": "fabrikam.com"})
    publish_record(dns_zone, admin.get("/v1/domains/fabrikam.com/verificationDnsRecords").json())
    assert admin.post("/v1/domains/fabrikam.com/verify").status_code == 200
    created = admin.post(
        "/v1/users",
        json={
            "displayName": "Chloé",
            "userPrincipalName": "chloe@fabrikam.com",
            "password": "Abcdef-12",
        },
    )
    assert created.status_code == 201

    in_use = admin.delete("/v1/domains/fabrikam.com")
    assert in_use.status_code == 409
    assert in_use.json()["error"]["code"] == "domainInUse"
    assert in_use.json()["error"]["objectsInUse"] == 1

    assert admin.delete("/v1/domains/fabrikam.com?force=true").status_code == 204
    initial = next(d for d in admin.get("/v1/domains").json()["value"] if d["isInitial"])
    refused = api.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": f"chloe@{initial['id']}",
            "password": "Abcdef-12",
        },
    )
    assert refused.json()["error"]["code"] == "accountDisabled"


def test_a_forced_removal_never_disables_every_global_administrator(admin):
    initial = next(d for d in admin.get("/v1/domains").json()["value"] if d["isInitial"])
    admin.patch(f"/v1/domains/{initial['id']}", json={"isDefault": True})
    refused = admin.delete("/v1/domains/contoso.com?force=true")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "wouldLockOutAdministrators"
    # Keeping the accounts enabled is allowed: Ariane now signs in at the initial domain.
    kept = admin.post("/v1/domains/contoso.com/forceDelete", json={"disableUserAccounts": False})
    assert kept.status_code == 204
    assert admin.get("/v1/me").json()["userPrincipalName"] == f"ariane@{initial['id']}"


def test_subdomain_of_a_verified_root_is_verified_with_it(admin):
    sub = admin.post("/v1/domains", json={"id": "sales.contoso.com"})
    assert sub.status_code == 201
    assert sub.json()["isVerified"] is True and sub.json()["isRoot"] is False


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("not a domain", "invalidDomainName"),
        ("127.0.0.1", "ipLiteralNotAllowed"),
        ("co.uk", "notUnderPublicSuffix"),
        ("intranet.local", "notUnderPublicSuffix"),
        ("x" * 300 + ".com", "invalidDomainName"),
        ("", "invalidRequest"),
    ],
)
def test_bad_domain_names_get_clear_errors(admin, name, code):
    refused = admin.post("/v1/domains", json={"id": name})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == code


def test_another_tenants_domain_is_not_found(admin, stories, dns_zone):
    stories.sign_up("nina@northwind.com")
    nina = stories.client_for("nina@northwind.com")
    assert become_admin(nina, dns_zone).status_code == 200
    assert nina.get("/v1/domains/contoso.com").status_code == 404
    assert nina.get("/v1/domains/contoso.com/verificationDnsRecords").status_code == 404
    assert nina.delete("/v1/domains/contoso.com").status_code == 404
    # She may add it, but not verify it: it is verified in another organization.
    assert nina.post("/v1/domains", json={"id": "contoso.com"}).status_code == 201
    records = nina.get("/v1/domains/contoso.com/verificationDnsRecords").json()
    publish_record(dns_zone, records)
    refused = nina.post("/v1/domains/contoso.com/verify")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "domainAlreadyVerified"
    assert "already verified in another organization" in refused.json()["error"]["message"]


def test_members_of_unmanaged_tenants_cannot_manage_domains(stories):
    stories.sign_up("ariane@contoso.com")
    ariane = stories.client_for("ariane@contoso.com")
    refused = ariane.post("/v1/domains", json={"id": "fabrikam.com"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "tenantUnmanaged"
