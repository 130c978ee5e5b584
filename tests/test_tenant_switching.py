"""One sign-in, several organizations: Kim (fabrikam.com) is also a guest of contoso.com; she
picks where she acts, by API token or from the pages' header, and there she is that
organization's guest user and nothing more."""

from __future__ import annotations

import html
import re

from tests.support.admin import make_global_admin
from tests.support.guests import (
    browser,
    client_in,
    invite,
    path_of,
    post_form,
    redeem_by_code,
    redeem_by_sign_in,
    signed_in,
    token,
)
from tests.support.licensing import ESSENTIALS, buy, global_admin
from tests.support.stories import PASSWORD

LEE_PASSWORD = "Orchid-Falls-2024"


def _kim_in_two_tenants(stories, database, server):
    """Ariane runs contoso.com; Kim (fabrikam.com) accepted Ariane's invitation."""
    ariane = global_admin(stories, database, "ariane@contoso.com")
    kim = stories.sign_up("kim@fabrikam.com", "Kim Lee")
    invitation = invite(ariane.api, "kim@fabrikam.com", invitedUserDisplayName="Kim Lee")
    with browser(server) as kims_browser:
        assert (
            redeem_by_sign_in(kims_browser, path_of(invitation["inviteRedeemUrl"])).status_code
            == 303
        )
    return ariane, kim, invitation["invitedUser"]["id"]


def _options(page: str) -> list[tuple[str, str, bool]]:
    """The header switcher's choices: (tenant id, label, selected)."""
    form = re.search(r'<form[^>]*data-test="tenant-switch".*?</form>', page, re.S)
    if form is None:
        return []
    return [
        (value, html.unescape(label).strip(), bool(selected))
        for value, selected, label in re.findall(
            r'<option value="([^"]+)"( selected)?>([^<]*)</option>', form.group(0)
        )
    ]


def test_kim_gets_a_token_for_either_organization(stories, database, server):
    ariane, kim, guest_id = _kim_in_two_tenants(stories, database, server)
    fabrikam_id, contoso_id = kim["tenant"]["id"], ariane.tenant_id

    with client_in(stories, "kim@fabrikam.com") as at_home:  # no tenant: her own
        me = at_home.get("/v1/me").json()
        assert (me["id"], me["userType"], me["tenant"]["id"]) == (
            kim["user"]["id"],
            "Member",
            fabrikam_id,
        )
        tenants = at_home.get("/v1/me/tenants").json()["value"]
        assert [(t["tenantId"], t["userType"], t["isCurrent"]) for t in tenants] == [
            (fabrikam_id, "Member", True),
            (contoso_id, "Guest", False),
        ]
        assert tenants[1]["displayName"] == "contoso.com"
        assert tenants[1]["defaultDomain"]

    for key in (contoso_id, "contoso.com", "CONTOSO.COM"):
        with client_in(stories, "kim@fabrikam.com", tenant=key) as in_contoso:
            me = in_contoso.get("/v1/me").json()
            assert me["id"] == guest_id and me["userType"] == "Guest"
            assert me["tenant"] == {
                "id": contoso_id,
                "displayName": "contoso.com",
                "defaultDomain": me["tenant"]["defaultDomain"],
            }
            assert me["mail"] == "kim@fabrikam.com"
            assert me["userPrincipalName"].startswith("kim_fabrikam.com#EXT#@")
            current = [
                t for t in in_contoso.get("/v1/me/tenants").json()["value"] if t["isCurrent"]
            ]
            assert [t["tenantId"] for t in current] == [contoso_id]
            # There she is contoso's guest: no admin, nothing of fabrikam.
            assert in_contoso.get("/v1/users").status_code == 403
            assert in_contoso.get("/v1/organization").json()["id"] == contoso_id

    # An organization she has no access to, or none at all: the same refusal.
    stories.sign_up("nora@northwind.com", "Nora")
    for key in ("northwind.com", "00000000-0000-0000-0000-000000000000", "nowhere.example"):
        refused = token(stories, "kim@fabrikam.com", tenant=key)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "noTenantAccess"


def test_a_pending_invitation_gives_no_access(stories, database):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    stories.sign_up("kim@fabrikam.com", "Kim Lee")
    invite(ariane.api, "kim@fabrikam.com")
    refused = token(stories, "kim@fabrikam.com", tenant="contoso.com")
    assert refused.json()["error"]["code"] == "noTenantAccess"
    with client_in(stories, "kim@fabrikam.com") as kim:
        assert [t["displayName"] for t in kim.get("/v1/me/tenants").json()["value"]] == [
            "fabrikam.com"
        ]


