"""The admin center's Users, Groups, Billing, Roles and Audit log pages over plain HTTP."""

from __future__ import annotations

import base64
import csv
import io
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import insert, select, text

from tenantry.core.clock import clock
from tenantry.core.i18n import catalog, translate
from tenantry.directory.constants import Role
from tenantry.directory.models import RoleAssignment, User
from tests.support.admin import make_global_admin
from tests.support.licensing import ESSENTIALS, PREMIUM, buy, user_id_of
from tests.support.server import LiveServer
from tests.test_web_admin_takeover import notice_of, sign_in, text_of
from tests.test_web_pages import csrf_token, submit

PAGES = ("users", "groups", "billing", "domains", "roles", "audit")


@dataclass
class Organization:
    """contoso.com with Ariane (Global Administrator, in the pages) and Alain (a member)."""

    ariane: httpx.Client
    api: httpx.Client
    alain_id: str


@pytest.fixture()
def contoso(server: LiveServer, stories, database) -> Iterator[Organization]:
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    stories.sign_up("alain@contoso.com", "Alain Martin")
    make_global_admin(database, "ariane@contoso.com")
    with (
        stories.client_for("ariane@contoso.com") as api,
        sign_in(server, "ariane@contoso.com") as ariane,
    ):
        yield Organization(
            ariane=ariane, api=api, alain_id=user_id_of(database, "alain@contoso.com")
        )


@contextmanager
def as_alain(server: LiveServer, database, role: Role | None) -> Iterator[httpx.Client]:
    if role is not None:
        make_global_admin(database, "alain@contoso.com", role=role)
    with sign_in(server, "alain@contoso.com") as alain:
        yield alain


def error_of(page: httpx.Response) -> str:
    found = re.search(r'role="alert" data-test="error">([^<]*)<', page.text)
    return text_of(page) if found is None else found.group(1).replace("&#39;", "'")


def test_every_section_is_a_page_in_every_language(contoso):
    home = contoso.ariane.get("/admin")
    assert home.status_code == 200
    for key in PAGES:
        assert f'href="/admin/{key}" data-nav="{key}"' in home.text
    assert "admin-nav-soon" not in home.text
    for path in (
        "/admin/users",
        "/admin/users/new",
        "/admin/users/import",
        "/admin/users/message",
        f"/admin/users/{contoso.alain_id}",
        "/admin/groups",
        "/admin/billing",
        "/admin/roles",
        "/admin/audit",
    ):
        for language in ("en", "fr", "nl"):
            contoso.ariane.cookies.set("lang", language)
            page = contoso.ariane.get(path)
            assert page.status_code == 200, (path, language)
            assert f'<html lang="{language}">' in page.text
    # Every admin center message exists in French and Dutch too.
    english = {key for key in catalog("en") if key.startswith("web.")}
    for language in ("fr", "nl"):
        assert english - set(catalog(language)) == set(), language


def test_each_page_admits_the_roles_of_its_api_route(contoso, server, database):
    with as_alain(server, database, None) as alain:  # a member, no admin role
        for path in ("/admin", "/admin/users", "/admin/groups", "/admin/billing", "/admin/audit"):
            assert alain.get(path).status_code == 403, path
    with as_alain(server, database, Role.LICENSE_ADMINISTRATOR) as alain:
        for path in (
            "/admin",
            "/admin/users",
            "/admin/billing",
            "/admin/roles",
            "/admin/audit",
            f"/admin/users/{contoso.alain_id}",
        ):
            assert alain.get(path).status_code == 200, path
        for path in (
            "/admin/users/new",
            "/admin/users/import",
            "/admin/users/message",
            "/admin/domains",
        ):
            refused = alain.get(path)
            assert refused.status_code == 403, path
            assert translate("en", "web.admin.denied") in text_of(refused)
        users = alain.get("/admin/users")
        assert 'data-test="add-user"' not in users.text
        ariane_page = alain.get(f"/admin/users/{user_id_of(database, 'ariane@contoso.com')}")
        assert 'data-test="block"' not in ariane_page.text  # changing users: User Administrator
        billing = alain.get("/admin/billing")
        assert 'data-test="buy"' not in billing.text  # buying: Billing Administrator
        assert 'data-test="remove-role"' not in alain.get("/admin/roles").text
        # Posting anyway is refused by the same check.
        bought = alain.post(
            "/admin/billing",
            data={"csrf_token": csrf_token(billing), "sku": "BUSINESS_PREMIUM", "quantity": "5"},
        )
        assert bought.status_code == 403
        added = alain.post(
            "/admin/users",
            data={
                "csrf_token": csrf_token(users),
                "display_name": "X",
                "username": "x",
                "domain": "contoso.com",
            },
        )
        assert added.status_code == 403
    assert database.scalar("SELECT count(*) FROM subscriptions") == 0
    assert database.scalar("SELECT count(*) FROM users") == 2
    with httpx.Client(base_url=server.url) as visitor:
        for key in PAGES:
            assert visitor.get(f"/admin/{key}").headers["location"].startswith("/signin?next=")


