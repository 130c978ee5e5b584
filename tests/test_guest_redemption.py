"""Guests accept their invitation by proving the invited address: Kim, who has an account,
signs in with it; Lee, who has none, gets a code there and chooses a password; a forwarded
link opened by someone else's session proves nothing. Real HTTP, real SMTP."""

from __future__ import annotations

import html

from tenantry.core.clock import clock
from tests.support.guests import (
    browser,
    client_in,
    invite,
    mailed_link,
    mode_of,
    path_of,
    post_form,
    redeem_by_code,
    redeem_by_sign_in,
    signed_in,
    token,
)
from tests.support.licensing import global_admin
from tests.support.stories import PASSWORD

LEE_PASSWORD = "Orchid-Falls-2024"


def _contoso_and_kim(stories, database):
    """Ariane runs contoso.com; Kim has her own account at fabrikam.com."""
    ariane = global_admin(stories, database, "ariane@contoso.com")
    kim = stories.sign_up("kim@fabrikam.com", "Kim Lee")
    return ariane, kim


def test_kim_accepts_by_signing_in_with_her_own_account(stories, database, smtp, server):
    ariane, _ = _contoso_and_kim(stories, database)
    invitation = invite(
        ariane.api,
        "Kim@Fabrikam.com",
        invitedUserDisplayName="Kim Lee",
        sendInvitationMessage=True,
        invitedUserMessageInfo={
            "customizedMessageBody": "Bienvenue dans l'équipe partenaires de Contoso Labs.",
            "messageLanguage": "fr-FR",
            "ccRecipients": [{"emailAddress": {"address": "jean@contoso.com", "name": "Jean"}}],
        },
    )
    guest_id = invitation["invitedUser"]["id"]
    assert invitation["status"] == "PendingAcceptance"
    assert invitation["invitedUserEmailAddress"] == "kim@fabrikam.com"
    assert invitation["invitedUserType"] == "Guest"
    assert invitation["sendInvitationMessage"] is True
    assert invitation["invitedUserMessageInfo"]["messageLanguage"] == "fr"

    # The mail, in French, with Ariane's words; Jean gets the same copy.
    link = mailed_link(smtp, "kim@fabrikam.com")
    assert link == path_of(invitation["inviteRedeemUrl"])
    (mail,) = [m for m in smtp.to("kim@fabrikam.com") if link in m.body]
    assert mail.subject == "Ariane Dupont vous a invité à rejoindre contoso.com"
    assert "Bienvenue dans l'équipe partenaires de Contoso Labs." in mail.body
    assert mailed_link(smtp, "jean@contoso.com") == link

    with browser(server) as kims_browser:
        page = kims_browser.get(link)
        assert page.status_code == 200 and mode_of(page) == "signin"
        assert "kim@fabrikam.com" in html.unescape(page.text)

        wrong = redeem_by_sign_in(kims_browser, link, password="Not-Her-Password-1")
        assert wrong.status_code == 400
        assert ariane.api.get(f"/v1/users/{guest_id}").json()["externalUserState"] == (
            "PendingAcceptance"
        )

        accepted = redeem_by_sign_in(kims_browser, link)
        assert accepted.status_code == 303 and accepted.headers["location"] == link
        done = kims_browser.get(link)
        assert mode_of(done) == "done"

        # She now acts in contoso.com as its guest, her name on the home page.
        home = html.unescape(kims_browser.get("/").text)
        assert 'data-test="greeting">Hello, Kim Lee' in home or "Kim Lee" in home
        assert "You act for the contoso.com organization as a guest" in home
        assert "kim@fabrikam.com" in home

    guest = ariane.api.get(f"/v1/users/{guest_id}").json()
    assert guest["externalUserState"] == "Accepted"
    assert guest["externalUserStateChangeDateTime"]

    # The link redeems once.
    with browser(server) as someone:
        again = post_form(someone, "/signin", f"{link}/signin", password=PASSWORD)
        assert again.status_code == 409
        assert "already been accepted" in html.unescape(again.text)
        assert guest_id == ariane.api.get(f"/v1/users/{guest_id}").json()["id"]


