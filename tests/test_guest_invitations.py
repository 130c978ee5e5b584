"""`POST /v1/invitations` as Microsoft Graph's invitation manager: what it makes, what it
refuses (each refusal with its code, nothing made, nothing mailed), who may call it, and
`tenantry user invite` from a terminal."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest
from typer.testing import CliRunner

from tenantry.cli.main import app as cli_app
from tests.support.admin import make_global_admin
from tests.support.guests import invite, mailed_link, path_of
from tests.support.licensing import global_admin
from tests.support.stories import PASSWORD

REDIRECT = "https://apps.contoso.com/welcome"


def _counts(database) -> tuple[int, int, int]:
    return (
        database.scalar("SELECT count(*) FROM users"),
        database.scalar("SELECT count(*) FROM invitations"),
        database.scalar("SELECT count(*) FROM outbox_messages"),
    )


def test_an_invitation_makes_a_pending_guest_of_the_organization(stories, database, smtp):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    invitation = invite(
        ariane.api,
        "kim@fabrikam.com",
        inviteRedirectUrl=REDIRECT,
        invitedUserDisplayName="Kim Lee",
        sendInvitationMessage=True,
        invitedUserMessageInfo={"customizedMessageBody": "Hello Kim!"},
    )
    assert invitation["inviteRedirectUrl"] == REDIRECT
    assert invitation["resetRedemption"] is False
    assert invitation["invitedUserDisplayName"] == "Kim Lee"
    assert invitation["invitedUserMessageInfo"] == {
        "ccRecipients": [],
        "customizedMessageBody": "Hello Kim!",
        "messageLanguage": "en",
    }
    guest = ariane.api.get(f"/v1/users/{invitation['invitedUser']['id']}").json()
    initial = next(d["id"] for d in ariane.api.get("/v1/domains").json()["value"] if d["isInitial"])
    assert guest["userPrincipalName"] == f"kim_fabrikam.com#EXT#@{initial}"
    assert (guest["mail"], guest["source"], guest["userType"]) == (
        "kim@fabrikam.com",
        "guest",
        "Guest",
    )
    assert guest["externalUserState"] == "PendingAcceptance"
    # Graph's lookups by user name find the guest, whatever the case of the marker.
    by_name = ariane.api.get(f"/v1/users/{quote(guest['userPrincipalName'].lower(), safe='@')}")
    assert by_name.status_code == 200 and by_name.json()["id"] == guest["id"]

    members = ariane.api.get("/v1/users", params={"$filter": "userType eq 'Member'"}).json()
    assert [u["userPrincipalName"] for u in members["value"]] == ["ariane@contoso.com"]
    guests = ariane.api.get("/v1/users", params={"$filter": "userType eq 'Guest'"}).json()
    assert [u["id"] for u in guests["value"]] == [guest["id"]]
    pending = ariane.api.get(
        "/v1/users", params={"$filter": "externalUserState eq 'PendingAcceptance'"}
    ).json()
    assert [u["id"] for u in pending["value"]] == [guest["id"]]
    bad = ariane.api.get("/v1/users", params={"$filter": "userType eq 'Visitor'"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalidFilter"

    mail = [m for m in smtp.wait_for("kim@fabrikam.com") if "Hello Kim!" in m.body]
    assert mail and mail[0].subject == "Ariane Dupont invited you to contoso.com"
    assert "Ariane Dupont wrote:" in mail[0].body
    events = ariane.api.get("/v1/auditLogs/directoryAudits").json()["value"]
    assert "Invite external user" in {e["activityDisplayName"] for e in events}


def test_an_accepted_guest_invited_again_answers_completed_and_mails_nothing(
    stories, database, smtp, server
):
    from tests.support.guests import browser, redeem_by_sign_in

    ariane = global_admin(stories, database, "ariane@contoso.com")
    stories.sign_up("kim@fabrikam.com", "Kim Lee")
    first = invite(ariane.api, "kim@fabrikam.com", sendInvitationMessage=True)
    with browser(server) as kims_browser:
        assert redeem_by_sign_in(kims_browser, mailed_link(smtp, "kim@fabrikam.com")).status_code
    again = invite(
        ariane.api, "kim@fabrikam.com", sendInvitationMessage=True, inviteRedirectUrl=REDIRECT
    )
    assert again["status"] == "Completed"
    assert again["invitedUser"]["id"] == first["invitedUser"]["id"]
    assert again["inviteRedeemUrl"] == REDIRECT
    assert again["sendInvitationMessage"] is False
    assert (
        database.scalar(
            "SELECT count(*) FROM outbox_messages WHERE recipient = 'kim@fabrikam.com'"
            " AND subject LIKE '%invited you%'"
        )
        == 1
    )


def test_personal_addresses_are_invited_as_entra_does(stories, database):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    for address in ("someone@gmail.com", "o'brien@outlook.com", "_dev_@fabrikam.co.uk"):
        assert invite(ariane.api, address)["status"] == "PendingAcceptance"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"invitedUserEmailAddress": "not-an-address"}, "invalidInvitedUserEmailAddress"),
        ({"invitedUserEmailAddress": "kim!@fabrikam.com"}, "invalidInvitedUserEmailAddress"),
        ({"invitedUserEmailAddress": "kim#EXT#@fabrikam.com"}, "invalidInvitedUserEmailAddress"),
        ({"invitedUserEmailAddress": ".kim@fabrikam.com"}, "invalidInvitedUserEmailAddress"),
        ({"invitedUserEmailAddress": "kim@192.168.1.10"}, "invalidInvitedUserEmailAddress"),
        ({"invitedUserEmailAddress": "kim@[192.168.1.10]"}, "invalidInvitedUserEmailAddress"),
        ({"invitedUserEmailAddress": "kim@fabrikam.notatld"}, "invalidInvitedUserEmailAddress"),
        (
            {"invitedUserEmailAddress": "kim@" + ".".join(["a" * 60] * 4) + ".com"},
            "invalidInvitedUserEmailAddress",
        ),
        ({"invitedUserEmailAddress": "alain@contoso.com"}, "invitedAddressInOwnDomain"),
        ({"invitedUserEmailAddress": "Alain@Sales.Contoso.com"}, "invitedAddressInOwnDomain"),
        ({"invitedUserEmailAddress": "ariane@contoso.com"}, "invitedAddressInOwnDomain"),
        ({"invitedUserType": "Member"}, "invitedUserTypeNotSupported"),
        ({"resetRedemption": True}, "resetRedemptionNotSupported"),
        ({"inviteRedirectUrl": "javascript:alert(1)"}, "invalidInviteRedirectUrl"),
        ({"inviteRedirectUrl": "/relative"}, "invalidInviteRedirectUrl"),
        ({"inviteRedirectUrl": None}, "invalidRequest"),
        ({"invitedUserDisplayName": "Kim\u202eeL"}, "invalidValue"),
        (
            {
                "invitedUserMessageInfo": {
                    "ccRecipients": [
                        {"emailAddress": {"address": "a@fabrikam.com"}},
                        {"emailAddress": {"address": "b@fabrikam.com"}},
                    ]
                }
            },
            "invalidCcRecipients",
        ),
        (
            {"invitedUserMessageInfo": {"ccRecipients": [{"emailAddress": {"address": "x"}}]}},
            "invalidCcRecipients",
        ),
        (
            {"invitedUserMessageInfo": {"customizedMessageBody": "x" * 10_001}},
            "invalidInvitationMessage",
        ),
        ({"sendInvitationMessage": "yes"}, "invalidRequest"),
        ({"unknownProperty": 1}, "invalidRequest"),
    ],
)
def test_each_refusal_has_its_code_and_makes_nothing(stories, database, change, code):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    body = {
        "invitedUserEmailAddress": "kim@fabrikam.com",
        "inviteRedirectUrl": REDIRECT,
        "sendInvitationMessage": True,
    } | change
    body = {key: value for key, value in body.items() if value is not None}
    before = _counts(database)
    answer = ariane.api.post("/v1/invitations", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code
    assert _counts(database) == before


def test_who_may_invite(stories, database):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    body = {"invitedUserEmailAddress": "kim@fabrikam.com", "inviteRedirectUrl": REDIRECT}
    created = ariane.api.post(
        "/v1/users",
        json={
            "userPrincipalName": "alain@contoso.com",
            "displayName": "Alain",
            "password": PASSWORD,
        },
    ).json()
    with stories.client_for("alain@contoso.com") as alain:  # a plain member
        refused = alain.post("/v1/invitations", json=body)
        assert refused.status_code == 403
    ariane.api.post("/v1/directoryRoles/UserAdministrator/members", json={"userId": created["id"]})
    with stories.client_for("alain@contoso.com") as alain:  # a User Administrator
        assert alain.post("/v1/invitations", json=body).status_code == 201
    stories.sign_up("mia@northwind.com", "Mia")  # an unmanaged organization's member
    with stories.client_for("mia@northwind.com") as mia:
        unmanaged = mia.post("/v1/invitations", json=body)
        assert unmanaged.status_code == 403
        assert unmanaged.json()["error"]["code"] == "tenantUnmanaged"
    assert stories.api.post("/v1/invitations", json=body).status_code == 401
    # Guests are invited, never added as users.
    direct = ariane.api.post(
        "/v1/users",
        json={
            "userPrincipalName": "guest@contoso.com",
            "displayName": "Guest",
            "source": "guest",
        },
    )
    assert direct.status_code == 400 and direct.json()["error"]["code"] == "invitationRequired"
    # A member's user name cannot pass for a guest's.
    fake = ariane.api.post(
        "/v1/users",
        json={"userPrincipalName": "kim_fabrikam.com#EXT#@contoso.com", "displayName": "Kim"},
    )
    assert fake.status_code == 400 and fake.json()["error"]["code"] == "invalidUserPrincipalName"


def test_an_admin_cannot_reset_a_guests_password(stories, database):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    guest = invite(ariane.api, "kim@fabrikam.com")["invitedUser"]["id"]
    refused = ariane.api.post(f"/v1/users/{guest}/resetPassword")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "guestPasswordNotManaged"


def test_two_admins_inviting_one_address_at_once_make_one_guest(stories, database, server):
    ariane = global_admin(stories, database, "ariane@contoso.com")
    stories.sign_up("alain@contoso.com", "Alain")
    make_global_admin(database, "alain@contoso.com")
    tokens = [stories.token("ariane@contoso.com"), stories.token("alain@contoso.com")] * 4

    def send(access_token: str) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return client.post(
                "/v1/invitations",
                headers={"Authorization": f"Bearer {access_token}"},
                json={"invitedUserEmailAddress": "kim@fabrikam.com", "inviteRedirectUrl": REDIRECT},
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, tokens))
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["invitedUser"]["id"] for a in answers}) == 1
    guests = ariane.api.get("/v1/users", params={"$filter": "userType eq 'Guest'"}).json()
    assert len(guests["value"]) == 1
    assert database.scalar("SELECT count(*) FROM invitations") == 1


def test_an_admin_invites_from_the_terminal(stories, database, smtp, server, tmp_path, monkeypatch):
    monkeypatch.setenv("TENANTRY_CONFIG_DIR", str(tmp_path))
    global_admin(stories, database, "ariane@contoso.com")
    runner = CliRunner()

    def cli(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli_app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.stdout

    cli("login", "--url", server.url, "-u", "ariane@contoso.com", "-p", PASSWORD)
    printed = cli("user", "invite", "lee@example.org", "--name", "Lee Chen", "--no-mail")
    assert "the invitation is pending" in printed
    assert "/invitations/redeem/" in printed
    invitation = json.loads(
        cli("user", "invite", "kim@fabrikam.com", "--message", "Welcome", "--json")
    )
    assert invitation["status"] == "PendingAcceptance"
    assert mailed_link(smtp, "kim@fabrikam.com") == path_of(invitation["inviteRedeemUrl"])
    refused = runner.invoke(cli_app, ["user", "invite", "alain@contoso.com"])
    assert refused.exit_code == 1 and "invitedAddressInOwnDomain" in refused.output
    listed = json.loads(cli("user", "list", "--filter", "userType eq 'Guest'", "--json"))
    assert {u["mail"] for u in listed} == {"lee@example.org", "kim@fabrikam.com"}
    assert (
        database.scalar("SELECT count(*) FROM outbox_messages WHERE recipient = 'lee@example.org'")
        == 0
    )


def test_kim_switches_organization_from_the_terminal(
    stories, database, smtp, server, tmp_path, monkeypatch
):
    from tests.support.guests import browser, redeem_by_sign_in

    monkeypatch.setenv("TENANTRY_CONFIG_DIR", str(tmp_path))
    ariane = global_admin(stories, database, "ariane@contoso.com")
    stories.sign_up("kim@fabrikam.com", "Kim Lee")
    link = path_of(invite(ariane.api, "kim@fabrikam.com")["inviteRedeemUrl"])
    with browser(server) as kims_browser:
        assert redeem_by_sign_in(kims_browser, link).status_code == 303
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(cli_app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    cli("login", "--url", server.url, "-u", "kim@fabrikam.com", "-p", PASSWORD)
    tenants = json.loads(cli("tenants", "--json"))
    assert [(t["displayName"], t["isCurrent"]) for t in tenants] == [
        ("fabrikam.com", True),
        ("contoso.com", False),
    ]
    assert "contoso.com" in cli("tenants")
    cli(
        "login",
        "--url",
        server.url,
        "-u",
        "kim@fabrikam.com",
        "-p",
        PASSWORD,
        "--tenant",
        "contoso.com",
    )
    whoami = json.loads(cli("whoami", "--json"))
    assert whoami["organization"]["displayName"] == "contoso.com"
    assert whoami["me"]["userType"] == "Guest"
    refused = runner.invoke(
        cli_app,
        [
            "login",
            "--url",
            server.url,
            "-u",
            "kim@fabrikam.com",
            "-p",
            PASSWORD,
            "--tenant",
            "x.example",
        ],
    )
    assert refused.exit_code == 1 and "noTenantAccess" in refused.output


def test_the_partner_pages_service_sends_a_pending_invitation_again(
    stories, database, smtp, server
):
    """`guests.invitations.resend`, which the partner pages call by guest id."""
    import asyncio

    from tenantry.core.audit import Actor
    from tenantry.core.db import Database
    from tenantry.directory.models import User
    from tenantry.guests import invitations
    from tenantry.guests.exceptions import GuestNotFound, InvitationAlreadyAccepted
    from tenantry.tenants.models import Tenant
    from tests.support.guests import browser

    ariane = global_admin(stories, database, "ariane@contoso.com")
    first = invite(
        ariane.api,
        "lee@example.org",
        invitedUserMessageInfo={"customizedMessageBody": "See you soon", "messageLanguage": "nl"},
    )
    guest_id = first["invitedUser"]["id"]

    async def resend(user_id: str) -> invitations.InvitationResult:
        database_ = Database(server.settings.database_url)
        try:
            async with database_.unit_of_work() as db_session:
                tenant = await db_session.get(Tenant, uuid.UUID(ariane.tenant_id))
                inviter = await db_session.get(User, uuid.UUID(ariane.user_id))
                return await invitations.resend(
                    db_session=db_session,
                    base_url=server.settings.base_url,
                    actor=Actor(inviter.id, tenant.id, None),
                    tenant=tenant,
                    inviter=inviter,
                    user_id=uuid.UUID(user_id),
                )
        finally:
            await database_.dispose()

    again = asyncio.run(resend(guest_id))
    assert (str(again.guest.id), again.status, again.send_message) == (
        guest_id,
        "PendingAcceptance",
        True,
    )
    assert again.language == "nl" and again.message_body == "See you soon"
    link = mailed_link(smtp, "lee@example.org")
    assert link == path_of(again.redeem_url) != path_of(first["inviteRedeemUrl"])
    with browser(server) as lees_browser:
        assert lees_browser.get(path_of(first["inviteRedeemUrl"])).status_code == 404
    with pytest.raises(GuestNotFound):
        asyncio.run(resend(ariane.user_id))  # a member, not a guest
    stories.sign_up("kim@fabrikam.com", "Kim Lee")
    kim = invite(ariane.api, "kim@fabrikam.com")
    from tests.support.guests import redeem_by_sign_in

    with browser(server) as kims_browser:
        redeem_by_sign_in(kims_browser, path_of(kim["inviteRedeemUrl"]))
    with pytest.raises(InvitationAlreadyAccepted):
        asyncio.run(resend(kim["invitedUser"]["id"]))


def test_the_admin_center_shows_a_pending_invitation(stories, database, server):
    from tests.support.guests import signed_in

    ariane = global_admin(stories, database, "ariane@contoso.com")
    guest = invite(ariane.api, "lee@example.org", invitedUserDisplayName="Lee Chen")
    with signed_in(server, "ariane@contoso.com") as browser:
        users = browser.get("/admin/users").text
        assert 'data-test="invitation-pending"' in users and "Lee Chen" in users
        one = browser.get(f"/admin/users/{guest['invitedUser']['id']}").text
        assert "Invitation pending" in one
