"""The partner account page's people over real HTTP: Ariane adds five contoso.com people at
once with one role and invites two outside consultants as guests (Kim, who has a Tenantry
account, and Lee, who has none); they show "Invitation pending" until they accept through
the links mailed to them. Refusals show beside their form with nothing done; a member who
is not an Owner or Manager reads; someone who is not a member finds nothing (404)."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from tenantry.core.i18n import translate
from tests.support.admin import make_global_admin
from tests.support.guests import browser, mailed_link, redeem_by_code, redeem_by_sign_in
from tests.support.partner import add_person, enroll, roles_by_address
from tests.test_web_admin_takeover import notice_of, sign_in
from tests.test_web_pages import csrf_token

FIVE = [
    ("chloe@contoso.com", "Chloé Bernard"),
    ("david@contoso.com", "David Petit"),
    ("emma@contoso.com", "Emma Leroy"),
    ("felix@contoso.com", "Félix Moreau"),
    ("gina@contoso.com", "Gina Roux"),
]


def error_beside(page: httpx.Response, form: str) -> str:
    found = re.search(rf'data-error-for="{form}"[^>]*>([^<]*)<', page.text)
    return html.unescape(found.group(1)) if found else ""


def pending(page: httpx.Response) -> list[str]:
    """The addresses listed under "Pending invitations"."""
    return re.findall(r'data-invitation="([^"]+)"', page.text)


def guests(database) -> int:
    return database.scalar("SELECT count(*) FROM users WHERE external_user_state IS NOT NULL")


@pytest.fixture()
def contoso(stories, database):
    """Contoso Labs, enrolled by Ariane; five contoso.com people; Kim (fabrikam.com) and
    Alain, a contoso.com user who is no member of the account."""
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    make_global_admin(database, "ariane@contoso.com")
    stories.sign_up("kim@fabrikam.com", "Kim Lee")
    with stories.client_for("ariane@contoso.com") as api:
        account = enroll(api)
        for email, name in [*FIVE, ("alain@contoso.com", "Alain Martin")]:
            add_person(api, email, name)
    return account


def test_ariane_adds_five_people_and_invites_two_guests_who_accept(
    contoso, stories, server, smtp, database
):
    en = lambda key, **params: translate("en", key, **params)  # noqa: E731
    account_path = f"/partner/accounts/{contoso['id']}"
    with sign_in(server, "ariane@contoso.com") as ariane:
        page = ariane.get("/partner")
        assert page.status_code == 200 and 'data-test="add-members"' in page.text
        assert ariane.get(account_path).status_code == 200
        token = csrf_token(page)
        addresses = "\n".join(email for email, _ in FIVE)

        # One address that is nobody of a linked tenant refuses them all, beside the form.
        refused = ariane.post(
            f"{account_path}/members",
            data={
                "csrf_token": token,
                "addresses": addresses + "\nnobody@contoso.com",
                "role": "developer",
            },
            headers={"Accept-Language": "fr"},
        )
        assert refused.status_code == 404
        assert "nobody@contoso.com" in error_beside(refused, "add")
        assert "Développeur" in html.unescape(refused.text)  # the page in French
        with stories.client_for("ariane@contoso.com") as api:
            assert list(roles_by_address(api, contoso["id"])) == ["ariane@contoso.com"]

        added = ariane.post(
            f"{account_path}/members",
            data={"csrf_token": token, "addresses": addresses, "role": "developer"},
        )
        assert added.status_code == 303
        page = ariane.get(added.headers["location"])
        assert notice_of(page) == en("partner.members_added", count=5)
        with stories.client_for("ariane@contoso.com") as api:
            roles = roles_by_address(api, contoso["id"])
        assert {email: roles[email] for email, _ in FIVE} == {
            email: ["developer"] for email, _ in FIVE
        }

        # An address at contoso's own domain cannot be a guest: no guest, no email, no member.
        refused = ariane.post(
            f"{account_path}/invitations",
            data={
                "csrf_token": token,
                "guests": "kim@fabrikam.com Kim Lee\nalain@contoso.com",
                "role": "marketer",
            },
        )
        assert refused.status_code == 400
        assert error_beside(refused, "invite") == en(
            "error.invitedAddressInOwnDomain", domain="contoso.com"
        )
        assert guests(database) == 0
        assert not [m for m in smtp.to("kim@fabrikam.com") if "/invitations/redeem/" in m.body]
        too_many = ariane.post(
            f"{account_path}/invitations",
            data={
                "csrf_token": token,
                "guests": "\n".join(f"g{n}@example.org" for n in range(11)),
                "role": "marketer",
            },
        )
        assert too_many.status_code == 400
        assert error_beside(too_many, "invite") == en("error.tooManyGuests", limit=10)
        assert guests(database) == 0

        invited = ariane.post(
            f"{account_path}/invitations",
            data={
                "csrf_token": token,
                "guests": "kim@fabrikam.com Kim Lee\nlee@example.org, Lee Wong",
                "role": "marketer",
            },
        )
        assert invited.status_code == 303
        page = ariane.get(account_path)
        assert notice_of(page) == en("partner.guests_invited", count=2)
        assert pending(page) == ["kim@fabrikam.com", "lee@example.org"]
        assert page.text.count(en("partner.overview.invitation_pending")) == 2
        kim_link = mailed_link(smtp, "kim@fabrikam.com")
        first_lee_link = mailed_link(smtp, "lee@example.org")

        # Lee's is sent again: a new link, the first one dead.
        lee_id = re.search(
            r'data-invitation="lee@example.org">.*?/invitations/([0-9a-f-]+)/resend',
            page.text,
            re.S,
        )[1]
        resent = ariane.post(
            f"{account_path}/invitations/{lee_id}/resend", data={"csrf_token": token}
        )
        assert resent.status_code == 303
        assert notice_of(ariane.get(account_path)) == en(
            "partner.invitation_resent", email="lee@example.org"
        )
        lee_link = mailed_link(smtp, "lee@example.org", count=2)
        assert lee_link != first_lee_link

    # Kim signs in with her own account; Lee proves the address with a code.
    with browser(server) as kim:
        assert redeem_by_sign_in(kim, kim_link).status_code == 303
    with browser(server) as lee:
        assert lee.get(first_lee_link).status_code in (404, 410)
        assert redeem_by_code(lee, smtp, lee_link, "lee@example.org").status_code == 303

    with sign_in(server, "ariane@contoso.com") as ariane:
        page = ariane.get(account_path)
        assert pending(page) == []
        assert 'data-test="no-invitations"' in page.text
        for email in ("kim@fabrikam.com", "lee@example.org"):
            row = re.search(rf'<tr data-member="{re.escape(email)}">(.*?)</tr>', page.text, re.S)
            assert row, email
            assert en("partner.overview.guest") in row[1]
            assert re.search(r'value="marketer" checked', row[1])


def test_members_read_and_non_members_find_nothing(contoso, server):
    account_path = f"/partner/accounts/{contoso['id']}"
    with sign_in(server, "ariane@contoso.com") as ariane:
        page = ariane.get(account_path)
        added = ariane.post(
            f"{account_path}/members",
            data={
                "csrf_token": csrf_token(page),
                "addresses": "chloe@contoso.com",
                "role": "developer",
            },
        )
        assert added.status_code == 303

        # The last Owner cannot take the role from herself: refused beside her row.
        ariane_id = re.search(r'action="[^"]*/members/([0-9a-f-]+)/roles"', page.text)[1]
        refused = ariane.post(
            f"{account_path}/members/{ariane_id}/roles",
            data={"csrf_token": csrf_token(page), "role": "manager"},
        )
        assert refused.status_code == 409
        assert error_beside(refused, f"member:{ariane_id}") == translate("en", "error.lastOwner")

    with sign_in(server, "chloe@contoso.com") as chloe:
        page = chloe.get("/partner")  # her only partner account
        assert page.status_code == 200 and "Contoso Labs" in page.text
        assert (
            "Développeur" not in page.text
            and translate("en", "partner.role.developer") in page.text
        )
        assert 'data-test="add-members"' not in page.text
        assert 'data-test="invite-guests"' not in page.text
        answer = chloe.post(
            f"{account_path}/members",
            data={"csrf_token": csrf_token(page), "addresses": "gina@contoso.com", "role": "owner"},
        )
        assert answer.status_code == 403
        assert error_beside(answer, "add") == translate("en", "error.partnerRoleRequired")

    with sign_in(server, "alain@contoso.com") as alain:
        assert alain.get(account_path).status_code == 404
        program = alain.get("/partner")
        assert program.status_code == 200 and 'data-test="program"' in program.text
        answer = alain.post(
            f"{account_path}/members",
            data={
                "csrf_token": csrf_token(program),
                "addresses": "alain@contoso.com",
                "role": "owner",
            },
        )
        assert answer.status_code == 404


def test_someone_in_two_partner_accounts_chooses_which_one_the_pages_act_for(
    stories, database, server
):
    """Bruno owns Fabrikam Studio and is a member of Contoso Labs (fabrikam.com is linked to
    it): the partner pages offer a chooser, and show the account chosen."""
    for email, name in (("ariane@contoso.com", "Ariane Dupont"), ("bruno@fabrikam.com", "Bruno")):
        stories.sign_up(email, name)
        make_global_admin(database, email)
    stories.sign_up("carl@northwind.com", "Carl")
    with (
        stories.client_for("ariane@contoso.com") as ariane,
        stories.client_for("bruno@fabrikam.com") as bruno,
    ):
        contoso_labs = enroll(ariane, "Contoso Labs")
        studio = enroll(bruno, "Fabrikam Studio")
        fabrikam = bruno.get("/v1/organization").json()["id"]
        ariane.post(
            f"/v1/partnerAccounts/{contoso_labs['id']}/tenants",
            json={
                "tenantId": fabrikam,
                "tenantAdministratorToken": stories.token("bruno@fabrikam.com"),
            },
        ).raise_for_status()
        ariane.post(
            f"/v1/partnerAccounts/{contoso_labs['id']}/members",
            json={"userIds": ["bruno@fabrikam.com"], "roles": ["marketer"]},
        ).raise_for_status()
    make_global_admin(database, "carl@northwind.com")
    with stories.client_for("carl@northwind.com") as carl:
        northwind = enroll(carl, "Northwind Apps")

    with sign_in(server, "bruno@fabrikam.com") as browser_:
        home = browser_.get("/partner")
        assert 'data-test="account-chooser"' in home.text
        assert "Contoso Labs" in home.text and "Fabrikam Studio" in home.text
        token = csrf_token(home)
        chosen = browser_.post(
            "/partner/acting", data={"csrf_token": token, "account": contoso_labs["id"]}
        )
        assert chosen.status_code == 303
        page = browser_.get("/partner")
        assert notice_of(page) == translate("en", "partner.acting_for", name="Contoso Labs")
        assert 'data-test="publisher-title">Contoso Labs<' in page.text
        assert 'data-test="add-members"' not in page.text  # a Marketer reads
        browser_.post("/partner/acting", data={"csrf_token": token, "account": studio["id"]})
        page = browser_.get("/partner")
        assert 'data-test="publisher-title">Fabrikam Studio<' in page.text
        assert 'data-test="add-members"' in page.text  # its Owner
        refused = browser_.post(
            "/partner/acting", data={"csrf_token": token, "account": northwind["id"]}
        )
        assert refused.status_code in (403, 404)
        assert 'data-test="publisher-title">Fabrikam Studio<' in browser_.get("/partner").text