def test_kim_switches_from_the_header_and_her_choice_is_kept(stories, database, server):
    ariane, kim, _ = _kim_in_two_tenants(stories, database, server)
    fabrikam_id, contoso_id = kim["tenant"]["id"], ariane.tenant_id
    with signed_in(server, "kim@fabrikam.com") as kims_browser:
        # Accepting opened contoso.com, and her next sign-in opens it again.
        home = kims_browser.get("/").text
        assert 'data-test="acting-org">contoso.com' in home
        assert _options(home) == [
            (fabrikam_id, "fabrikam.com", False),
            (contoso_id, "contoso.com (guest)", True),
        ]
        switched = post_form(kims_browser, "/", "/account/tenant", tenant=fabrikam_id, next="/")
        assert switched.status_code == 303
        home = html.unescape(kims_browser.get("/").text)
        assert "You now act for fabrikam.com." in home
        assert "You work in the fabrikam.com organization." in home
        assert _options(home)[0] == (fabrikam_id, "fabrikam.com", True)
        # Someone else's organization: refused, and she stays where she was.
        stories.sign_up("nora@northwind.com", "Nora")
        with client_in(stories, "nora@northwind.com") as nora:
            northwind_id = nora.get("/v1/me").json()["tenant"]["id"]
        refused = post_form(kims_browser, "/", "/account/tenant", tenant=northwind_id)
        assert refused.status_code == 400
        assert "You work in the fabrikam.com organization." in html.unescape(
            kims_browser.get("/").text
        )
        # Without a CSRF token the switch is refused.
        assert kims_browser.post("/account/tenant", data={"tenant": contoso_id}).status_code == 403

    with signed_in(server, "kim@fabrikam.com") as kims_browser:  # the last choice: fabrikam
        assert 'data-test="acting-org">fabrikam.com<' in kims_browser.get("/").text
        post_form(kims_browser, "/", "/account/tenant", tenant=contoso_id, next="/admin/users")
    with signed_in(server, "kim@fabrikam.com") as kims_browser:  # and now contoso
        page = html.unescape(kims_browser.get("/").text)
        assert "You act for the contoso.com organization as a guest" in page
        # As contoso's guest she is no admin there.
        assert kims_browser.get("/admin/users").status_code == 403


def test_a_guest_token_sees_only_its_organization_and_its_own_roles(stories, database, server):
    ariane, _, guest_id = _kim_in_two_tenants(stories, database, server)
    added = ariane.api.post(
        "/v1/directoryRoles/UserAdministrator/members", json={"userId": guest_id}
    )
    assert added.status_code == 204, added.text
    with client_in(stories, "kim@fabrikam.com", tenant="contoso.com") as kim_in_contoso:
        listed = kim_in_contoso.get("/v1/users").json()["value"]
        assert {u["userPrincipalName"] for u in listed} >= {"ariane@contoso.com"}
        assert "kim@fabrikam.com" not in {u["userPrincipalName"] for u in listed}
        # Inviting herself is refused: her own address.
        refused = kim_in_contoso.post(
            "/v1/invitations",
            json={
                "invitedUserEmailAddress": "kim@fabrikam.com",
                "inviteRedirectUrl": "https://x.example/",
            },
        )
        assert refused.json()["error"]["code"] == "cannotInviteYourself"
    with client_in(stories, "kim@fabrikam.com") as kim_at_home:
        # Her role is the guest's, in contoso only.
        assert kim_at_home.get("/v1/users").status_code == 403
        assert kim_at_home.get("/v1/me").json()["roles"] == []


def test_blocking_or_deleting_the_guest_ends_that_organization_only(stories, database, server):
    ariane, _, guest_id = _kim_in_two_tenants(stories, database, server)
    contoso_token = token(stories, "kim@fabrikam.com", tenant="contoso.com").json()["access_token"]
    home_token = token(stories, "kim@fabrikam.com").json()["access_token"]

    def me(access_token: str) -> int:
        return stories.api.get(
            "/v1/me", headers={"Authorization": f"Bearer {access_token}"}
        ).status_code

    blocked = ariane.api.patch(f"/v1/users/{guest_id}", json={"accountEnabled": False})
    assert blocked.status_code == 200
    assert (me(contoso_token), me(home_token)) == (401, 200)
    assert token(stories, "kim@fabrikam.com", tenant="contoso.com").json()["error"]["code"] == (
        "noTenantAccess"
    )
    ariane.api.patch(f"/v1/users/{guest_id}", json={"accountEnabled": True})
    contoso_token = token(stories, "kim@fabrikam.com", tenant="contoso.com").json()["access_token"]

    assert ariane.api.delete(f"/v1/users/{guest_id}").status_code == 204
    assert (me(contoso_token), me(home_token)) == (401, 200)
    with client_in(stories, "kim@fabrikam.com") as kim_at_home:
        assert [t["displayName"] for t in kim_at_home.get("/v1/me/tenants").json()["value"]] == [
            "fabrikam.com"
        ]