def test_lee_proves_her_address_with_a_code_and_chooses_a_password(stories, database, smtp, server):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    invitation = invite(ariane.api, "lee@example.org", invitedUserDisplayName="Lee Chen")
    link = path_of(invitation["inviteRedeemUrl"])
    # sendInvitationMessage false: no mail, the redeem link is in the answer.
    assert (
        database.scalar("SELECT count(*) FROM outbox_messages WHERE recipient = 'lee@example.org'")
        == 0
    )

    with browser(server) as lees_browser:
        assert mode_of(lees_browser.get(link)) == "code_send"
        # Before any code: nothing to check against.
        early = post_form(
            lees_browser,
            link,
            f"{link}/verify",
            code="123456",
            password=LEE_PASSWORD,
            confirm_password=LEE_PASSWORD,
        )
        assert early.status_code == 400 and "Ask for a code first" in html.unescape(early.text)

        sent = post_form(lees_browser, link, f"{link}/code")
        assert sent.status_code == 303
        code = smtp.code_for("lee@example.org")
        assert mode_of(lees_browser.get(link)) == "code_enter"

        wrong_code = "000000" if code != "000000" else "111111"
        wrong = post_form(
            lees_browser,
            link,
            f"{link}/verify",
            code=wrong_code,
            password=LEE_PASSWORD,
            confirm_password=LEE_PASSWORD,
        )
        assert wrong.status_code == 400
        assert "That code is not right. Attempts left: 4." in html.unescape(wrong.text)
        mismatch = post_form(
            lees_browser,
            link,
            f"{link}/verify",
            code=code,
            password=LEE_PASSWORD,
            confirm_password=LEE_PASSWORD + "x",
        )
        assert mismatch.status_code == 400
        weak = post_form(
            lees_browser,
            link,
            f"{link}/verify",
            code=code,
            password="short",
            confirm_password="short",
        )
        assert weak.status_code == 400
        assert (
            ariane.api.get(f"/v1/users/{invitation['invitedUser']['id']}").json()[
                "externalUserState"
            ]
            == "PendingAcceptance"
        )

        accepted = post_form(
            lees_browser,
            link,
            f"{link}/verify",
            code=code,
            password=LEE_PASSWORD,
            confirm_password=LEE_PASSWORD,
        )
        assert accepted.status_code == 303, accepted.text
        home = html.unescape(lees_browser.get("/").text)
        assert "You act for the contoso.com organization as a guest" in home

    # Lee signs in with the invited address and her password, and acts as the guest.
    with client_in(stories, "lee@example.org", password=LEE_PASSWORD) as lee:
        me = lee.get("/v1/me").json()
        assert me["id"] == invitation["invitedUser"]["id"]
        assert me["userType"] == "Guest" and me["tenant"]["displayName"] == "contoso.com"
        tenants = lee.get("/v1/me/tenants").json()["value"]
        assert [(t["displayName"], t["userType"], t["isCurrent"]) for t in tenants] == [
            ("contoso.com", "Guest", True)
        ]
    # The guest's own #EXT# user name never signs in.
    upn = ariane.api.get(f"/v1/users/{invitation['invitedUser']['id']}").json()["userPrincipalName"]
    assert upn.startswith("lee_example.org#EXT#@")
    refused = token(stories, upn, password=LEE_PASSWORD)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_grant"


