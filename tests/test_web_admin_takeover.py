"""The "Become the admin" wizard and the admin center's Domains page over plain HTTP."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tenantry.core.i18n import translate
from tests.support.server import LiveServer
from tests.support.stories import PASSWORD, become_admin
from tests.test_web_pages import csrf_token, submit

TXT_VALUE = re.compile(r'data-test="txt-value"[^>]*>(tenantry-verify=[0-9a-f]+)<')


@contextmanager
def sign_in(server: LiveServer, email: str) -> Iterator[httpx.Client]:
    """A browser-like client signed in through the sign-in page."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        signed_in = submit(client, "/signin", "/signin", email=email, password=PASSWORD)
        assert signed_in.status_code == 303, signed_in.text
        yield client


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


def notice_of(page: httpx.Response) -> str:
    found = re.search(r'class="flash flash-info" role="status">([^<]*)<', page.text)
    return html.unescape(found.group(1)) if found else ""


@pytest.fixture()
def ariane(server: LiveServer, stories) -> Iterator[httpx.Client]:
    """Ariane and Alain signed up at contoso.com; Ariane signed in to the pages."""
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    stories.sign_up("alain@contoso.com", "Alain Martin")
    with sign_in(server, "ariane@contoso.com") as client:
        yield client


@pytest.fixture()
def admin_ariane(server: LiveServer, stories, dns_zone) -> Iterator[httpx.Client]:
    """Ariane, Global Administrator of the managed contoso.com (through the API), in the pages."""
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    stories.sign_up("alain@contoso.com", "Alain Martin")
    with stories.client_for("ariane@contoso.com") as api_client:
        assert become_admin(api_client, dns_zone, quantity=2).status_code == 200
    with sign_in(server, "ariane@contoso.com") as client:
        yield client


def test_the_wizard_says_not_found_yet_then_buys_once(ariane, server, dns_zone, database):
    t = translate
    first = ariane.get("/admin/become")
    assert first.status_code == 200
    assert 'data-test="step-2"' in first.text
    assert t("en", "web.become.run.submit") in text_of(first)

    started = submit(ariane, "/admin/become", "/admin/become", entry="admin")
    assert started.status_code == 303 and started.headers["location"] == "/admin/become"
    step3 = ariane.get("/admin/become")
    assert 'data-test="step-3"' in step3.text
    assert re.search(r'data-step="2" data-status="done"', step3.text)
    record = TXT_VALUE.search(step3.text)
    assert record, step3.text
    assert 'data-test="txt-name">@<' in step3.text and 'data-test="txt-ttl">3600<' in step3.text

    # Before the record is published: a friendly notice on the same page, never an error page.
    early = submit(ariane, "/admin/become", "/admin/become/verify")
    assert early.status_code == 200
    assert 'data-test="not-found-yet"' in early.text
    assert "up to an hour" in text_of(early)
    assert TXT_VALUE.search(early.text).group(1) == record.group(1)
    assert t("en", "web.become.confirm.retry") in early.text
    assert "card-error" not in early.text

    # The wizard remembers where she stopped, in a new session too.
    with sign_in(server, "ariane@contoso.com") as again:
        assert 'data-test="step-3"' in again.get("/admin/become").text

    dns_zone.publish("contoso.com", record.group(1))
    found = submit(ariane, "/admin/become", "/admin/become/verify")
    assert found.status_code == 303 and found.headers["location"] == "/admin/become"
    step4 = ariane.get("/admin/become")
    assert 'data-test="step-4"' in step4.text
    assert "contoso.com is confirmed" in notice_of(step4)
    assert 'name="quantity" value="2" min="2"' in step4.text
    assert "Business Essentials" in step4.text and "Business Premium" not in step4.text
    assert notice_of(ariane.get("/admin/become")) == ""  # the notice is shown once

    too_few = submit(
        ariane, "/admin/become", "/admin/become/complete", sku="BUSINESS_ESSENTIALS", quantity="1"
    )
    assert too_few.status_code == 400
    assert "Buy at least 2 licenses" in text_of(too_few)
    not_a_number = submit(
        ariane, "/admin/become", "/admin/become/complete", sku="BUSINESS_ESSENTIALS", quantity="x"
    )
    assert not_a_number.status_code == 400
    assert "at least 2 licenses" in text_of(not_a_number)
    assert database.scalar("SELECT count(*) FROM subscriptions") == 0

    # A double submit of the same rendered form buys once.
    form_page = ariane.get("/admin/become")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form_page.text).group(1)
    fields = {
        "csrf_token": csrf_token(form_page),
        "idempotency_key": key,
        "sku": "BUSINESS_ESSENTIALS",
        "quantity": "2",
        "country": "fr",
    }
    for _ in range(2):
        bought = ariane.post("/admin/become/complete", data=fields)
        assert bought.status_code == 303 and bought.headers["location"] == "/admin/become/done"
    assert database.scalar("SELECT count(*) FROM subscriptions") == 1
    assert database.scalar("SELECT quantity FROM subscriptions") == 2
    assert database.scalar("SELECT count(*) FROM license_assignments") == 2

    done = ariane.get("/admin/become/done")
    assert done.status_code == 200
    assert t("en", "web.become.done.title") in done.text
    assert "You are the Global Administrator of contoso.com." in done.text
    assert 'href="/admin/domains"' in done.text
    assert "2 of 2 licenses assigned" in done.text
    # Coming back to the wizard leads to the end, and home links to the admin center.
    assert ariane.get("/admin/become").headers["location"] == "/admin/become/done"
    assert 'href="/admin"' in ariane.get("/").text