def test_blocking_the_person_at_home_ends_their_guest_sessions_too(stories, database, server):
    ariane, kim, guest_id = _kim_in_two_tenants(stories, database, server)
    make_global_admin(database, "kim@fabrikam.com")
    stories.sign_up("mia@fabrikam.com", "Mia")
    make_global_admin(database, "mia@fabrikam.com")
    contoso_token = token(stories, "kim@fabrikam.com", tenant="contoso.com").json()["access_token"]
    with client_in(stories, "mia@fabrikam.com") as mia:
        assert (
            mia.patch(f"/v1/users/{kim['user']['id']}", json={"accountEnabled": False}).status_code
            == 200
        )
    answer = stories.api.get("/v1/me", headers={"Authorization": f"Bearer {contoso_token}"})
    assert answer.status_code == 401
    refused = token(stories, "kim@fabrikam.com", tenant="contoso.com")
    assert refused.json()["error"]["code"] == "accountDisabled"

    # Her account deleted at home: contoso's guest goes back to waiting for her.
    with client_in(stories, "mia@fabrikam.com") as mia:
        assert mia.delete(f"/v1/users/{kim['user']['id']}").status_code == 204
    guest = ariane.api.get(f"/v1/users/{guest_id}").json()
    assert guest["externalUserState"] == "PendingAcceptance"
    audit = ariane.api.get("/v1/auditLogs/directoryAudits").json()["value"]
    (reset,) = [e for e in audit if e["activityDisplayName"] == "Reset redemption status"]
    # Done by Tenantry, not by fabrikam's admin, whom contoso's log never names.
    assert "user" not in reset["initiatedBy"]
    assert reset["targetResources"] == [{"id": guest_id, "type": "user"}]


def test_lees_password_moves_to_her_other_guest_when_one_is_deleted(
    stories, database, smtp, server
):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    nora = global_admin(stories, database, "nora@northwind.com")
    contoso_link = path_of(invite(ariane.api, "lee@example.org")["inviteRedeemUrl"])
    northwind = invite(nora.api, "lee@example.org")
    with browser(server) as lees_browser:
        assert (
            redeem_by_code(
                lees_browser, smtp, contoso_link, "lee@example.org", LEE_PASSWORD
            ).status_code
            == 303
        )
        # Her address has an account now: the next invitation is accepted by signing in.
        northwind_link = path_of(northwind["inviteRedeemUrl"])
        assert redeem_by_sign_in(lees_browser, northwind_link, LEE_PASSWORD).status_code == 303

    with client_in(stories, "lee@example.org", password=LEE_PASSWORD) as lee:
        tenants = lee.get("/v1/me/tenants").json()["value"]
        assert [(t["displayName"], t["userType"]) for t in tenants] == [
            ("contoso.com", "Guest"),
            ("northwind.com", "Guest"),
        ]
    contoso_guest = next(
        u for u in ariane.api.get("/v1/users").json()["value"] if u["mail"] == "lee@example.org"
    )
    assert ariane.api.delete(f"/v1/users/{contoso_guest['id']}").status_code == 204

    with client_in(stories, "lee@example.org", password=LEE_PASSWORD) as lee:
        me = lee.get("/v1/me").json()
        assert me["id"] == northwind["invitedUser"]["id"]
        assert [t["displayName"] for t in lee.get("/v1/me/tenants").json()["value"]] == [
            "northwind.com"
        ]


