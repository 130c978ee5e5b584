"""External takeover: a managed tenant verifies a domain an unmanaged tenant was formed from."""

from __future__ import annotations

from tests.support.stories import PASSWORD, become_admin, publish_record


def test_fabrikam_people_move_into_the_managed_tenant(stories, dns_zone, smtp, database):
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    ariane = stories.client_for("ariane@contoso.com")
    assert become_admin(ariane, dns_zone).status_code == 200
    contoso_id = ariane.get("/v1/organization").json()["id"]

    fabrikam = stories.sign_up("felix@fabrikam.com", "Félix")
    stories.sign_up("fanny@fabrikam.com", "Fanny")
    old_tenant = fabrikam["tenant"]["id"]

    assert ariane.post("/v1/domains", json={"id": "fabrikam.com"}).status_code == 201
    publish_record(dns_zone, ariane.get("/v1/domains/fabrikam.com/verificationDnsRecords").json())
    verified = ariane.post("/v1/domains/fabrikam.com/verify")
    assert verified.status_code == 200, verified.text
    assert verified.json()["availabilityStatus"] == "EmailVerifiedDomainTakeoverScheduled"
    assert verified.json()["movedUsers"] == 2

    # Félix signs in with the same address and password and finds himself at Contoso.
    with stories.client_for("felix@fabrikam.com", PASSWORD) as felix:
        me = felix.get("/v1/me").json()
        assert me["tenantId"] == contoso_id
        assert me["entitlements"]["meetings.max_participants"] == 10  # his offer moved with him
        assert felix.get("/v1/organization").json()["state"] == "managed"

    moved_notice = smtp.wait_for("fanny@fabrikam.com", count=2)[-1]
    assert "fabrikam.com" in moved_notice.body
    assert (
        database.scalar("SELECT state FROM tenants WHERE id = :id", id=_uuid(database, old_tenant))
        == "closed"
    )

    # New sign-ups at fabrikam.com now land in the managed tenant (self-service join is on).
    gina = stories.sign_up("gina@fabrikam.com", "Gina")
    assert gina["tenant"]["id"] == contoso_id


def _uuid(database, value: str):
    import uuid

    parsed = uuid.UUID(value)
    return str(parsed) if database.kind == "postgresql" else parsed.hex