def test_a_dns_failure_is_reported_as_such(ariane, dns_zone):
    submit(ariane, "/admin/become", "/admin/become", entry="admin")
    dns_zone.fail("contoso.com")
    failed = submit(ariane, "/admin/become", "/admin/become/verify")
    assert failed.status_code == 503
    assert 'data-test="step-3"' in failed.text  # still the wizard, with the record
    assert translate("en", "error.dnsServerFailure") in text_of(failed)
    assert 'data-test="not-found-yet"' not in failed.text

    ariane.cookies.set("lang", "nl")
    in_dutch = submit(ariane, "/admin/become", "/admin/become/verify")
    assert translate("nl", "error.dnsServerFailure") in text_of(in_dutch)


def test_the_upgrade_entry_offers_both_plans(ariane, stories):
    home = ariane.get("/")
    assert 'href="/admin/become?entry=upgrade"' in home.text
    page = ariane.get("/admin/become", params={"entry": "upgrade"})
    assert "Business Essentials, Business Premium" in page.text
    assert 'name="entry" value="upgrade"' in page.text
    submit(ariane, "/admin/become?entry=upgrade", "/admin/become", entry="upgrade")
    with stories.client_for("ariane@contoso.com") as api_client:
        state = api_client.get("/v1/organization/becomeAdmin").json()
    assert state["entryPoint"] == "upgrade"
    assert [o["skuPartNumber"] for o in state["offers"]] == [
        "BUSINESS_ESSENTIALS",
        "BUSINESS_PREMIUM",
    ]


def test_an_organization_with_an_admin_offers_nothing(admin_ariane, server, database):
    with sign_in(server, "alain@contoso.com") as alain:
        page = alain.get("/admin/become")
        assert page.status_code == 200
        assert 'data-test="already-managed"' in page.text
        assert "contoso.com already has an administrator" in page.text
        assert "Ariane Dupont" in page.text
        assert 'action="/admin/become' not in page.text  # no form at all

        tried = submit(alain, "/admin/become", "/admin/become", entry="admin")
        assert tried.status_code == 303 and tried.headers["location"] == "/admin/become"
        claims = database.scalar(
            "SELECT count(*) FROM admin_claims c JOIN users u ON u.id = c.user_id"
            " WHERE u.user_principal_name = 'alain@contoso.com'"
        )
        assert claims == 0

        # Members who are not administrators do not enter the admin center.
        for path in ("/admin", "/admin/domains", "/admin/domains/contoso.com"):
            denied = alain.get(path)
            assert denied.status_code == 403, path
            assert translate("en", "web.admin.denied") in denied.text
        assert alain.get("/admin/become/done").headers["location"] == "/admin/become"


