"""Ariane runs her organization from the admin center in Chromium: buys licenses, imports 50
users from a CSV file and reads the per-row report, creates a group that gives a license,
sees its members in error, buys more and reprocesses; screenshots."""

from __future__ import annotations

import csv
import io
from functools import partial
from typing import Any

import pytest

from tenantry.core.i18n import translate
from tests.support.screenshots import example_values, save_screenshot
from tests.support.server import LiveServer
from tests.support.stories import PASSWORD, become_admin
from tests.test_web_admin_browser import chromium  # noqa: F401  (the module's browser)
from tests.test_web_browser import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium: install Debian's chromium package to run the browser tests",
)

_FIRST = (
    "Léa Hugo Chloé Louis Emma Gabriel Manon Arthur Camille Jules Sarah Raphaël Inès Adam Jade "
    "Lucas Zoé Nathan Eva Tom Lina Noah Julie Sacha Anna Victor Clara Paul Alice Ethan Rose Léo "
    "Lou Mila Théo Nina Maël Iris Axel Louise Sam Romane Marius Elsa Hugo Margaux Simon Agathe"
)
_LAST = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefèvre "
    "Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Mercier Dupont Lambert "
    "Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc Guerin Muller Henry Roussel "
    "Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Lopez Fontaine Chevalier Robin Masson"
)
FIRST_NAMES, LAST_NAMES = _FIRST.split(), _LAST.split()
LOCATIONS = ("FR", "BE", "NL", "LU", "CH")


def people_csv() -> tuple[bytes, dict[str, str], dict[int, str]]:
    """50 rows, the address of each name, and the bad rows: 3 (an address taken), 7 (a country
    name), 12 (row 11 again)."""
    rows = []
    for index in range(50):
        first, last = FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[index]
        address = f"{first}.{last}".lower().translate(str.maketrans("éèëïçô", "eeeico"))
        rows.append(
            [f"{address}@contoso.com", f"{first} {last}", first, last, LOCATIONS[index % 5], "Yes"]
        )
    rows[2][0] = "alain@contoso.com"  # already in the organization
    rows[6][4] = "France"  # not an ISO 3166 code
    rows[11] = list(rows[10])  # the same person twice
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "userPrincipalName",
            "displayName",
            "givenName",
            "surname",
            "usageLocation",
            "accountEnabled",
        ]
    )
    writer.writerows(rows)
    bad = {3: "userAlreadyExists", 7: "invalidCountryCode", 12: "userAlreadyExists"}
    return buffer.getvalue().encode(), {row[1]: row[0] for row in rows}, bad