def test_a_forwarded_link_opened_by_another_account_must_prove_the_invited_address(
    stories, database, smtp, server
):
    ariane, _ = _contoso_and_kim(stories, database)
    stories.sign_up("bob@northwind.com", "Bob Stone")
    lee_link = path_of(invite(ariane.api, "lee@example.org")["inviteRedeemUrl"])
    kim_invitation = invite(ariane.api, "kim@fabrikam.com")
    kim_link = path_of(kim_invitation["inviteRedeemUrl"])

    with signed_in(server, "bob@northwind.com") as bobs_browser:
        # Lee's link: Bob is told the invitation is for another address, and must prove it.
        page = bobs_browser.get(lee_link)
        assert mode_of(page) == "code_send"
        assert 'data-test="other-account"' in page.text
        forged = post_form(bobs_browser, lee_link, f"{lee_link}/accept")
        assert forged.status_code == 403
        # Kim's link: only Kim's password opens it; Bob's own password does not.
        assert mode_of(bobs_browser.get(kim_link)) == "signin"
        with_his_password = redeem_by_sign_in(bobs_browser, kim_link, password=PASSWORD + "b")
        assert with_his_password.status_code == 400
        assert post_form(bobs_browser, kim_link, f"{kim_link}/accept").status_code == 403
        # Bob is still himself.
        assert "Bob Stone" in bobs_browser.get("/").text

    guests = ariane.api.get("/v1/users", params={"$filter": "userType eq 'Guest'"}).json()
    assert {g["externalUserState"] for g in guests["value"]} == {"PendingAcceptance"}

    # Whoever has Lee's mailbox proves the address: then the session is Lee's guest, not Bob's.
    with signed_in(server, "bob@northwind.com") as bobs_browser:
        accepted = redeem_by_code(bobs_browser, smtp, lee_link, "lee@example.org", LEE_PASSWORD)
        assert accepted.status_code == 303
        home = html.unescape(bobs_browser.get("/").text)
        assert "contoso.com" in home and "Bob Stone" not in home
    with client_in(stories, "bob@northwind.com") as bob:
        assert [t["displayName"] for t in bob.get("/v1/me/tenants").json()["value"]] == [
            "northwind.com"
        ]


def test_signed_in_with_the_invited_address_one_click_accepts(stories, database, smtp, server):
    ariane, _ = _contoso_and_kim(stories, database)
    link = path_of(invite(ariane.api, "kim@fabrikam.com")["inviteRedeemUrl"])
    with signed_in(server, "kim@fabrikam.com") as kims_browser:
        page = kims_browser.get(link)
        assert mode_of(page) == "accept" and 'data-test="other-account"' not in page.text
        accepted = post_form(kims_browser, link, f"{link}/accept")
        assert accepted.status_code == 303
        assert "You act for the contoso.com organization as a guest" in html.unescape(
            kims_browser.get("/").text
        )


def test_inviting_again_sends_a_new_link_and_the_old_one_stops_working(
    stories, database, smtp, server
):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    first = invite(ariane.api, "lee@example.org", sendInvitationMessage=True)
    second = invite(ariane.api, "lee@example.org", sendInvitationMessage=True)
    assert first["invitedUser"]["id"] == second["invitedUser"]["id"]
    assert first["inviteRedeemUrl"] != second["inviteRedeemUrl"]
    assert mailed_link(smtp, "lee@example.org", count=2) == path_of(second["inviteRedeemUrl"])
    with browser(server) as lees_browser:
        old = lees_browser.get(path_of(first["inviteRedeemUrl"]))
        assert old.status_code == 404
        assert "replaced by a newer invitation" in html.unescape(old.text)
        assert lees_browser.get(path_of(second["inviteRedeemUrl"])).status_code == 200
    users = ariane.api.get("/v1/users", params={"$filter": "userType eq 'Guest'"}).json()["value"]
    assert len(users) == 1


def test_a_link_expires_after_thirty_days(stories, database, server):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    link = path_of(invite(ariane.api, "lee@example.org")["inviteRedeemUrl"])
    clock.advance(days=31)
    with browser(server) as lees_browser:
        expired = lees_browser.get(link)
        assert expired.status_code == 410
        assert "expired" in expired.text
    # Sending it again gives a fresh link.
    clock.reset()
    fresh = path_of(invite(ariane.api, "lee@example.org")["inviteRedeemUrl"])
    clock.advance(days=29)
    with browser(server) as lees_browser:
        assert mode_of(lees_browser.get(fresh)) == "code_send"


def test_a_guest_blocked_before_accepting_cannot_accept(stories, database, smtp, server):
    ariane, _ = _contoso_and_kim(stories, database)
    invitation = invite(ariane.api, "kim@fabrikam.com")
    guest_id = invitation["invitedUser"]["id"]
    assert ariane.api.patch(f"/v1/users/{guest_id}", json={"accountEnabled": False}).is_success
    with browser(server) as kims_browser:
        refused = redeem_by_sign_in(kims_browser, path_of(invitation["inviteRedeemUrl"]))
        assert refused.status_code == 400
        assert "blocked" in html.unescape(refused.text)
    guest = ariane.api.get(f"/v1/users/{guest_id}").json()
    assert guest["externalUserState"] == "PendingAcceptance"
