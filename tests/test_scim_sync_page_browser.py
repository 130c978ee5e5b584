"""Ariane opens Admin center → Directory sync in Chromium (en, fr, nl): she creates a token,
sees it once and the SCIM URL, her identity provider calls, the log shows its requests;
she revokes the token. Screenshots."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from tenantry.core.i18n import translate
from tenantry.web.admin_views import format_time
from tests.support.licensing import global_admin
from tests.support.scim import entra_user, scim_client
from tests.support.screenshots import example_values, save_screenshot
from tests.support.server import LiveServer
from tests.support.stories import PASSWORD
from tests.test_web_admin_browser import LOCALES, chromium  # noqa: F401  (the module's browser)
from tests.test_web_browser import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium: install Debian's chromium package to run the browser tests",
)


@pytest.mark.parametrize("language", ["en", "fr", "nl"])
def test_ariane_connects_her_identity_provider_in_chromium(
    chromium: Any,  # noqa: F811
    server: LiveServer,
    stories: Any,
    database: Any,
    language: str,
) -> None:
    from playwright.sync_api import expect

    t = partial(translate, language)
    global_admin(stories, database)
    context = chromium.new_context(
        locale=LOCALES[language], viewport={"width": 1280, "height": 900}
    )
    try:
        page = context.new_page()
        page.goto(f"{server.url}/signin?next=/admin/sync")
        page.get_by_label(t("web.field.email")).fill("ariane@contoso.com")
        page.get_by_label(t("web.field.password")).fill(PASSWORD)
        page.get_by_role("button", name=t("web.signin.submit")).click()
        page.wait_for_url(f"{server.url}/admin/sync")
        expect(page.locator("h1")).to_have_text(t("web.sync.title"))
        expect(page.locator('[data-nav="sync"]')).to_have_attribute("aria-current", "page")
        expect(page.locator('[data-test="scim-url"]')).to_have_text("http://127.0.0.1:8000/scim/v2")
        expect(page.locator('[data-test="last-activity"]')).to_have_text(t("web.sync.never"))

        page.get_by_label(t("web.sync.token_name")).fill("Microsoft Entra ID")
        page.locator('[data-test="create-token"]').click()
        expect(page.locator('[data-test="new-token"]')).to_contain_text(
            t("web.sync.token_once", name="Microsoft Entra ID")
        )
        token = page.locator('[data-test="token-value"]').inner_text()
        assert token.startswith("tscim_")

        # The identity provider calls with it: a person, a group, one refused request.
        scim = scim_client(server.url, token)
        alex = scim.post("/Users", json=entra_user("alex@contoso.com", "e-alex")).json()
        scim.post("/Groups", json={"displayName": "Sales", "members": [{"value": alex["id"]}]})
        assert scim.post("/Users", json=entra_user("eve@fabrikam.com", "e-eve")).status_code == 400
        page.goto(f"{server.url}/admin/sync")
        expect(page.locator('[data-test="log"] tbody tr')).to_have_count(3)
        expect(page.locator('tr[data-outcome="failure"]')).to_have_count(1)
        expect(page.locator('tr[data-token="Microsoft Entra ID"]')).to_have_count(1)
        moment = format_time(language, datetime(2026, 12, 3, 9, 41, tzinfo=UTC))
        with example_values(
            page,
            {
                ".flash code.copyable": "tscim_Ex4mple-token-shown-once",
                '[data-test="token-time"], [data-test="log-time"]': moment,
                '[data-test="last-activity"]': moment,
            },
        ):
            save_screenshot(page, f"admin-directory-sync-{language}.png", full_page=True)

        page.locator('[data-test="failures"]').click()
        expect(page.locator('[data-test="log"] tbody tr')).to_have_count(1)

        page.goto(f"{server.url}/admin/sync")
        page.locator('tr[data-token="Microsoft Entra ID"] [data-test="revoke"]').click()
        expect(page.locator(".flash-info")).to_have_text(t("web.sync.revoked"))
        expect(page.locator('[data-test="tokens"] tbody tr')).to_have_count(0)
        assert scim.get("/Users").status_code == 401
    finally:
        context.close()
