"""The operators' pages over real HTTP: every partner account (state filter, search, pages),
one account's approve / reject / suspend / reactivate, reserved names, agreement versions;
a 404 for anyone who is not an operator."""

from __future__ import annotations

import html
import re
import time

import pytest

from tenantry.core.i18n import translate
from tenantry.partner.pages import operator as operator_pages
from tests.support.admin import make_global_admin
from tests.support.partner import enroll
from tests.test_partner_operators import run
from tests.test_web_admin_takeover import notice_of, sign_in

ORGANIZATIONS = (
    ("ariane@contoso.com", "Contoso Labs"),
    ("admin@fabrikam.com", "Fabrikam Studio"),
    ("admin@tailspin.com", "Tailspin Toys"),
)


def token_of(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]


def listed(page) -> list[str]:
    return [html.unescape(name) for name in re.findall(r'data-account="([^"]+)"', page.text)]


@pytest.fixture()
def partner_accounts(stories, database) -> dict[str, str]:
    """Three organizations enrolled, oldest first; Olga the operator; their ids by name."""
    ids = {}
    for email, publisher in ORGANIZATIONS:
        stories.sign_up(email, email.split("@")[0].title())
        make_global_admin(database, email)
        ids[publisher] = enroll(stories.client_for(email), publisher)["id"]
    stories.sign_up("olga@tenantry-ops.com", "Olga Operator")
    run(database, "operator", "add", "olga@tenantry-ops.com")
    return ids


def test_only_operators_see_the_operators_pages(partner_accounts, server):
    contoso = partner_accounts["Contoso Labs"]
    with sign_in(server, "ariane@contoso.com") as ariane:
        token = token_of(ariane.get("/partner"))
        assert 'href="/operator/partners"' not in ariane.get("/partner").text
        for path in (
            "/operator/partners",
            f"/operator/partners/{contoso}",
            "/operator/reserved",
            "/operator/agreements",
        ):
            assert ariane.get(path).status_code == 404, path
        for path in (
            f"/operator/partners/{contoso}/approve",
            "/operator/reserved",
            "/operator/reserved/remove",
        ):
            refused = ariane.post(path, data={"csrf_token": token, "publisher_name": "X"})
            assert refused.status_code == 404, path
        assert "pendingApproval" in ariane.get("/partner").text


def test_an_operator_finds_approves_suspends_and_reactivates(
    partner_accounts, server, database, smtp, monkeypatch
):
    t = lambda key, **params: translate("en", key, **params)  # noqa: E731
    monkeypatch.setattr(operator_pages, "PAGE_SIZE", 2)
    with sign_in(server, "olga@tenantry-ops.com") as olga:
        home = olga.get("/partner")
        assert 'href="/operator/partners"' in home.text
        first = olga.get("/operator/partners")
        assert listed(first) == ["Tailspin Toys", "Fabrikam Studio"]  # newest first
        next_path = html.unescape(re.search(r'href="([^"]+)" data-test="next-page"', first.text)[1])
        assert listed(olga.get(next_path)) == ["Contoso Labs"]
        assert listed(olga.get("/operator/partners", params={"q": "STUDIO"})) == ["Fabrikam Studio"]
        assert listed(olga.get("/operator/partners", params={"q": "contoso.com"})) == [
            "Contoso Labs"
        ]  # by organization name too
        assert (
            'data-test="no-accounts"' in olga.get("/operator/partners", params={"q": "100%_"}).text
        )

        contoso = f"/operator/partners/{partner_accounts['Contoso Labs']}"
        detail = olga.get(contoso)
        assert detail.status_code == 200 and "contoso.com" in detail.text
        assert re.findall(r'data-move="(\w+)"', detail.text) == ["approve", "reject"]
        token = token_of(detail)
        approved = olga.post(f"{contoso}/approve", data={"csrf_token": token})
        assert approved.status_code == 303
        page = olga.get(contoso)
        assert notice_of(page) == t("partner.operator.moved.active", publisher="Contoso Labs")
        assert 'data-state="active"' in page.text
        assert re.findall(r'data-move="(\w+)"', page.text) == ["suspend"]
        # Every enrollment here named Ariane as contact: hers is the one about Contoso Labs.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(
            m.subject == "Your partner account Contoso Labs is active"
            for m in smtp.to("ariane@contoso.com")
        ):
            time.sleep(0.05)
        assert "Your partner account Contoso Labs is active" in [
            m.subject for m in smtp.to("ariane@contoso.com")
        ]

        # A move the state does not allow is refused on the page.
        refused = olga.post(f"{contoso}/reject", data={"csrf_token": token})
        assert refused.status_code == 409 and 'data-test="error"' in refused.text

        assert olga.post(f"{contoso}/suspend", data={"csrf_token": token}).status_code == 303
        suspended = olga.get(contoso)
        assert 'data-state="suspended"' in suspended.text
        assert t("partner.state_meaning.suspended") in html.unescape(suspended.text)
        assert f">{t('partner.operator.move.reactivate')}<" in suspended.text
        assert listed(olga.get("/operator/partners", params={"state": "suspended"})) == [
            "Contoso Labs"
        ]
        assert olga.post(f"{contoso}/approve", data={"csrf_token": token}).status_code == 303
        assert 'data-state="active"' in olga.get(contoso).text
        assert olga.get("/operator/partners/not-an-id").status_code == 404
    actions = [
        row[0]
        for row in database.rows(
            "SELECT action FROM audit_events WHERE action LIKE 'partnerAccount.%' "
            "AND action != 'partnerAccount.enrolled' ORDER BY occurred_at"
        )
    ]
    assert actions == [
        "partnerAccount.approved",
        "partnerAccount.suspended",
        "partnerAccount.approved",
    ]


def test_an_operator_keeps_the_reserved_names_and_reads_the_agreements(
    partner_accounts, server, database
):
    with sign_in(server, "olga@tenantry-ops.com") as olga:
        token = token_of(olga.get("/operator/reserved"))
        added = olga.post(
            "/operator/reserved", data={"csrf_token": token, "publisher_name": "Northwind"}
        )
        assert added.status_code == 303
        page = olga.get("/operator/reserved")
        assert 'data-name="Northwind"' in page.text
        twice = olga.post(
            "/operator/reserved", data={"csrf_token": token, "publisher_name": "NORTHWIND"}
        )
        assert twice.status_code == 409
        assert translate("en", "partner.error.reservedNameExists") in html.unescape(twice.text)
        removed = olga.post(
            "/operator/reserved/remove", data={"csrf_token": token, "publisher_name": "Northwind"}
        )
        assert removed.status_code == 303
        assert 'data-name="Northwind"' not in olga.get("/operator/reserved").text
        assert database.scalar("SELECT count(*) FROM reserved_publisher_names") == 0

        agreements = olga.get("/operator/agreements", headers={"Accept-Language": "fr"})
        assert re.search(
            r'data-version="tenantry-default-1">.*?data-test="current"', agreements.text, re.S
        )
        assert "Contrat de collaboration" in html.unescape(agreements.text)
