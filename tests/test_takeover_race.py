"""Races: many candidates completing at once; retried purchases buying nothing twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.stories import publish_record

CANDIDATES = 20


def _verified_candidate(stories, dns_zone, email: str) -> httpx.Client:
    client = stories.client_for(email)
    state = client.post("/v1/organization/becomeAdmin", json={"entryPoint": "admin"})
    publish_record(dns_zone, state.json())
    assert client.post("/v1/organization/becomeAdmin/verify").status_code == 200
    return client


def test_twenty_candidates_of_one_tenant_exactly_one_wins(stories, dns_zone, database):
    emails = [f"candidate{i}@contoso.com" for i in range(CANDIDATES)]
    for email in emails:
        stories.sign_up(email)
    clients = [_verified_candidate(stories, dns_zone, email) for email in emails]

    def complete(indexed: tuple[int, httpx.Client]) -> httpx.Response:
        index, client = indexed
        return client.post(
            "/v1/organization/becomeAdmin/complete",
            json={"skuPartNumber": "BUSINESS_ESSENTIALS", "quantity": CANDIDATES},
            headers={"Idempotency-Key": f"candidate-{index}"},
        )

    with ThreadPoolExecutor(max_workers=CANDIDATES) as pool:
        responses = list(pool.map(complete, enumerate(clients)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, [r.text for r in responses if r.status_code != 409]
    assert statuses.count(409) == CANDIDATES - 1
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "tenantAlreadyManaged"
    }
    assert database.scalar("SELECT count(*) FROM role_assignments") == 1
    assert database.scalar("SELECT count(*) FROM subscriptions") == 1


def test_two_unmanaged_tenants_racing_for_one_domain(stories, dns_zone, database):
    """A managed tenant verifying fabrikam.com while fabrikam.com's own candidate completes."""
    stories.sign_up("ariane@contoso.com")
    from tests.support.stories import become_admin

    ariane = stories.client_for("ariane@contoso.com")
    assert become_admin(ariane, dns_zone).status_code == 200
    assert ariane.post("/v1/domains", json={"id": "fabrikam.com"}).status_code == 201
    publish_record(dns_zone, ariane.get("/v1/domains/fabrikam.com/verificationDnsRecords").json())

    stories.sign_up("felix@fabrikam.com")
    felix = _verified_candidate(stories, dns_zone, "felix@fabrikam.com")

    def external() -> httpx.Response:
        return ariane.post("/v1/domains/fabrikam.com/verify")

    def internal() -> httpx.Response:
        return felix.post(
            "/v1/organization/becomeAdmin/complete",
            json={"skuPartNumber": "BUSINESS_ESSENTIALS", "quantity": 1},
            headers={"Idempotency-Key": "felix"},
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.submit(external), pool.submit(internal)
        outcomes = [first.result(), second.result()]
    assert sorted(r.status_code for r in outcomes) == [200, 409], [r.text for r in outcomes]
    loser = next(r for r in outcomes if r.status_code == 409)
    assert loser.json()["error"]["code"] in {"tenantAlreadyManaged", "domainAlreadyVerified"}
    assert (
        database.scalar("SELECT count(*) FROM domains WHERE name = 'fabrikam.com' AND is_verified")
        == 1
    )


def test_retried_completion_buys_once(stories, dns_zone, database):
    stories.sign_up("ariane@contoso.com")
    ariane = _verified_candidate(stories, dns_zone, "ariane@contoso.com")
    body = {"skuPartNumber": "BUSINESS_ESSENTIALS", "quantity": 3}
    responses = [
        ariane.post(
            "/v1/organization/becomeAdmin/complete", json=body, headers={"Idempotency-Key": "same"}
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[0].json() == responses[2].json()
    assert database.scalar("SELECT count(*) FROM subscriptions") == 1
