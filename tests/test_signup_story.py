"""The seed story: colleagues of one domain land in one tenant; a personal address is refused."""

from __future__ import annotations

from datetime import datetime, timedelta

from tenantry.core.clock import clock


def test_colleagues_land_in_their_domains_unmanaged_tenant(stories, api, smtp):
    ariane = stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    assert ariane["user"]["userPrincipalName"] == "ariane@contoso.com"
    assert ariane["tenant"]["displayName"] == "contoso.com"
    assert ariane["tenant"]["state"] == "unmanaged"
    domain_names = {d["id"] for d in ariane["tenant"]["domains"]}
    assert "contoso.com" in domain_names
    initial = [d for d in ariane["tenant"]["domains"] if d["isInitial"]]
    assert initial and initial[0]["id"].endswith(".tenantry.localhost") and initial[0]["isDefault"]

    alain = stories.sign_up("alain@contoso.com", "Alain Martin")
    assert alain["tenant"]["id"] == ariane["tenant"]["id"]

    with stories.client_for("ariane@contoso.com") as ariane_api:
        me = ariane_api.get("/v1/me").json()
        assert me["displayName"] == "Ariane Dupont"
        assert me["tenantId"] == ariane["tenant"]["id"]
        assert me["roles"] == []
        assert me["entitlements"]["meetings.max_participants"] == 10
        organization = ariane_api.get("/v1/organization").json()
        assert organization["state"] == "unmanaged"
        assert organization["displayName"] == "contoso.com"

        refused = ariane_api.post(
            "/v1/users",
            json={
                "displayName": "Chloé",
                "userPrincipalName": "chloe@contoso.com",
                "password": "Another-pass-1",
            },
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "tenantUnmanaged"
        assert "Become the admin" in refused.json()["error"]["message"]

    bob = stories.start_signup("bob@gmail.com", "Bob")
    assert bob.status_code == 400
    assert bob.json()["error"]["code"] == "consumerDomainNotAllowed"
    assert "personal email address" in bob.json()["error"]["message"]
    assert smtp.to("bob@gmail.com") == []


def test_a_subdomain_forms_its_own_tenant(stories):
    root = stories.sign_up("ariane@contoso.com")
    sub = stories.sign_up("lea@research.contoso.com")
    assert sub["tenant"]["id"] != root["tenant"]["id"]
    assert sub["tenant"]["displayName"] == "research.contoso.com"


def test_free_offer_steps_down_after_sixty_days(stories):
    stories.sign_up("ariane@contoso.com")
    with stories.client_for("ariane@contoso.com") as ariane_api:
        me = ariane_api.get("/v1/me").json()
        assert me["entitlements"]["meetings.max_participants"] == 10
        # The step down is announced: the value and the moment it takes effect.
        (change,) = me["entitlementChanges"]
        assert (change["name"], change["value"]) == ("meetings.max_participants", 3)
        starts = datetime.fromisoformat(change["effectiveDateTime"])
        assert starts - clock.now() > timedelta(days=59, hours=23)
        assert starts - clock.now() <= timedelta(days=60)
        assert ariane_api.get("/v1/me/entitlements").json()["entitlementChanges"] == [change]
        clock.advance(days=59)
        # An access token lives an hour: after 59 days it is refused.
        assert ariane_api.get("/v1/me").status_code == 401
    with stories.client_for("ariane@contoso.com") as ariane_api:
        assert ariane_api.get("/v1/me").json()["entitlements"]["meetings.max_participants"] == 10
    clock.advance(days=2)
    with stories.client_for("ariane@contoso.com") as ariane_api:
        me = ariane_api.get("/v1/me").json()
    assert me["entitlements"]["meetings.max_participants"] == 3
    assert me["entitlements"]["meetings.max_meetings"] == "unlimited"
    assert me["entitlementChanges"] == []  # nothing more to come


def test_user_realm_tells_whether_the_domain_has_a_tenant(stories, api):
    unknown = api.get("/v1/userRealm/ariane@contoso.com").json()
    assert unknown["tenantExists"] is False and unknown["state"] is None
    stories.sign_up("ariane@contoso.com")
    known = api.get("/v1/userRealm/alain@contoso.com").json()
    assert known["tenantExists"] is True
    assert known["state"] == "unmanaged"
    assert known["isViral"] is True
    personal = api.get("/v1/userRealm/bob@gmail.com").json()
    assert personal["signupAllowed"] is False and personal["reason"] == "consumerDomainNotAllowed"


def test_signing_up_again_gives_the_offer_on_the_existing_account(stories, api, database):
    first = stories.sign_up("ariane@contoso.com", password="First-pass-1")
    again = stories.start_signup("ariane@contoso.com", "Ariane")
    code = stories.smtp.code_for("ariane@contoso.com", count=2)
    verified = api.post(
        f"/v1/signup/{again.json()['signupId']}/verify",
        json={"code": code, "password": "Other-pass-2"},
    )
    assert verified.status_code == 200
    assert verified.json()["user"]["id"] == first["user"]["id"]
    assert database.scalar("SELECT count(*) FROM users") == 1
    # The existing password is kept.
    stories.token("ariane@contoso.com", "First-pass-1")


def test_two_domains_with_the_same_first_label_get_distinct_initial_domains(stories):
    contoso_com = stories.sign_up("ariane@contoso.com", "Ariane")["tenant"]
    contoso_fr = stories.sign_up("benoit@contoso.fr", "Benoît")["tenant"]
    assert contoso_com["id"] != contoso_fr["id"]

    def initial(tenant):
        return next(d["id"] for d in tenant["domains"] if d["isInitial"])

    assert initial(contoso_com) == "contoso.tenantry.localhost"
    assert initial(contoso_fr) != initial(contoso_com)
    assert initial(contoso_fr).startswith("contoso") and initial(contoso_fr).endswith(
        ".tenantry.localhost"
    )
