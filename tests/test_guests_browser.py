"""Kim accepts Contoso's invitation in real Chromium, then switches organization from the page
header; screenshots in docs/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tenantry.core.i18n import translate
from tests.support.guests import invite, mailed_link
from tests.support.licensing import global_admin
from tests.support.screenshots import save_screenshot
from tests.support.server import LiveServer
from tests.support.stories import PASSWORD
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium: install Debian's chromium package to run the browser tests",
)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium, once for this module (Playwright's sync API, so plain sync tests)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def test_kim_accepts_the_invitation_and_switches_organization_from_the_header(
    chromium: Any, server: LiveServer, stories: Any, database: Any, smtp: Any
) -> None:
    from playwright.sync_api import expect

    def t(key: str, **params: Any) -> str:
        return translate("en", key, **params)

    ariane = global_admin(stories, database, "ariane@contoso.com")
    stories.sign_up("kim@fabrikam.com", "Kim Lee")
    invite(
        ariane.api,
        "kim@fabrikam.com",
        invitedUserDisplayName="Kim Lee",
        sendInvitationMessage=True,
        invitedUserMessageInfo={
            "customizedMessageBody": "Welcome to the Contoso Labs partner team, Kim."
        },
    )
    link = mailed_link(smtp, "kim@fabrikam.com")
    context = chromium.new_context(locale="en-US", viewport={"width": 1200, "height": 760})
    try:
        page = context.new_page()
        page.goto(f"{server.url}{link}")
        expect(page.locator('[data-test="invitation"]')).to_have_attribute("data-mode", "signin")
        expect(page.locator('[data-test="invited-by"]')).to_have_text(
            t(
                "web.redeem.lead_by",
                inviter="Ariane Dupont",
                organization="contoso.com",
                email="kim@fabrikam.com",
            )
        )
        expect(page.locator('[data-test="invitation-message"]')).to_have_text(
            "Welcome to the Contoso Labs partner team, Kim."
        )
        page.get_by_label(t("web.field.password")).fill(PASSWORD)
        save_screenshot(page, "guest-invitation-en.png", full_page=True)
        page.get_by_role("button", name=t("web.redeem.signin_submit")).click()

        expect(page.locator('[data-test="redeemed"]')).to_have_text(
            t("web.redeem.done", organization="contoso.com")
        )
        page.get_by_role("link", name=t("web.redeem.continue")).click()
        page.wait_for_url(f"{server.url}/")

        # Her name, and the organization she acts for: contoso.com, as its guest.
        expect(page.locator('[data-test="name"]')).to_have_text("Kim Lee")
        expect(page.locator('[data-test="lead"]')).to_have_text(
            t("web.home.lead_guest", organization="contoso.com", email="kim@fabrikam.com")
        )
        expect(page.locator('[data-test="acting-org"]')).to_contain_text("contoso.com")
        switcher = page.get_by_label(t("web.switch.label"))
        expect(switcher.locator("option:checked")).to_have_text(
            f"contoso.com ({t('web.switch.guest')})"
        )
        save_screenshot(page, "guest-home-en.png", full_page=True)

        # The header's switcher: fabrikam.com, her own organization.
        switcher.select_option(label="fabrikam.com")
        page.get_by_role("button", name=t("web.switch.submit")).click()
        page.wait_for_url(f"{server.url}/")
        expect(page.get_by_role("status")).to_have_text(
            t("web.switch.done", organization="fabrikam.com")
        )
        expect(page.locator('[data-test="lead"]')).to_have_text(
            t("web.home.lead", organization="fabrikam.com")
        )
        expect(page.locator('[data-test="acting-org"]')).to_have_text("fabrikam.com")

        # And back: the choice holds across pages.
        page.get_by_label(t("web.switch.label")).select_option(label="contoso.com (guest)")
        page.get_by_role("button", name=t("web.switch.submit")).click()
        expect(page.locator('[data-test="acting-org"]')).to_contain_text("contoso.com")
        page.goto(f"{server.url}/account/password")
        expect(page.locator('[data-test="acting-org"]')).to_contain_text("contoso.com")
    finally:
        context.close()