def test_a_guest_never_counts_as_a_signed_up_member_and_sign_up_never_makes_a_guest(
    stories, database, smtp, server
):
    # fabrikam.com is unmanaged: Kim and Mia signed up there.
    ariane = global_admin(stories, database, "ariane@contoso.com")
    buy(ariane.api, ESSENTIALS.part_number, 3)
    skus_before = ariane.api.get("/v1/subscribedSkus").json()["value"]
    stories.sign_up("kim@fabrikam.com", "Kim Lee")
    stories.sign_up("mia@fabrikam.com", "Mia")
    kim_link = path_of(invite(ariane.api, "kim@fabrikam.com")["inviteRedeemUrl"])
    nora_invitation = invite(ariane.api, "nora@fabrikam.com")  # no account yet
    with browser(server) as kims_browser:
        assert redeem_by_sign_in(kims_browser, kim_link).status_code == 303

    # Contoso's guests take no seat, and count as nobody's sign-up.
    assert ariane.api.get("/v1/subscribedSkus").json()["value"] == skus_before
    with stories.client_for("kim@fabrikam.com") as kim:
        state = kim.post("/v1/organization/becomeAdmin", json={"entryPoint": "admin"}).json()
        assert state["minimumLicenses"] == 2  # Kim and Mia, whatever they are elsewhere

    # Nora signs up with her fabrikam.com address: she joins fabrikam.com as a member; the
    # guest contoso made for her stays contoso's, pending, until she accepts.
    nora = stories.sign_up("nora@fabrikam.com", "Nora")
    assert nora["user"]["id"] != nora_invitation["invitedUser"]["id"]
    assert nora["user"]["userType"] == "Member"
    assert nora["tenant"]["displayName"] == "fabrikam.com"
    guest = ariane.api.get(f"/v1/users/{nora_invitation['invitedUser']['id']}").json()
    assert guest["externalUserState"] == "PendingAcceptance"
    with browser(server) as noras_browser:  # her address has an account now: she signs in
        page = noras_browser.get(path_of(nora_invitation["inviteRedeemUrl"]))
        assert 'data-mode="signin"' in page.text

    # Lee proved her address for contoso (no account then); later she signs up herself.
    lee_link = path_of(invite(ariane.api, "lee@example.org")["inviteRedeemUrl"])
    with browser(server) as lees_browser:
        assert (
            redeem_by_code(
                lees_browser, smtp, lee_link, "lee@example.org", LEE_PASSWORD
            ).status_code
            == 303
        )
    signed_up = stories.sign_up("lee@example.org", "Lee Chen", password="Another-Pass-77")
    assert signed_up["tenant"]["displayName"] == "example.org"
    assert signed_up["user"]["userType"] == "Member"
    # Her sign-in now picks her own account; contoso is still hers to act in.
    assert token(stories, "lee@example.org", password=LEE_PASSWORD).status_code == 400
    with client_in(stories, "lee@example.org", password="Another-Pass-77") as lee:
        assert lee.get("/v1/me").json()["id"] == signed_up["user"]["id"]
        assert [
            (t["displayName"], t["userType"]) for t in lee.get("/v1/me/tenants").json()["value"]
        ] == [("example.org", "Member"), ("contoso.com", "Guest")]
    with client_in(stories, "lee@example.org", "contoso.com", "Another-Pass-77") as lee:
        assert lee.get("/v1/me").json()["userType"] == "Guest"


def test_kim_changes_her_own_password_while_acting_as_a_guest(stories, database, server):
    _, _, guest_id = _kim_in_two_tenants(stories, database, server)
    home_token = token(stories, "kim@fabrikam.com").json()["access_token"]
    with client_in(stories, "kim@fabrikam.com", tenant="contoso.com") as in_contoso:
        changed = in_contoso.post(
            "/v1/me/changePassword",
            json={"currentPassword": PASSWORD, "newPassword": "Brand-New-Pass-42"},
        )
        assert changed.status_code == 204, changed.text
        assert in_contoso.get("/v1/me").json()["id"] == guest_id  # this session goes on
    ended = stories.api.get("/v1/me", headers={"Authorization": f"Bearer {home_token}"})
    assert ended.status_code == 401  # her other sessions end
    assert token(stories, "kim@fabrikam.com").status_code == 400
    with client_in(stories, "kim@fabrikam.com", "contoso.com", "Brand-New-Pass-42") as kim:
        assert kim.get("/v1/me").json()["userType"] == "Guest"


def test_a_guest_holding_the_password_blocked_in_one_organization_still_acts_in_another(
    stories, database, smtp, server
):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    nora = global_admin(stories, database, "nora@northwind.com")
    contoso = invite(ariane.api, "lee@example.org")
    northwind = invite(nora.api, "lee@example.org")
    with browser(server) as lees_browser:
        link = path_of(contoso["inviteRedeemUrl"])
        assert redeem_by_code(lees_browser, smtp, link, "lee@example.org", LEE_PASSWORD)
        link = path_of(northwind["inviteRedeemUrl"])
        assert redeem_by_sign_in(lees_browser, link, LEE_PASSWORD).status_code == 303
    blocked = ariane.api.patch(
        f"/v1/users/{contoso['invitedUser']['id']}", json={"accountEnabled": False}
    )
    assert blocked.status_code == 200
    with client_in(stories, "lee@example.org", password=LEE_PASSWORD) as lee:
        assert lee.get("/v1/me").json()["id"] == northwind["invitedUser"]["id"]
        assert [t["displayName"] for t in lee.get("/v1/me/tenants").json()["value"]] == [
            "northwind.com"
        ]
    refused = token(stories, "lee@example.org", "contoso.com", LEE_PASSWORD)
    assert refused.json()["error"]["code"] == "noTenantAccess"