def test_members_of_an_unmanaged_organization_see_how_to_become_the_admin(ariane):
    for path in ("/admin", "/admin/domains"):
        page = ariane.get(path)
        assert page.status_code == 403
        assert 'data-test="tenant-unmanaged"' in page.text
        assert translate("en", "error.tenantUnmanaged") in text_of(page)
        assert 'href="/admin/become"' in page.text
    ariane.cookies.set("lang", "fr")
    assert translate("fr", "error.tenantUnmanaged") in text_of(ariane.get("/admin"))


def test_signed_out_visitors_are_sent_to_sign_in(server):
    with httpx.Client(base_url=server.url, timeout=30) as visitor:
        for path in ("/admin", "/admin/domains", "/admin/become", "/admin/become?entry=upgrade"):
            page = visitor.get(path)
            assert page.status_code == 303
            assert page.headers["location"].startswith("/signin?next=%2Fadmin")


def test_wizard_and_domain_forms_need_their_csrf_token(server, stories, dns_zone, database):
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    with sign_in(server, "ariane@contoso.com") as ariane:
        ariane.get("/admin/become")  # holds a csrf cookie and a session, but no token is sent
        for action, fields in (
            ("/admin/become", {"entry": "admin"}),
            ("/admin/become/verify", {}),
            ("/admin/become/complete", {"sku": "BUSINESS_ESSENTIALS", "quantity": "5"}),
        ):
            for forged in ({}, {"csrf_token": "0" * 64}):
                refused = ariane.post(action, data={**fields, **forged})
                assert refused.status_code == 403, action
                assert translate("en", "error.csrfTokenInvalid") in text_of(refused)
        assert database.scalar("SELECT count(*) FROM admin_claims") == 0

    with stories.client_for("ariane@contoso.com") as api_client:
        assert become_admin(api_client, dns_zone).status_code == 200
        assert api_client.post("/v1/domains", json={"id": "fabrikam.com"}).status_code == 201
    dns_zone.publish("fabrikam.com", "anything")
    before = database.rows("SELECT name, is_verified, is_default FROM domains ORDER BY name")
    with sign_in(server, "ariane@contoso.com") as ariane:
        ariane.get("/admin/domains")
        for action, fields in (
            ("/admin/domains", {"name": "northwind.com"}),
            ("/admin/domains/fabrikam.com/verify", {}),
            ("/admin/domains/contoso.com/default", {}),
            ("/admin/domains/fabrikam.com/remove", {"force": "on"}),
        ):
            for forged in ({}, {"csrf_token": "0" * 64}):
                assert ariane.post(action, data={**fields, **forged}).status_code == 403, action
    after = database.rows("SELECT name, is_verified, is_default FROM domains ORDER BY name")
    assert after == before


