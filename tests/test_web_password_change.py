"""Changing one's password on the pages: required after an admin reset it, as on the API."""

from __future__ import annotations

import httpx

from tenantry.core.i18n import translate
from tenantry.directory.constants import Role
from tests.support.admin import make_global_admin
from tests.support.licensing import user_id_of
from tests.support.server import LiveServer
from tests.test_web_admin_center import error_of
from tests.test_web_admin_takeover import notice_of, sign_in, text_of
from tests.test_web_pages import csrf_token, submit

NEW_PASSWORD = "Brand-New-Pass-7"
TO_CHANGE = "/account/password?next=%2Fadmin%2Fusers"


def _token_answer(api: httpx.Client, email: str, password: str) -> httpx.Response:
    return api.post(
        "/v1/auth/token", data={"grant_type": "password", "username": email, "password": password}
    )


def test_after_a_reset_the_pages_ask_for_a_new_password_first(
    server: LiveServer, stories, database
):
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    stories.sign_up("alain@contoso.com", "Alain Martin")
    make_global_admin(database, "ariane@contoso.com")
    make_global_admin(database, "alain@contoso.com", role=Role.USER_ADMINISTRATOR)
    with sign_in(server, "ariane@contoso.com") as ariane:
        alain_page = f"/admin/users/{user_id_of(database, 'alain@contoso.com')}"
        reset = submit(ariane, alain_page, f"{alain_page}/password")
        assert reset.status_code == 200
        temporary = reset.text.split('data-test="temporary-password">')[1].split("<")[0]

    with httpx.Client(base_url=server.url, timeout=30) as tab:
        signed_in = submit(
            tab,
            "/signin",
            "/signin",
            email="alain@contoso.com",
            password=temporary,
            next="/admin/users",
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == TO_CHANGE
        # Every page sends him there first (the admin center too), as the API answers 403.
        for path in ("/", "/admin", "/admin/roles", "/signup", "/signin"):
            sent = tab.get(path)
            assert sent.status_code == 303, path
            assert sent.headers["location"].startswith("/account/password?next="), path
        assert tab.get("/admin/users").headers["location"] == TO_CHANGE
        page = tab.get(TO_CHANGE)
        assert page.status_code == 200
        assert translate("en", "web.password.required") in text_of(page)
        # A form posted anyway does nothing but send him to change the password.
        posted = tab.post(
            "/admin/users",
            data={
                "csrf_token": csrf_token(page),
                "display_name": "X",
                "username": "x",
                "domain": "contoso.com",
            },
        )
        assert (
            posted.status_code == 303 and posted.headers["location"] == "/account/password?next=%2F"
        )
        assert database.scalar("SELECT count(*) FROM users") == 2

        tab.cookies.set("lang", "fr")
        for fields, message in (
            (
                {"current_password": temporary, "confirm_password": "Other-Pass-8"},
                "web.password.mismatch",
            ),
            ({"current_password": "Not-The-One-1"}, "error.invalidCurrentPassword"),
            (
                {"current_password": temporary, "new_password": "weak", "confirm_password": "weak"},
                "error.passwordTooWeak",
            ),
            (
                {
                    "current_password": temporary,
                    "new_password": temporary,
                    "confirm_password": temporary,
                },
                "web.password.same",
            ),
        ):
            refused = submit(
                tab,
                TO_CHANGE,
                "/account/password",
                **{"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, **fields},
                next="/admin/users",
            )
            assert refused.status_code == 400, message
            assert error_of(refused) == translate("fr", message)
        tab.cookies.set("lang", "en")

        changed = submit(
            tab,
            TO_CHANGE,
            "/account/password",
            current_password=temporary,
            new_password=NEW_PASSWORD,
            confirm_password=NEW_PASSWORD,
            next="/admin/users",
        )
        assert changed.status_code == 303 and changed.headers["location"] == "/admin/users"
        users = tab.get("/admin/users")
        assert users.status_code == 200
        assert notice_of(users) == translate("en", "web.password.changed")
        home = tab.get("/")
        assert home.status_code == 200 and "Alain Martin" in home.text

    assert _token_answer(stories.api, "alain@contoso.com", temporary).status_code == 400
    fresh = _token_answer(stories.api, "alain@contoso.com", NEW_PASSWORD)
    assert fresh.status_code == 200 and fresh.json()["password_change_required"] is False
    assert (
        database.scalar("SELECT count(*) FROM audit_events WHERE action = 'Change user password'")
        == 1
    )


def test_anyone_signed_in_changes_their_password_from_the_home_page(server: LiveServer, stories):
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    with (
        sign_in(server, "ariane@contoso.com") as elsewhere,
        sign_in(server, "ariane@contoso.com") as tab,
    ):
        home = tab.get("/")
        assert 'href="/account/password" data-test="change-password"' in home.text
        page = tab.get("/account/password")
        assert page.status_code == 200
        assert translate("en", "web.password.lead") in text_of(page)
        forged = tab.post(
            "/account/password",
            data={
                "current_password": "Correct-Horse-9",
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
        )
        assert forged.status_code == 403  # no CSRF token: nothing changes
        changed = submit(
            tab,
            "/account/password",
            "/account/password",
            current_password="Correct-Horse-9",
            new_password=NEW_PASSWORD,
            confirm_password=NEW_PASSWORD,
            next="/",
        )
        assert changed.status_code == 303 and changed.headers["location"] == "/"
        assert notice_of(tab.get("/")) == translate("en", "web.password.changed")
        assert "Ariane Dupont" not in elsewhere.get("/").text  # the other session ended
    with httpx.Client(base_url=server.url) as visitor:
        assert visitor.get("/account/password").headers["location"].startswith("/signin?next=")
