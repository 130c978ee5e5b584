"""Ariane becomes the admin through the wizard in real Chromium, then adds a domain; screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from tenantry.core.i18n import translate
from tests.support.screenshots import example_values, save_screenshot
from tests.support.server import LiveServer
from tests.support.stories import PASSWORD
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS

EXAMPLE_RECORD = "tenantry-verify=5f0c2a9e41b7d3866e0a17c4"  # the token differs every run

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium: install Debian's chromium package to run the browser tests",
)

LOCALES = {"en": "en-US", "fr": "fr-FR", "nl": "nl-NL"}


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


def screenshot(page: Any, name: str) -> None:
    save_screenshot(page, name, full_page=True)


@pytest.mark.parametrize("language", ["en", "fr", "nl"])
def test_ariane_becomes_the_admin_in_chromium(
    chromium: Any, server: LiveServer, stories: Any, dns_zone: Any, language: str
) -> None:
    from playwright.sync_api import expect

    t = partial(translate, language)
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    stories.sign_up("alain@contoso.com", "Alain Martin")
    context = chromium.new_context(
        locale=LOCALES[language], viewport={"width": 1200, "height": 800}
    )
    try:
        page = context.new_page()
        page.goto(f"{server.url}/signin")
        page.get_by_label(t("web.field.email")).fill("ariane@contoso.com")
        page.get_by_label(t("web.field.password")).fill(PASSWORD)
        page.get_by_role("button", name=t("web.signin.submit")).click()
        page.wait_for_url(f"{server.url}/")
        expect(page.locator("html")).to_have_attribute("lang", language)

        # Step 2: from the home page's "Become the admin".
        page.get_by_role("link", name=t("web.home.unmanaged.action")).click()
        expect(page.locator('[data-test="step-2"]')).to_be_visible()
        page.get_by_role("button", name=t("web.become.run.submit")).click()

        # Step 3: the TXT record, and "not found yet" before it is published.
        expect(page.locator('[data-test="step-3"]')).to_be_visible()
        expect(page.locator('[data-step="2"]')).to_have_attribute("data-status", "done")
        value = page.locator('[data-test="txt-value"]').text_content() or ""
        assert re.fullmatch(r"tenantry-verify=[0-9a-f]+", value), value
        expect(page.locator('[data-test="txt-ttl"]')).to_have_text("3600")
        page.get_by_role("button", name=t("web.become.confirm.submit")).click()
        expect(page.locator('[data-test="not-found-yet"]')).to_contain_text(
            t("web.record.not_found.title")
        )
        with example_values(page, {'[data-test="txt-value"]': EXAMPLE_RECORD}):
            screenshot(page, f"wizard-step3-{language}.png")
        if language != "en":
            return

        dns_zone.publish("contoso.com", value)
        page.get_by_role("button", name=t("web.become.confirm.retry")).click()

        # Step 4: two people signed up, so at least two licenses.
        expect(page.locator('[data-test="step-4"]')).to_be_visible()
        quantity = page.get_by_label(t("web.become.buy.quantity"))
        expect(quantity).to_have_value("2")
        expect(quantity).to_have_attribute("min", "2")
        expect(page.get_by_label("Business Essentials")).to_be_checked()
        page.get_by_role("button", name=t("web.become.buy.submit")).click()

        page.wait_for_url(f"{server.url}/admin/become/done")
        expect(page.locator("h1")).to_have_text(t("web.become.done.title"))
        expect(page.locator('[data-test="licenses"]')).to_have_text(
            t("web.licenses.assigned", assigned=2, total=2)
        )
        screenshot(page, "wizard-done-en.png")

        # The admin center's Domains page: add fabrikam.com, verify it, make it the default.
        page.locator('[data-test="to-domains"]').click()
        page.wait_for_url(f"{server.url}/admin/domains")
        page.get_by_label(t("web.domains.add.label")).fill("fabrikam.com")
        page.get_by_role("button", name=t("web.domains.add.submit")).click()
        page.wait_for_url(f"{server.url}/admin/domains/fabrikam.com")
        fabrikam_value = page.locator('[data-test="txt-value"]').text_content() or ""
        dns_zone.publish("fabrikam.com", fabrikam_value)
        page.locator('[data-test="verify"]').click()
        page.wait_for_url(f"{server.url}/admin/domains")
        row = page.locator('tr[data-domain="fabrikam.com"]')
        expect(row.locator('[data-test="status"]')).to_have_attribute("data-status", "verified")
        row.get_by_role("button", name=t("web.domains.make_default")).click()
        expect(page.locator(".flash-info")).to_have_text(
            t("web.domains.now_default", domain="fabrikam.com")
        )
        expect(row.locator('[data-test="default"]')).to_be_visible()
        expect(page.locator('tr[data-domain="contoso.com"] [data-test="default"]')).to_have_count(0)
        screenshot(page, "admin-domains-en.png")
    finally:
        context.close()
