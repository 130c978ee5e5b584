"""An address at an internationalized domain finds its account in its Unicode form as in its
ASCII form: sign-in (API and page), `/users/{upn}`, role and group members, the audit log."""

from __future__ import annotations

import re

from tests.support.admin import make_global_admin
from tests.support.directory import add_user
from tests.support.stories import PASSWORD
from tests.test_web_admin_takeover import notice_of, sign_in
from tests.test_web_pages import submit

UNICODE = "jan@bücher.de"
ASCII = "jan@xn--bcher-kva.de"


def _token(api, username: str):
    return api.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )


def test_jan_signs_in_with_his_address_as_he_types_it(stories, api, server):
    started = stories.start_signup(UNICODE, "Jan Bücher")
    assert started.status_code == 202, started.text
    code = stories.smtp.code_for(ASCII)  # one account, kept (and mailed) in the ASCII form
    verified = api.post(
        f"/v1/signup/{started.json()['signupId']}/verify",
        json={"code": code, "password": PASSWORD},
    )
    assert verified.status_code in (200, 201), verified.text

    for username in (UNICODE, ASCII, "Jan@BÜCHER.de", " JAN@Xn--Bcher-Kva.DE "):
        answer = _token(api, username)
        assert answer.status_code == 200, (username, answer.text)
    with sign_in(server, UNICODE):  # the sign-in page: a session, and on to the next page
        pass


def test_an_admin_finds_and_adds_people_by_their_unicode_address(stories, database, server):
    stories.sign_up(ASCII, "Jan Bücher")
    make_global_admin(database, ASCII)
    with stories.client_for(UNICODE) as jan:
        # A user at the tenant's verified domain, entered in its Unicode form.
        anna = add_user(jan, "Anna@Bücher.de", "Anna Schmidt")
        assert anna["userPrincipalName"] == "anna@xn--bcher-kva.de"
        assert jan.get("/v1/users/anna@bücher.de").json()["id"] == anna["id"]
        found = jan.get("/v1/users", params={"$filter": "userPrincipalName eq 'anna@bücher.de'"})
        assert [user["id"] for user in found.json()["value"]] == [anna["id"]]
        acted = jan.get("/v1/auditLogs/directoryAudits", params={"actor": UNICODE})
        assert acted.status_code == 200 and acted.json()["value"], acted.text
    stories.sign_up("eva@xn--bcher-kva.de", "Eva Keller")  # a member, no role
    with stories.client_for("eva@bücher.de") as eva:
        mine = eva.get("/v1/users/eva@bücher.de/licenseDetails")  # herself, as she types it
        assert mine.status_code == 200, mine.text

    with sign_in(server, ASCII) as browser:
        given = submit(
            browser,
            "/admin/roles",
            "/admin/roles/LicenseAdministrator/members",
            address="anna@bücher.de",
        )
        assert given.status_code == 303, given.text
        assert "Anna Schmidt is now License Administrator" in notice_of(browser.get("/admin/roles"))

        group = submit(browser, "/admin/groups", "/admin/groups", display_name="Verlag")
        path = group.headers["location"]
        added = submit(browser, path, f"{path}/members", addresses="anna@bücher.de, jan@bücher.de")
        assert added.status_code == 303, added.text
        page = browser.get(path)
        assert sorted(re.findall(r'data-member="([^"]+)"', page.text)) == [
            "anna@xn--bcher-kva.de",
            ASCII,
        ]
