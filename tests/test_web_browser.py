"""Sign-up through the pages in real Chromium, in English, French and Dutch, with screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tenantry.core.i18n import translate
from tenantry.web.admin_views import format_date
from tests.support.screenshots import example_values, save_screenshot
from tests.support.server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "Correct-Horse-9"

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


@pytest.mark.parametrize(
    ("language", "locale", "via_switch"),
    [
        ("en", "en-US", False),  # Accept-Language
        ("fr", "fr-FR", False),  # Accept-Language
        ("nl", "en-US", True),  # the language switch overrides the browser's English
    ],
)
def test_ariane_signs_up_through_the_pages_and_lands_home(
    chromium: Any, server: LiveServer, language: str, locale: str, via_switch: bool
) -> None:
    from playwright.sync_api import expect

    t = partial(translate, language)
    context = chromium.new_context(locale=locale, viewport={"width": 1200, "height": 760})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/")
        if via_switch:
            page.click(f'.lang-switch a[hreflang="{language}"]')
        expect(page.locator("html")).to_have_attribute("lang", language)

        page.get_by_role("link", name=t("web.welcome.signup")).click()
        page.get_by_label(t("web.field.email")).fill("ariane@contoso.com")
        page.get_by_label(t("web.field.display_name")).fill("Ariane Dupont")
        page.get_by_role("button", name=t("web.signup.submit")).click()
        page.wait_for_url(re.compile(r"/signup/[0-9a-f-]{36}$"))
        expect(page.locator("h1")).to_have_text(t("web.verify.title"))

        mailbox = context.new_page()
        mailbox.goto(f"{server.url}/dev/mailbox?to=ariane@contoso.com")
        newest = mailbox.locator('[data-test="message"]').first
        body = newest.locator('[data-test="body"]').text_content() or ""
        found = re.search(r"\b(\d{6})\b", body)
        assert found, body
        mailbox.close()

        page.get_by_label(t("web.field.code")).fill(found.group(1))
        page.get_by_label(t("web.field.new_password")).fill(PASSWORD)
        page.get_by_role("button", name=t("web.verify.submit")).click()
        page.wait_for_url(f"{server.url}/")

        expect(page.locator('[data-test="name"]')).to_have_text("Ariane Dupont")
        expect(page.locator('[data-test="organization"]')).to_have_text("contoso.com")
        expect(page.locator('[data-test="state"]')).to_have_text(t("web.state.unmanaged"))
        expect(page.locator('[data-test="who"]')).to_contain_text("contoso.com")
        become = page.get_by_role("link", name=t("web.home.unmanaged.action"))
        expect(become).to_have_attribute("href", "/admin/become")
        expect(page.locator('[data-test="entitlement-change"]')).to_have_count(1)  # 10, then 3
        # The step-down day moves with the day the tests run: the picture shows a fixed one.
        example_day = format_date(language, datetime(2027, 1, 21, tzinfo=UTC))
        step_down = t("web.home.entitlement_change", value=3, date=example_day)
        with example_values(page, {'[data-test="entitlement-change"]': step_down}):
            save_screenshot(page, f"signup-home-{language}.png", full_page=True)
    finally:
        context.close()
