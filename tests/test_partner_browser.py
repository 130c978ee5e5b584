"""The partner program in real Chromium: Ariane walks the whole wizard in French to "En
attente d'approbation", Jean confirms from the link in the email he received over SMTP,
Alain reads seed 003's refusal in Dutch; screenshots in docs/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from tenantry.core.i18n import translate
from tenantry.web.admin_views import format_time
from tests.support.admin import make_global_admin
from tests.support.screenshots import example_values
from tests.support.server import LiveServer
from tests.support.stories import PASSWORD
from tests.test_web_admin_browser import chromium, screenshot  # noqa: F401  (the module's browser)
from tests.test_web_browser import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium: install Debian's chromium package to run the browser tests",
)

LINK = re.compile(r"https?://[^/\s]+(/partner/approvals/\S+)")
# Dates and ids change every run; the pictures show fixed ones.
EXAMPLE_DAY = datetime(2027, 1, 21, 9, 30, tzinfo=UTC)
EXAMPLE_TENANT = "3f2b8c1e-6d4a-4f7b-9a0e-5c1d2e3f4a5b"


def sign_in(page: Any, server: LiveServer, email: str, language: str) -> None:
    t = partial(translate, language)
    page.goto(f"{server.url}/signin")
    page.get_by_label(t("web.field.email")).fill(email)
    page.get_by_label(t("web.field.password")).fill(PASSWORD)
    page.get_by_role("button", name=t("web.signin.submit")).click()
    page.wait_for_url(f"{server.url}/")


def fixed_dates(language: str, expires: bool = True) -> dict[str, str]:
    t = partial(translate, language)
    day = format_time(language, EXAMPLE_DAY)
    values = {
        '[data-test="created"]': day,
        '[data-test="tenant-id"]': EXAMPLE_TENANT,
        '[data-test="agreement"]': t(
            "partner.overview.agreement_accepted", version="tenantry-default-1", date=day
        ),
    }
    if expires:
        later = format_time(language, EXAMPLE_DAY.replace(month=2, day=4))
        values['[data-test="state-meaning"]'] = t(
            "partner.state_meaning.pendingApproval", approver="Jean Martin", expires=later
        )
        values['[data-test="expires"]'] = t("partner.approval.expires", date=later)
    return values


def test_ariane_enrolls_in_french_and_jean_confirms_from_his_email(
    chromium: Any,  # noqa: F811
    server: LiveServer,
    stories: Any,
    database: Any,
    smtp: Any,
) -> None:
    from playwright.sync_api import expect

    t = partial(translate, "fr")
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    make_global_admin(database, "ariane@contoso.com")
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1200, "height": 800})
    try:
        page = context.new_page()
        sign_in(page, server, "ariane@contoso.com", "fr")
        page.get_by_role("link", name=t("partner.nav")).click()
        page.get_by_role("link", name=t("partner.program.enroll")).click()

        # Step 1: country (never changeable), Company, the name and its live check.
        expect(page.locator('[data-test="step-1"]')).to_be_visible()
        expect(page.locator('[data-test="country-warning"]')).to_have_text(
            t("partner.enroll.country.warning")
        )
        expect(page.locator('[data-test="account-type"]')).to_have_text(
            t("partner.account_type.company")
        )
        page.get_by_label(t("partner.field.country")).select_option("FR")
        page.get_by_label(t("partner.field.publisher_name")).fill("Contoso Labs")
        page.get_by_role("button", name=t("partner.enroll.check")).click()
        expect(page.locator('[data-test="available"]')).to_have_text(
            t("partner.enroll.available", name="Contoso Labs")
        )
        page.get_by_role("button", name=t("partner.enroll.next")).click()

        # Step 2: a phone with an extension is refused beside its field, in French.
        expect(page.locator('[data-test="step-2"]')).to_be_visible()
        expect(page.get_by_label(t("partner.field.contact_name"))).to_have_value("Ariane Dupont")
        page.get_by_label(t("partner.field.contact_phone")).fill("+33 1 42 68 53 00 poste 12")
        page.get_by_label(t("partner.field.approver_name")).fill("Jean Martin")
        page.get_by_label(t("partner.field.approver_email")).fill("jean@contoso.com")
        page.get_by_label(t("partner.field.approver_phone")).fill("+33 6 12 34 56 78")
        page.get_by_role("button", name=t("partner.enroll.next")).click()
        expect(page.locator('[data-error-for="contact_phone"]')).to_have_text(
            t("error.invalidPhoneNumber", field=t("partner.field.contact_phone"))
        )
        page.get_by_label(t("partner.field.contact_phone")).fill("+33 1 42 68 53 00")
        page.get_by_role("button", name=t("partner.enroll.next")).click()

        # Step 3: the summary and the agreement in French; Back keeps everything.
        expect(page.locator('[data-test="step-3"]')).to_be_visible()
        expect(page.locator('[data-test="review-country"]')).to_contain_text("France")
        expect(page.locator('[data-test="agreement-text"]')).to_contain_text(
            "Contrat de collaboration"
        )
        page.get_by_role("button", name=t("partner.enroll.back")).click()
        expect(page.get_by_label(t("partner.field.approver_name"))).to_have_value("Jean Martin")
        page.get_by_role("button", name=t("partner.enroll.next")).click()
        page.get_by_label(t("partner.enroll.accept")).check()
        screenshot(page, "partner-enroll-fr.png")
        page.get_by_role("button", name=t("partner.enroll.finish")).click()

        page.wait_for_url(f"{server.url}/partner")
        expect(page.locator('[data-test="state"]')).to_have_text(t("partner.state.pendingApproval"))
        expect(page.locator('[data-test="publisher"]')).to_have_text("Contoso Labs")

        # Jean's email, delivered over SMTP, opens a page he can use without signing in.
        mail = smtp.wait_for("jean@contoso.com")[-1]
        assert mail.subject == "Confirmez le compte partenaire Contoso Labs"
        jean = chromium.new_context(locale="fr-FR", viewport={"width": 1200, "height": 800})
        try:
            approval = jean.new_page()
            approval.goto(server.url + LINK.search(mail.body).group(1))
            expect(approval.locator('[data-test="publisher"]')).to_have_text("Contoso Labs")
            expect(approval.locator('[data-test="organization"]')).to_have_text("contoso.com")
            with example_values(approval, fixed_dates("fr")):
                screenshot(approval, "partner-approval-fr.png")
            approval.get_by_role("button", name=t("partner.approval.confirm")).click()
            expect(approval.locator('[data-test="decided"]')).to_have_text(
                t("partner.approval.done.active", publisher="Contoso Labs")
            )
        finally:
            jean.close()

        # Ariane's page, in English through the switch: active now.
        page.click('.lang-switch a[hreflang="en"]')
        page.goto(f"{server.url}/partner")
        expect(page.locator('[data-test="state"]')).to_have_text(
            translate("en", "partner.state.active")
        )
        with example_values(page, fixed_dates("en", expires=False)):
            screenshot(page, "partner-overview-en.png")
    finally:
        context.close()


def test_alain_reads_the_refusal_in_dutch(
    chromium: Any,  # noqa: F811
    server: LiveServer,
    stories: Any,
    database: Any,
) -> None:
    from playwright.sync_api import expect

    t = partial(translate, "nl")
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    stories.sign_up("alain@contoso.com", "Alain Martin")
    make_global_admin(database, "ariane@contoso.com")
    context = chromium.new_context(locale="nl-NL", viewport={"width": 1200, "height": 760})
    try:
        page = context.new_page()
        sign_in(page, server, "alain@contoso.com", "nl")
        page.get_by_role("link", name=t("partner.nav")).click()
        page.get_by_role("link", name=t("partner.program.enroll")).click()
        refusal = page.locator('[data-test="not-global-admin"]')
        expect(refusal.locator("h1")).to_have_text(
            "We konden uw identiteit als globale beheerder niet valideren."
        )
        expect(refusal.locator('[data-test="hint"]')).to_have_text(t("partner.not_admin.hint"))
        expect(refusal.locator('[data-test="global-admins"]')).to_contain_text("ariane@contoso.com")
        screenshot(page, "partner-not-admin-nl.png")
        # "Sign in with another account": the button signs him out.
        page.get_by_role("button", name=t("partner.not_admin.switch")).click()
        expect(page.locator('[data-test="who"]')).to_have_count(0)
    finally:
        context.close()
    assert database.scalar("SELECT count(*) FROM partner_accounts") == 0