def test_only_a_global_administrator_changes_another_administrator(contoso, server, database):
    ariane_page = f"/admin/users/{user_id_of(database, 'ariane@contoso.com')}"
    with as_alain(server, database, Role.USER_ADMINISTRATOR) as alain:
        alain.cookies.set("lang", "fr")
        refused = submit(alain, ariane_page, f"{ariane_page}/password")
        assert refused.status_code == 403
        assert error_of(refused) == translate("fr", "error.adminProtected")
        assert 'data-test="temporary-password"' not in refused.text


def test_every_form_needs_its_csrf_token(contoso, database):
    contoso.ariane.get("/admin/users")
    alain = contoso.alain_id
    for action, fields in (
        ("/admin/users", {"display_name": "Chloé", "username": "chloe", "domain": "contoso.com"}),
        (f"/admin/users/{alain}", {"display_name": "Alain", "usage_location": "FR"}),
        (f"/admin/users/{alain}/signin", {"enabled": "false"}),
        (f"/admin/users/{alain}/password", {}),
        (f"/admin/users/{alain}/delete", {}),
        (f"/admin/users/{alain}/licenses", {"sku": str(ESSENTIALS.sku_id)}),
        ("/admin/users/message", {"subject": "Hi", "body": "Hello"}),
        ("/admin/groups", {"display_name": "Sales"}),
        ("/admin/billing", {"sku": "BUSINESS_PREMIUM", "quantity": "5"}),
        ("/admin/roles/UserAdministrator/members", {"address": "alain@contoso.com"}),
    ):
        for forged in ({}, {"csrf_token": "0" * 64}):
            refused = contoso.ariane.post(action, data={**fields, **forged})
            assert refused.status_code == 403, action
            assert translate("en", "error.csrfTokenInvalid") in text_of(refused)
    upload = contoso.ariane.post(
        "/admin/users/import", files={"file": ("u.csv", b"userPrincipalName,displayName\n")}
    )
    assert upload.status_code == 403
    assert database.scalar("SELECT count(*) FROM users") == 2
    assert database.scalar("SELECT count(*) FROM groups") == 0
    assert database.scalar("SELECT count(*) FROM subscriptions") == 0
    assert database.scalar("SELECT count(*) FROM role_assignments") == 1
    assert database.scalar("SELECT count(*) FROM outbox_messages WHERE subject = 'Hi'") == 0