def test_ariane_runs_the_admin_center_in_chromium(
    chromium: Any,  # noqa: F811
    server: LiveServer,
    stories: Any,
    dns_zone: Any,
) -> None:
    from playwright.sync_api import expect

    t = partial(translate, "en")
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    stories.sign_up("alain@contoso.com", "Alain Martin")
    api = stories.client_for("ariane@contoso.com")
    assert become_admin(api, dns_zone, quantity=2).status_code == 200

    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/signin?next=/admin")
        page.get_by_label(t("web.field.email")).fill("ariane@contoso.com")
        page.get_by_label(t("web.field.password")).fill(PASSWORD)
        page.get_by_role("button", name=t("web.signin.submit")).click()
        page.wait_for_url(f"{server.url}/admin")
        expect(page.locator('[data-nav="users"]')).to_have_attribute("href", "/admin/users")

        # Billing: buy 20 Business Premium licenses.
        page.locator('[data-nav="billing"]').click()
        buy = page.locator('[data-test="buy"]')
        buy.get_by_label(t("web.billing.buy.product")).select_option("BUSINESS_PREMIUM")
        buy.get_by_label(t("web.billing.buy.quantity")).fill("20")
        page.locator('[data-test="buy-submit"]').click()
        expect(page.locator(".flash-info")).to_have_text(
            t("web.billing.bought", quantity=20, sku="Business Premium")
        )
        premium = page.locator('.license-card[data-sku="BUSINESS_PREMIUM"]')
        expect(premium.locator('[data-test="available"]')).to_have_text("20")

        # Users: import 50 people from a CSV file, three of the rows are bad.
        page.locator('[data-nav="users"]').click()
        page.locator('[data-test="import"]').click()
        page.wait_for_url(f"{server.url}/admin/users/import")
        data, addresses, bad = people_csv()
        page.locator('input[name="file"]').set_input_files(
            files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": data}]
        )
        page.locator('[data-test="upload"]').click()
        expect(page.locator("h1")).to_have_text(t("web.import.report.title"))
        expect(page.locator('[data-test="total"]')).to_have_text("50")
        expect(page.locator('[data-test="created"]')).to_have_text("47")
        expect(page.locator('[data-test="failed"]')).to_have_text("3")
        report = page.locator('[data-test="report"] tbody tr')
        expect(report).to_have_count(50)
        expect(page.locator('tr[data-outcome="failed"]')).to_have_count(3)
        for row, code in bad.items():
            line = page.locator(f'tr[data-row="{row}"]')
            expect(line).to_have_attribute("data-outcome", "failed")
            expect(line.locator(".error-code")).to_have_text(code)
        expect(page.locator('tr[data-row="3"] [data-test="message"]')).to_have_text(
            t("web.admin.error.userAlreadyExists", address="alain@contoso.com")
        )
        expect(page.locator('tr[data-row="7"] [data-test="message"]')).to_contain_text(
            "France is not a usage location"
        )
        expect(page.locator('tr[data-row="1"]')).to_have_attribute("data-outcome", "created")
        with example_values(page, {"td code.copyable": "Kw7-example-Pass"}):
            screenshot_viewport(page, "admin-import-report-en.png", height=1320)

        # A few of them get Business Premium (through the API), then the Users page.
        sku_id = api.get("/v1/subscribedSkus").json()["value"]
        premium_id = next(s["skuId"] for s in sku_id if s["skuPartNumber"] == "BUSINESS_PREMIUM")
        for name in ("Adam Michel", "Alice Martinez", "Anna Dupont"):
            address = addresses[name]
            assigned = api.post(
                f"/v1/users/{address}/assignLicense",
                json={"addLicenses": [{"skuId": premium_id}], "removeLicenses": []},
            )
            assert assigned.status_code == 200, assigned.text
        api.patch(f"/v1/users/{addresses['Agathe Chevalier']}", json={"accountEnabled": False})
        page.get_by_role("link", name=t("web.import.report.to_users")).click()
        page.wait_for_url(f"{server.url}/admin/users")
        expect(page.locator('[data-test="count"]')).to_have_text(
            t("web.users.count.other", count=49)
        )
        expect(page.locator('[data-test="users"] tbody tr')).to_have_count(25)
        expect(page.locator('[data-test="next-page"]')).to_be_visible()
        screenshot_viewport(page, "admin-users-en.png")

        # Groups: "Sales", with several members added by address at once.
        page.locator('[data-nav="groups"]').click()
        page.get_by_label(t("web.groups.create.name")).fill("Sales")
        page.get_by_label(t("web.groups.create.description")).fill("The sales team in Europe")
        page.locator('[data-test="create-group"]').click()
        expect(page.locator("h1")).to_have_text("Sales")
        first, second, third, fourth, fifth = (
            addresses[name]
            for name in (
                "Adam Michel",
                "Alice Martinez",
                "Léa Martin",
                "Hugo Bernard",
                "Emma Robert",
            )
        )
        page.get_by_label(t("web.group.members.add")).fill(
            f"{first}, {second}\n{third}; {fourth} {fifth.upper()}"
        )
        page.locator('[data-test="add-members"]').click()
        expect(page.locator(".flash-info")).to_have_text(
            t("web.group.members.added", name="Sales", added=5, already=0)
        )
        expect(page.locator('[data-test="member-count"]')).to_have_text("5")
        expect(page.locator("tr[data-member]")).to_have_count(5)

        # Sales gets Business Essentials, whose 2 licenses are taken: every member is in
        # error (CountViolation) until Ariane buys more and reprocesses. The page follows
        # the background processing by reloading itself.
        sales = page.url
        page.locator(
            'form.assign-row[data-sku="BUSINESS_ESSENTIALS"] [data-test="assign-group"]'
        ).click()
        expect(page.locator(".flash-info")).to_have_text(
            t("web.group.licenses.assigned", sku="Business Essentials", name="Sales")
        )
        processing = page.locator('[data-test="processing-state"]')
        expect(processing).to_have_attribute("data-state", "ProcessingComplete", timeout=20_000)
        expect(page.locator("[data-member-in-error]")).to_have_count(5)
        expect(page.locator('[data-member-in-error] [data-test="error-code"]').first).to_have_text(
            "CountViolation"
        )
        screenshot_viewport(page, "admin-groups-en.png")

        page.locator('[data-nav="billing"]').click()
        essentials = page.locator('tr[data-sku="BUSINESS_ESSENTIALS"]')
        essentials.locator('[data-test="manage"]').click()
        essentials.get_by_label(t("web.billing.add")).fill("5")
        essentials.locator('[data-test="add-licenses"]').click()
        expect(page.locator(".flash-info")).to_have_text(
            t("web.billing.added", quantity=5, sku="Business Essentials")
        )
        page.goto(sales)
        page.locator('[data-test="reprocess"]').click()
        expect(page.locator(".flash-info")).to_have_text(
            t("web.group.licenses.reprocessed", name="Sales")
        )
        expect(processing).to_have_attribute("data-state", "ProcessingComplete", timeout=20_000)
        expect(page.locator('[data-test="members-in-error"]')).to_have_count(0)

        page.locator('[data-nav="billing"]').click()
        expect(premium.locator('[data-test="consumed"]')).to_have_text("3")
        essentials_card = page.locator('.license-card[data-sku="BUSINESS_ESSENTIALS"]')
        expect(essentials_card.locator('[data-test="consumed"]')).to_have_text("7")
        screenshot_viewport(page, "admin-billing-en.png")

        # The Users page in French and Dutch, through the language switch.
        page.locator('[data-nav="users"]').click()
        for language in ("fr", "nl"):
            page.locator(f'.lang-switch a[hreflang="{language}"]').click()
            expect(page.locator("html")).to_have_attribute("lang", language)
            expect(page.locator("h1")).to_have_text(translate(language, "web.users.title"))
            expect(page.locator('[data-test="count"]')).to_have_text(
                translate(language, "web.users.count.other", count=49)
            )
            screenshot_viewport(page, f"admin-users-{language}.png")
    finally:
        context.close()
        api.close()


def screenshot_viewport(page: Any, name: str, height: int | None = None) -> None:
    """The top of the page (what the admin sees first; a long list would make a tall picture)."""
    if height is None:
        save_screenshot(page, name)
    else:
        clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height}
        save_screenshot(page, name, full_page=True, clip=clip)