def test_an_admin_adds_verifies_defaults_and_removes_domains(
    admin_ariane, stories, dns_zone, database, server
):
    # Nina signed up on her own at fabrikam.com: an unmanaged organization of one.
    stories.sign_up("nina@fabrikam.com", "Nina Jansen")

    page = admin_ariane.get("/admin/domains")
    assert page.status_code == 200
    assert 'aria-current="page">Domains<' in page.text
    rows = dict(re.findall(r'<tr data-domain="([^"]+)">(.*?)</tr>', page.text, re.S))
    assert set(rows) == {"contoso.com", "contoso.tenantry.localhost"}
    assert (
        'data-status="verified"' in rows["contoso.com"]
        and 'data-test="default"' in rows["contoso.com"]
    )
    assert 'data-test="initial"' in rows["contoso.tenantry.localhost"]

    for name, expected in (
        ("co.uk", "not a domain an organization can own"),
        ("192.0.2.1", "That is an IP address"),
        ("not a domain", "not a valid domain name"),
    ):
        refused = submit(admin_ariane, "/admin/domains", "/admin/domains", name=name)
        assert refused.status_code == 400, name
        assert expected in text_of(refused)
        assert f'value="{name}"' in refused.text

    added = submit(admin_ariane, "/admin/domains", "/admin/domains", name="Fabrikam.com")
    assert added.status_code == 303 and added.headers["location"] == "/admin/domains/fabrikam.com"
    detail = admin_ariane.get("/admin/domains/fabrikam.com")
    assert "fabrikam.com was added" in notice_of(detail)
    value = TXT_VALUE.search(detail.text).group(1)

    not_yet = submit(
        admin_ariane, "/admin/domains/fabrikam.com", "/admin/domains/fabrikam.com/verify"
    )
    assert not_yet.status_code == 200
    assert 'data-test="not-found-yet"' in not_yet.text

    dns_zone.publish("fabrikam.com", value)
    verified = submit(
        admin_ariane, "/admin/domains/fabrikam.com", "/admin/domains/fabrikam.com/verify"
    )
    assert verified.status_code == 303 and verified.headers["location"] == "/admin/domains"
    listing = admin_ariane.get("/admin/domains")
    said = notice_of(listing)
    assert "fabrikam.com is verified" in said and "1 person moved into yours" in said
    assert (
        database.scalar(
            "SELECT t.display_name FROM users u JOIN tenants t ON t.id = u.tenant_id"
            " WHERE u.user_principal_name = 'nina@fabrikam.com'"
        )
        == "contoso.com"
    )

    made = submit(admin_ariane, "/admin/domains", "/admin/domains/fabrikam.com/default")
    assert made.status_code == 303
    listing = admin_ariane.get("/admin/domains")
    assert "fabrikam.com is now the default domain" in notice_of(listing)
    rows = dict(re.findall(r'<tr data-domain="([^"]+)">(.*?)</tr>', listing.text, re.S))
    assert 'data-test="default"' in rows["fabrikam.com"]
    assert 'data-test="default"' not in rows["contoso.com"]

    # Refusals say why, translated.
    in_use = submit(
        admin_ariane, "/admin/domains/contoso.com/remove", "/admin/domains/contoso.com/remove"
    )
    assert in_use.status_code == 409
    assert "Users with an address at this domain: 2" in text_of(in_use)
    assert "Your own address is at contoso.com" in text_of(in_use)
    admin_ariane.cookies.set("lang", "fr")
    is_default = submit(
        admin_ariane, "/admin/domains/fabrikam.com/remove", "/admin/domains/fabrikam.com/remove"
    )
    assert is_default.status_code == 409
    assert translate("fr", "error.domainIsDefault") in text_of(is_default)
    admin_ariane.cookies.set("lang", "en")

    # Forced removal: Nina moves to the initial domain, disabled.
    submit(admin_ariane, "/admin/domains", "/admin/domains/contoso.com/default")
    confirm = admin_ariane.get("/admin/domains/fabrikam.com/remove")
    assert "1 user has an address at fabrikam.com" in confirm.text
    assert "contoso.tenantry.localhost" in confirm.text
    forced = submit(
        admin_ariane,
        "/admin/domains/fabrikam.com/remove",
        "/admin/domains/fabrikam.com/remove",
        force="on",
    )
    assert forced.status_code == 303
    assert "disabled: 1" in notice_of(admin_ariane.get("/admin/domains"))
    assert database.rows(
        "SELECT user_principal_name, account_enabled FROM users WHERE display_name = 'Nina Jansen'"
    ) == [("nina@contoso.tenantry.localhost", False)]

    # Names that are not the organization's are simply not found.
    assert admin_ariane.get("/admin/domains/fabrikam.com").status_code == 404
    assert admin_ariane.get("/admin/domains/northwind.com/remove").status_code == 404
    gone = submit(admin_ariane, "/admin/domains", "/admin/domains/northwind.com/default")
    assert gone.status_code == 404