def test_ariane_adds_a_user_then_licenses_resets_blocks_and_deletes_them(
    contoso, stories, database
):
    ariane = contoso.ariane
    buy(contoso.api, "BUSINESS_PREMIUM", 1)
    form = {
        "display_name": "Chloé Dubois",
        "given_name": "Chloé",
        "surname": "Dubois",
        "username": "chloe",
        "domain": "contoso.com",
        "password_mode": "generate",
    }

    # Refusals keep what was typed and say why, in the page language.
    elsewhere = submit(
        ariane, "/admin/users/new", "/admin/users", **{**form, "username": "chloe@fabrikam.com"}
    )
    assert elsewhere.status_code == 400
    assert error_of(elsewhere) == translate("en", "web.admin.error.invalidUserPrincipalNameDomain")
    assert (
        'value="chloe@fabrikam.com"' in elsewhere.text and 'value="Chloé Dubois"' in elsewhere.text
    )
    ariane.cookies.set("lang", "fr")
    country = submit(ariane, "/admin/users/new", "/admin/users", **form, usage_location="France")
    assert country.status_code == 400
    assert error_of(country) == translate("fr", "error.invalidCountryCode", value="France")
    ariane.cookies.set("lang", "en")
    no_location = submit(
        ariane, "/admin/users/new", "/admin/users", **form, sku=str(PREMIUM.sku_id)
    )
    assert no_location.status_code == 400
    assert "License assignment cannot be done for user with invalid usage location" in error_of(
        no_location
    )
    assert (
        database.scalar(
            "SELECT count(*) FROM users WHERE user_principal_name = 'chloe@contoso.com'"
        )
        == 0
    )

    created = submit(
        ariane,
        "/admin/users/new",
        "/admin/users",
        **form,
        usage_location="be",
        sku=str(PREMIUM.sku_id),
    )
    assert created.status_code == 201, error_of(created)
    password = re.search(r'data-test="temporary-password">([^<]+)<', created.text).group(1)
    chloe_id = user_id_of(database, "chloe@contoso.com")
    assert stories.token("chloe@contoso.com", password)  # the shown password signs her in
    page = ariane.get(f"/admin/users/{chloe_id}")
    assert 'data-test="usage-location">BE<' in page.text
    row = re.search(r'<tr data-license="[^"]+" data-source="direct">(.*?)</tr>', page.text, re.S)
    assert "Business Premium" in row.group(1) and 'data-test="state">Active<' in row.group(1)

    # The last Premium license is taken: giving one to Alain says so.
    alain_page = f"/admin/users/{contoso.alain_id}"
    submit(ariane, alain_page, alain_page, display_name="Alain Martin", usage_location="FR")
    refused = submit(ariane, alain_page, f"{alain_page}/licenses", sku=str(PREMIUM.sku_id))
    assert refused.status_code == 409
    assert error_of(refused) == translate("en", "web.admin.error.CountViolation", prepaidUnits=1)

    # Service plans: switch Files off.
    files = next(p for p in PREMIUM.service_plans if p.name == "FILES")
    plans = [str(p.service_plan_id) for p in PREMIUM.service_plans if p is not files]
    page = ariane.get(f"/admin/users/{chloe_id}")
    changed = ariane.post(
        f"/admin/users/{chloe_id}/licenses",
        data={"csrf_token": csrf_token(page), "sku": str(PREMIUM.sku_id), "plan": plans},
    )
    assert changed.status_code == 303
    assert "Chloé Dubois now has Business Premium" in notice_of(
        ariane.get(f"/admin/users/{chloe_id}")
    )
    details = contoso.api.get(f"/v1/users/{chloe_id}/licenseDetails").json()["value"][0]
    assert {p["servicePlanName"]: p["provisioningStatus"] for p in details["servicePlans"]}[
        "FILES"
    ] == "Disabled"

    # Reset: a new temporary password, shown once; the old one stops working.
    reset = submit(ariane, f"/admin/users/{chloe_id}", f"/admin/users/{chloe_id}/password")
    assert reset.status_code == 200
    fresh = re.search(r'data-test="temporary-password">([^<]+)<', reset.text).group(1)
    assert fresh != password
    assert (
        stories.api.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": "chloe@contoso.com", "password": password},
        ).status_code
        == 400
    )
    assert stories.token("chloe@contoso.com", fresh)
    assert 'data-test="temporary-password"' not in ariane.get(f"/admin/users/{chloe_id}").text

    # Block, then delete: her license returns to the pool.
    blocked = submit(
        ariane, f"/admin/users/{chloe_id}", f"/admin/users/{chloe_id}/signin", enabled="false"
    )
    assert blocked.status_code == 303
    page = ariane.get(f"/admin/users/{chloe_id}")
    assert "Chloé Dubois can no longer sign in" in notice_of(page)
    assert 'data-status="blocked"' in page.text
    deleted = submit(ariane, f"/admin/users/{chloe_id}/delete", f"/admin/users/{chloe_id}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/admin/users"
    assert "Chloé Dubois was deleted" in notice_of(ariane.get("/admin/users"))
    assert ariane.get(f"/admin/users/{chloe_id}").status_code == 404
    assert (
        database.scalar(
            "SELECT consumed_units FROM subscribed_skus WHERE sku_part_number = 'BUSINESS_PREMIUM'"
        )
        == 0
    )

    # Ariane cannot block herself out: the last Global Administrator.
    ariane_id = user_id_of(database, "ariane@contoso.com")
    own = submit(
        ariane, f"/admin/users/{ariane_id}", f"/admin/users/{ariane_id}/signin", enabled="false"
    )
    assert own.status_code == 409
    assert error_of(own) == translate("en", "web.admin.error.lastGlobalAdministrator")


def test_the_users_list_searches_filters_and_pages(contoso, database):
    ariane = contoso.ariane
    rows = ["userPrincipalName,displayName,usageLocation,accountEnabled"]
    rows += [
        f"user{n:02}@contoso.com,User {n:02},{'BE' if n % 2 else 'FR'},{'No' if n == 7 else 'Yes'}"
        for n in range(30)
    ]
    report = ariane.post(
        "/admin/users/import",
        data={"csrf_token": csrf_token(ariane.get("/admin/users/import"))},
        files={"file": ("users.csv", "\n".join(rows).encode(), "text/csv")},
    )
    assert report.status_code == 200
    first = ariane.get("/admin/users")
    assert 'data-test="count">32 users<' in first.text
    assert len(re.findall(r"<tr data-user=", first.text)) == 25
    following = re.search(r'href="([^"]+)" data-test="next-page"', first.text).group(1)
    second = ariane.get(following.replace("&amp;", "&"))
    assert len(re.findall(r"<tr data-user=", second.text)) == 7
    assert not set(re.findall(r'data-user="([^"]+)"', first.text)) & set(
        re.findall(r'data-user="([^"]+)"', second.text)
    )

    blocked = ariane.get("/admin/users", params={"status": "blocked"})
    assert re.findall(r'data-user="([^"]+)"', blocked.text) == ["user07@contoso.com"]
    belgians = ariane.get("/admin/users", params={"location": "be", "status": "enabled"})
    assert 'data-test="count">14 users<' in belgians.text
    found = ariane.get("/admin/users", params={"q": "user 1"})  # words start with "user", "1"
    assert re.findall(r'data-user="([^"]+)"', found.text) == [
        f"user{n}@contoso.com" for n in range(10, 20)
    ]
    bad = ariane.get("/admin/users", params={"location": "Belgium"})
    assert bad.status_code == 400
    assert error_of(bad) == translate("en", "error.invalidCountryCode", value="Belgium")
    assert 'value="BELGIUM"' in bad.text


def test_the_csv_import_reports_each_row_and_offers_a_template(contoso, database):
    ariane = contoso.ariane
    template = ariane.get("/admin/users/import/template.csv")
    assert template.status_code == 200 and template.headers["content-type"].startswith("text/csv")
    assert template.text.lstrip("\ufeff").splitlines()[0] == (
        "userPrincipalName,displayName,givenName,surname,usageLocation,password,accountEnabled"
    )
    data = (
        "userPrincipalName;displayName;usageLocation\n"
        "chloe@contoso.com;Chloé Dubois;FR\n"
        "alain@contoso.com;Alain Again;FR\n"
        "lea@contoso.com;Léa Petit;Belgique\n"
        "not-an-address;Nobody;FR\n"
    ).encode()
    page = ariane.get("/admin/users/import")
    ariane.cookies.set("lang", "nl")
    report = ariane.post(
        "/admin/users/import",
        data={"csrf_token": csrf_token(page)},
        files={"file": ("people.csv", data, "text/csv")},
    )
    assert report.status_code == 200
    assert re.search(r'data-test="total">4<', report.text) and re.search(
        r'data-test="created">1<', report.text
    )
    assert re.search(r'data-test="failed">3<', report.text)
    outcomes = dict(re.findall(r'<tr data-row="(\d+)" data-outcome="(\w+)"', report.text))
    assert outcomes == {"1": "created", "2": "failed", "3": "failed", "4": "failed"}
    messages = re.findall(r'data-test="message">([^<]*)<', report.text)
    assert messages == [
        translate("nl", "web.admin.error.userAlreadyExists", address="alain@contoso.com"),
        translate("nl", "error.invalidCountryCode", value="Belgique"),
        translate("nl", "web.admin.error.invalidUserPrincipalName"),
    ]
    assert 'download="import-report.csv"' in report.text
    assert database.scalar("SELECT count(*) FROM users") == 3

    ariane.cookies.set("lang", "en")
    empty = ariane.post(
        "/admin/users/import",
        data={"csrf_token": csrf_token(page)},
        files={"file": ("x.csv", b"name,mail\nA,a@contoso.com\n", "text/csv")},
    )
    assert empty.status_code == 400
    assert error_of(empty) == translate("en", "web.admin.error.invalidCsv")
    nothing = ariane.post("/admin/users/import", data={"csrf_token": csrf_token(page)})
    assert nothing.status_code == 400 and error_of(nothing) == translate("en", "web.import.no_file")


def test_the_import_report_download_never_holds_a_formula(contoso):
    # A spreadsheet runs a cell starting with = + - @ (or a tab or CR): the report repeats
    # what the file said, so each such cell is written as text (a leading ').
    ariane = contoso.ariane
    data = (
        "userPrincipalName,displayName\n"
        '"=HYPERLINK(""http://evil.example"",""x"")",Formula\n'
        "+1@contoso.com,Plus\n"
        "-2@contoso.com,Minus\n"
        "@3,At\n"
        "chloe@contoso.com,Chloé\n"
    ).encode()
    page = ariane.get("/admin/users/import")
    report = ariane.post(
        "/admin/users/import",
        data={"csrf_token": csrf_token(page)},
        files={"file": ("people.csv", data, "text/csv")},
    )
    assert report.status_code == 200
    link = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', report.text)
    assert link is not None
    rows = list(csv.reader(io.StringIO(base64.b64decode(link.group(1)).decode("utf-8-sig"))))
    assert rows[0][:3] == ["row", "userPrincipalName", "status"]
    addresses = [row[1] for row in rows[1:]]
    assert addresses[:4] == [
        '\'=HYPERLINK("http://evil.example","x")',
        "'+1@contoso.com",
        "'-2@contoso.com",
        "'@3",
    ]
    assert addresses[4] == "chloe@contoso.com"
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_groups_are_created_and_members_added_by_address(contoso, database):
    ariane = contoso.ariane
    unnamed = submit(ariane, "/admin/groups", "/admin/groups", display_name=" ", description="x")
    assert unnamed.status_code == 400
    created = submit(
        ariane, "/admin/groups", "/admin/groups", display_name="Sales", description="Europe"
    )
    assert created.status_code == 303
    group = created.headers["location"]
    assert "The group Sales was created" in notice_of(ariane.get(group))

    unknown = submit(
        ariane, group, f"{group}/members", addresses="alain@contoso.com, nobody@contoso.com"
    )
    assert unknown.status_code == 404
    assert "nobody@contoso.com" in error_of(unknown) and "alain@contoso.com" not in error_of(
        unknown
    )
    assert "nobody@contoso.com" in unknown.text  # the input is kept
    assert database.scalar("SELECT count(*) FROM group_members") == 0

    added = submit(
        ariane, group, f"{group}/members", addresses="ALAIN@contoso.com\nariane@contoso.com;"
    )
    assert added.status_code == 303
    page = ariane.get(group)
    assert "Added to Sales: 2." in notice_of(page)
    assert sorted(re.findall(r'data-member="([^"]+)"', page.text)) == [
        "alain@contoso.com",
        "ariane@contoso.com",
    ]
    again = submit(ariane, group, f"{group}/members", addresses="alain@contoso.com")
    assert again.status_code == 303
    assert "already members: 1" in notice_of(ariane.get(group))
    listing = ariane.get("/admin/groups")
    assert re.search(r'<tr data-group="Sales">.*?data-test="members">2<', listing.text, re.S)

    removed = submit(ariane, group, f"{group}/members/{contoso.alain_id}/remove")
    assert removed.status_code == 303
    assert "Alain Martin left Sales" in notice_of(ariane.get(group))
    assert database.scalar("SELECT count(*) FROM group_members") == 1
    deleted = submit(ariane, f"{group}/delete", f"{group}/delete")
    assert deleted.status_code == 303 and database.scalar("SELECT count(*) FROM groups") == 0


def test_a_member_address_holding_a_nul_character_is_unknown(contoso, database):
    # PostgreSQL cannot compare text holding U+0000: such an address finds nobody.
    ariane = contoso.ariane
    group = submit(ariane, "/admin/groups", "/admin/groups", display_name="Sales").headers[
        "location"
    ]
    refused = submit(
        ariane, group, f"{group}/members", addresses="alain@contoso.com a\x00@contoso.com"
    )
    assert refused.status_code == 404
    assert "a\x00@contoso.com" in error_of(refused) and "alain" not in error_of(refused)
    assert database.scalar("SELECT count(*) FROM group_members") == 0


def test_billing_buys_once_and_never_removes_licenses_in_use(contoso, database):
    ariane = contoso.ariane
    page = ariane.get("/admin/billing")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    fields = {
        "csrf_token": csrf_token(page),
        "idempotency_key": key,
        "sku": "BUSINESS_ESSENTIALS",
        "quantity": "3",
    }
    for _ in range(2):  # a double submit of the same rendered form
        assert ariane.post("/admin/billing", data=fields).status_code == 303
    assert database.scalar("SELECT count(*) FROM subscriptions") == 1
    billing = ariane.get("/admin/billing")
    assert "Purchase done: 3 × Business Essentials" in notice_of(billing)
    card = re.search(r'data-sku="BUSINESS_ESSENTIALS">(.*?)</section>', billing.text, re.S).group(1)
    assert 'data-test="available">3<' in card

    bad = submit(
        ariane, "/admin/billing", "/admin/billing", sku="BUSINESS_ESSENTIALS", quantity="0"
    )
    assert bad.status_code == 400 and error_of(bad) == translate("en", "web.billing.buy.invalid")
    subscription = re.search(r'data-subscription="([^"]+)"', billing.text).group(1)
    more = submit(
        ariane, "/admin/billing", f"/admin/billing/subscriptions/{subscription}/add", quantity="2"
    )
    assert more.status_code == 303
    assert "Added: 2 × Business Essentials" in notice_of(ariane.get("/admin/billing"))

    for user in ("ariane@contoso.com", "alain@contoso.com"):
        contoso.api.patch(f"/v1/users/{user}", json={"usageLocation": "FR"})
        assigned = contoso.api.post(
            f"/v1/users/{user}/assignLicense",
            json={"addLicenses": [{"skuId": str(ESSENTIALS.sku_id)}], "removeLicenses": []},
        )
        assert assigned.status_code == 200
    ariane.cookies.set("lang", "fr")
    refused = submit(
        ariane,
        "/admin/billing",
        f"/admin/billing/subscriptions/{subscription}/remove",
        quantity="4",
    )
    assert refused.status_code == 409
    assert error_of(refused) == translate(
        "fr", "web.admin.error.licensesInUse", consumedUnits=2, prepaidUnits=5
    )
    ariane.cookies.set("lang", "en")
    fewer = submit(
        ariane,
        "/admin/billing",
        f"/admin/billing/subscriptions/{subscription}/remove",
        quantity="3",
    )
    assert fewer.status_code == 303
    assert database.scalar("SELECT quantity FROM subscriptions") == 2

    off = submit(
        ariane,
        "/admin/billing",
        f"/admin/billing/subscriptions/{subscription}/renew",
        auto_renew="false",
    )
    assert off.status_code == 303
    assert "Expires on" in ariane.get("/admin/billing").text
    full = ariane.get("/admin")
    assert 'data-test="alert-full"' in full.text
    assert "All 2 Business Essentials licenses are assigned." in text_of(full)


def test_roles_are_given_and_the_last_global_administrator_keeps_theirs(contoso, database):
    ariane = contoso.ariane
    nobody = submit(
        ariane,
        "/admin/roles",
        "/admin/roles/LicenseAdministrator/members",
        address="nobody@contoso.com",
    )
    assert nobody.status_code == 404
    assert error_of(nobody) == translate(
        "en", "web.admin.error.userNotFound", address="nobody@contoso.com"
    )
    given = submit(
        ariane,
        "/admin/roles",
        "/admin/roles/LicenseAdministrator/members",
        address="alain@contoso.com",
    )
    assert given.status_code == 303
    page = ariane.get("/admin/roles")
    assert "Alain Martin is now License Administrator" in notice_of(page)
    card = re.search(r'data-role="LicenseAdministrator">(.*?)</section>', page.text, re.S).group(1)
    assert 'data-member="alain@contoso.com"' in card

    ariane_id = user_id_of(database, "ariane@contoso.com")
    last = submit(
        ariane, "/admin/roles", f"/admin/roles/GlobalAdministrator/members/{ariane_id}/remove"
    )
    assert last.status_code == 409
    assert error_of(last) == translate("en", "web.admin.error.lastGlobalAdministrator")
    taken = submit(
        ariane,
        "/admin/roles",
        f"/admin/roles/LicenseAdministrator/members/{contoso.alain_id}/remove",
    )
    assert taken.status_code == 303
    assert database.scalar("SELECT count(*) FROM role_assignments") == 1


def while_another_transaction_inserts(
    database, insert_row: Callable, post: Callable[[], httpx.Response]
) -> httpx.Response:
    """`post`, sent while another transaction holds `insert_row`'s uncommitted row, which
    commits once the page waits for it (on the unique index in PostgreSQL, the write lock in
    SQLite): the page loses the race its check before the insert could not see."""
    with database.engine.connect() as other, ThreadPoolExecutor(1) as pool:
        transaction = other.begin()
        insert_row(other)
        answer = pool.submit(post)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not answer.done():
            if database.kind == "sqlite":
                time.sleep(0.5)
                break
            with database.engine.connect() as probe:
                if probe.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")):
                    break
            time.sleep(0.02)
        transaction.commit()
        return answer.result()


def test_a_role_given_by_someone_else_at_the_same_moment_is_already_held(contoso, database):
    with database.engine.connect() as connection:
        tenant_id = connection.scalar(
            select(User.tenant_id).where(User.user_principal_name == "alain@contoso.com")
        )

    def grant(connection) -> None:
        connection.execute(
            insert(RoleAssignment).values(
                tenant_id=tenant_id,
                user_id=uuid.UUID(contoso.alain_id),
                role=Role.USER_ADMINISTRATOR.value,
                created_at=clock.now(),
            )
        )

    page = contoso.ariane.get("/admin/roles")
    answer = while_another_transaction_inserts(
        database,
        grant,
        lambda: contoso.ariane.post(
            "/admin/roles/UserAdministrator/members",
            data={"csrf_token": csrf_token(page), "address": "alain@contoso.com"},
        ),
    )
    assert answer.status_code == 303, answer.text
    assert "Alain Martin already is User Administrator" in notice_of(
        contoso.ariane.get("/admin/roles")
    )
    assert database.scalar("SELECT count(*) FROM role_assignments") == 2


def test_a_user_added_by_someone_else_at_the_same_moment_is_refused(contoso, database):
    with database.engine.connect() as connection:
        tenant_id = connection.scalar(
            select(User.tenant_id).where(User.user_principal_name == "ariane@contoso.com")
        )

    def add(connection) -> None:
        connection.execute(
            insert(User).values(
                tenant_id=tenant_id,
                user_principal_name="chloe@contoso.com",
                mail="chloe@contoso.com",
                display_name="Chloé",
                created_at=clock.now(),
            )
        )

    page = contoso.ariane.get("/admin/users/new")
    answer = while_another_transaction_inserts(
        database,
        add,
        lambda: contoso.ariane.post(
            "/admin/users",
            data={
                "csrf_token": csrf_token(page),
                "display_name": "Chloé Dubois",
                "username": "chloe",
                "domain": "contoso.com",
                "password_mode": "generate",
            },
        ),
    )
    assert answer.status_code == 409, answer.text
    assert "chloe@contoso.com" in error_of(answer)
    assert database.scalar("SELECT count(*) FROM users WHERE display_name = 'Chloé'") == 1


def test_the_audit_log_filters_by_actor_activity_and_dates(contoso, database):
    ariane = contoso.ariane
    submit(ariane, "/admin/groups", "/admin/groups", display_name="Sales")
    submit(
        ariane,
        "/admin/roles",
        "/admin/roles/UserAdministrator/members",
        address="alain@contoso.com",
    )
    everything = ariane.get("/admin/audit")
    assert {"Add group", "Add member to role"} <= set(
        re.findall(r'data-activity="([^"]+)"', everything.text)
    )
    adds = ariane.get("/admin/audit", params={"action": "Add", "actor": "ariane@contoso.com"})
    assert sorted(set(re.findall(r'data-activity="([^"]+)"', adds.text))) == [
        "Add group",
        "Add member to role",
    ]
    assert (
        ariane.get(
            "/admin/audit", params={"actor": "alain@contoso.com", "action": "Add"}
        ).text.count("data-activity=")
        == 0
    )
    today = database.scalar("SELECT max(occurred_at) FROM audit_events")
    day = str(today)[:10]
    assert "Add group" in ariane.get("/admin/audit", params={"since": day, "until": day}).text
    assert "data-activity=" not in ariane.get("/admin/audit", params={"until": "2000-01-01"}).text
    last_day = ariane.get("/admin/audit", params={"since": "0001-01-01", "until": "9999-12-31"})
    assert last_day.status_code == 200 and "Add group" in last_day.text
    bad = ariane.get("/admin/audit", params={"since": "31/12/2025"})
    assert bad.status_code == 400 and error_of(bad) == translate("en", "web.audit.bad_date")


def test_writing_to_everyone_reaches_each_active_user(contoso, database):
    ariane = contoso.ariane
    form = ariane.get("/admin/users/message")
    assert "the 2 people in your organization" in text_of(form)
    empty = submit(
        ariane, "/admin/users/message", "/admin/users/message", subject=" ", body="Hello"
    )
    assert empty.status_code == 400 and "Hello</textarea>" in empty.text
    sent = submit(
        ariane,
        "/admin/users/message",
        "/admin/users/message",
        subject="Monday",
        body="Meetings move.",
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/admin/users"
    assert "Your message is on its way to 2 people." in notice_of(ariane.get("/admin/users"))
    assert database.scalar("SELECT count(*) FROM outbox_messages WHERE subject = 'Monday'") == 2


def wait_for_processing(client: httpx.Client, path: str, timeout: float = 30.0) -> httpx.Response:
    """The group's page once its licenses are processed for every member."""
    deadline = time.monotonic() + timeout
    while True:
        page = client.get(path)
        if 'data-state="ProcessingComplete"' in page.text:
            assert 'http-equiv="refresh"' not in page.text
            return page
        assert 'http-equiv="refresh"' in page.text  # the page follows the processing by itself
        assert time.monotonic() < deadline, "the group's licenses were never processed"
        time.sleep(0.1)


def test_a_group_licenses_its_members_and_shows_who_is_in_error(contoso, server, database):
    ariane = contoso.ariane
    buy(contoso.api, "BUSINESS_PREMIUM", 1)
    for user in ("ariane@contoso.com", "alain@contoso.com"):
        assert (
            contoso.api.patch(f"/v1/users/{user}", json={"usageLocation": "FR"}).status_code == 200
        )
    group = submit(ariane, "/admin/groups", "/admin/groups", display_name="Sales").headers[
        "location"
    ]
    submit(ariane, group, f"{group}/members", addresses="ariane@contoso.com, alain@contoso.com")

    # One Premium license for two members: one of them gets CountViolation.
    given = submit(
        ariane,
        group,
        f"{group}/licenses",
        sku=str(PREMIUM.sku_id),
        plan=[str(p.service_plan_id) for p in PREMIUM.service_plans],
    )
    assert given.status_code == 303
    assert "Business Premium is being given to the members of Sales" in notice_of(ariane.get(group))
    page = wait_for_processing(ariane, group)
    assert f'data-group-license="{PREMIUM.sku_id}"' in page.text
    in_error = re.findall(r'data-member-in-error="([^"]+)"', page.text)
    assert len(in_error) == 1
    assert 'data-test="error-code" title="' in page.text and ">CountViolation<" in page.text
    listing = ariane.get("/admin/groups")
    assert translate("en", "web.groups.has_errors") in listing.text
    assert "Business Premium" in re.search(
        r'<tr data-group="Sales">(.*?)</tr>', listing.text, re.S
    ).group(1)
    user_id = user_id_of(database, in_error[0])
    user_page = ariane.get(f"/admin/users/{user_id}")
    row = re.search(
        r'<tr data-license="[^"]+" data-source="group">(.*?)</tr>', user_page.text, re.S
    ).group(1)
    assert 'data-test="state">Error<' in row and ">CountViolation<" in row and "Sales" in row
    assert 'data-test="reprocess"' in user_page.text
    assert 'data-test="remove-license"' not in row  # inherited: removed with the group

    # A Groups Administrator manages members, not licenses.
    with as_alain(server, database, Role.GROUPS_ADMINISTRATOR) as alain:
        seen = alain.get(group)
        assert seen.status_code == 200 and 'data-test="assign-group"' not in seen.text
        refused = alain.post(f"{group}/reprocess", data={"csrf_token": csrf_token(seen)})
        assert refused.status_code == 403

    # Buy one more and reprocess the user: licensed at once.
    buy(contoso.api, "BUSINESS_PREMIUM", 1)
    redone = submit(ariane, f"/admin/users/{user_id}", f"/admin/users/{user_id}/reprocess")
    assert redone.status_code == 303
    user_page = ariane.get(f"/admin/users/{user_id}")
    assert "were applied again." in notice_of(user_page)
    row = re.search(
        r'<tr data-license="[^"]+" data-source="group">(.*?)</tr>', user_page.text, re.S
    ).group(1)
    assert 'data-test="state">Active<' in row
    page = ariane.get(group)
    assert 'data-test="members-in-error"' not in page.text
    reprocessed = submit(ariane, group, f"{group}/reprocess")
    assert reprocessed.status_code == 303
    wait_for_processing(ariane, group)

    # Leaving the group takes its license; a group that gives licenses cannot be deleted.
    submit(ariane, group, f"{group}/members/{contoso.alain_id}/remove")
    alain_page = ariane.get(f"/admin/users/{contoso.alain_id}")
    assert "data-license=" not in alain_page.text
    kept = submit(ariane, f"{group}/delete", f"{group}/delete")
    assert kept.status_code == 409
    assert error_of(kept) == translate("en", "web.admin.error.groupHasLicenses")
    taken = submit(ariane, group, f"{group}/licenses/remove", sku=str(PREMIUM.sku_id))
    assert taken.status_code == 303
    page = wait_for_processing(ariane, group)
    assert translate("en", "web.group.licenses.none") in page.text
    assert submit(ariane, f"{group}/delete", f"{group}/delete").status_code == 303
    assert database.scalar("SELECT consumed_units FROM subscribed_skus") == 0
