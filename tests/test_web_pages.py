"""The web pages over plain HTTP: CSRF, refusals shown on the page, sessions, languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from tenantry.core.clock import clock
from tenantry.core.i18n import translate
from tenantry.web.admin_views import format_date
from tests.support.server import LiveServer

PASSWORD = "Correct-Horse-9"


@pytest.fixture()
def browser(server: LiveServer) -> Iterator[httpx.Client]:
    """A cookie-keeping client that does not follow redirects, like a browser tab we inspect."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def csrf_token(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def submit(client: httpx.Client, page_path: str, action: str, **fields: str) -> httpx.Response:
    """Open a page, then post its form with the token it carries."""
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    return client.post(action, data={"csrf_token": csrf_token(page), **fields})


def test_a_form_without_its_csrf_token_is_refused(browser, database, smtp):
    refused = browser.post("/signup", data={"email": "ariane@contoso.com", "display_name": "A"})
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    assert translate("en", "error.csrfTokenInvalid") in refused.text

    browser.get("/signup")  # now the browser holds a csrf cookie, but the form lies
    forged = browser.post(
        "/signup",
        data={"email": "ariane@contoso.com", "display_name": "A", "csrf_token": "0" * 64},
    )
    assert forged.status_code == 403

    # Another site cannot sign a person out either.
    assert browser.post("/signout").status_code == 403
    assert database.scalar("SELECT count(*) FROM signups") == 0
    assert smtp.to("ariane@contoso.com") == []


def test_a_personal_address_is_refused_on_the_page_with_its_input_kept(browser, database):
    refused = submit(browser, "/signup", "/signup", email="bob@gmail.com", display_name="Bob")
    assert refused.status_code == 400
    assert "That looks like a personal email address" in refused.text
    assert 'value="bob@gmail.com"' in refused.text and 'value="Bob"' in refused.text
    assert "Traceback" not in refused.text

    browser.cookies.set("lang", "fr")
    in_french = submit(browser, "/signup", "/signup", email="bob@gmail.com", display_name="Bob")
    assert in_french.status_code == 400
    assert translate("fr", "error.consumerDomainNotAllowed") in in_french.text.replace("&#39;", "'")
    assert database.scalar("SELECT count(*) FROM signups") == 0


def test_a_name_holding_a_nul_character_is_refused_on_the_page(browser, database):
    # PostgreSQL text cannot hold U+0000: refused before anything is written.
    refused = submit(browser, "/signup", "/signup", email="bob@contoso.com", display_name="B\x00b")
    assert refused.status_code == 400
    assert "displayName cannot contain the NUL character." in refused.text
    assert database.scalar("SELECT count(*) FROM signups") == 0


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("multipart/form-data", b"email=bob%40contoso.com"),  # no boundary
        ("multipart/form-data; boundary=x", b"not multipart at all"),
    ],
)
def test_a_malformed_multipart_body_is_a_400_page(browser, database, content_type, body):
    browser.get("/signup")
    refused = browser.post("/signup", content=body, headers={"content-type": content_type})
    assert refused.status_code == 400
    assert "text/html" in refused.headers["content-type"]
    assert "multipart" in refused.text
    assert database.scalar("SELECT count(*) FROM signups") == 0


def test_sign_up_through_the_pages_signs_the_person_in(browser, smtp):
    started = submit(
        browser, "/signup", "/signup", email="ariane@contoso.com", display_name="Ariane Dupont"
    )
    assert started.status_code == 303
    code_page = started.headers["location"]
    assert re.fullmatch(r"/signup/[0-9a-f-]{36}", code_page)
    code = smtp.code_for("ariane@contoso.com")

    wrong = submit(
        browser,
        code_page,
        code_page,
        code="000000" if code != "000000" else "111111",
        password=PASSWORD,
    )
    assert wrong.status_code == 400
    assert "Attempts left: 4" in wrong.text

    weak = submit(browser, code_page, code_page, code=code, password="short")
    assert weak.status_code == 400
    assert f'value="{code}"' in weak.text  # the code is kept, the password is not

    done = submit(browser, code_page, code_page, code=code, password=PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/"
    cookie = done.headers["set-cookie"].lower()
    assert "tenantry_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie

    home = browser.get("/")
    assert "Ariane Dupont" in home.text and "contoso.com" in home.text
    assert 'data-state="unmanaged"' in home.text and 'href="/admin/become"' in home.text
    assert re.search(r'data-entitlement="meetings.max_participants">.*?<td>10<', home.text)
    # The free offer's step down is announced with its day.
    step_down = format_date("en", clock.now() + timedelta(days=60))
    assert f'data-test="entitlement-change">3 from {step_down}<' in home.text

    # The session cookie opens the pages, never the API (bearer tokens only).
    assert browser.get("/v1/me").status_code == 401

    # The sign-up is complete: its page says so instead of taking another code.
    again = browser.get(code_page)
    assert again.status_code == 410


def test_sign_in_and_sign_out(browser, server, smtp):
    with httpx.Client(base_url=server.url, timeout=30) as other_tab:
        started = submit(
            other_tab,
            "/signup",
            "/signup",
            email="ariane@contoso.com",
            display_name="Ariane Dupont",
        )
        code_page = started.headers["location"]
        code = smtp.code_for("ariane@contoso.com")
        done = submit(other_tab, code_page, code_page, code=code, password=PASSWORD)
        assert done.status_code == 303

    wrong = submit(browser, "/signin", "/signin", email="ariane@contoso.com", password="nope")
    assert wrong.status_code == 400
    assert translate("en", "error.invalid_grant") in wrong.text
    assert 'value="ariane@contoso.com"' in wrong.text

    signed_in = submit(browser, "/signin", "/signin", email="ariane@contoso.com", password=PASSWORD)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    home = browser.get("/")
    assert "Ariane Dupont" in home.text

    signed_out = submit(browser, "/", "/signout")
    assert signed_out.status_code == 303
    assert "Ariane Dupont" not in browser.get("/").text
    assert 'href="/signup"' in browser.get("/").text


def test_the_language_comes_from_the_switch_then_accept_language(browser):
    assert '<html lang="nl">' in browser.get("/", headers={"Accept-Language": "nl-BE"}).text
    switched = browser.get("/lang/fr", params={"next": "/signup"})
    assert switched.status_code == 303 and switched.headers["location"] == "/signup"
    page = browser.get("/signup", headers={"Accept-Language": "nl-BE"})
    assert '<html lang="fr">' in page.text
    assert translate("fr", "web.signup.title") in page.text

    for outside in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        away = browser.get("/lang/en", params={"next": outside})
        assert away.headers["location"] == "/"


def test_the_dev_mailbox_lists_messages_newest_first(browser, stories, smtp):
    for address in ("ariane@contoso.com", "alain@contoso.com"):
        assert stories.start_signup(address).status_code == 202
        smtp.wait_for(address)  # delivered, so committed (the API commits after answering)
    page = browser.get("/dev/mailbox")
    assert page.status_code == 200
    recipients = re.findall(r'data-recipient="([^"]+)"', page.text)
    assert recipients == ["alain@contoso.com", "ariane@contoso.com"]
    only = browser.get("/dev/mailbox", params={"to": "ariane@contoso.com"})
    assert re.findall(r'data-recipient="([^"]+)"', only.text) == ["ariane@contoso.com"]
    assert re.search(r"\b\d{6}\b", only.text)
    # PostgreSQL cannot compare text holding U+0000: such an address has no messages.
    nul = browser.get("/dev/mailbox", params={"to": "ariane@contoso.com\x00"})
    assert nul.status_code == 200 and re.findall(r'data-recipient="([^"]+)"', nul.text) == []


def test_the_dev_mailbox_is_not_found_when_it_is_off(settings):
    live = LiveServer(settings.model_copy(update={"dev_mailbox": False}))
    live.start()
    try:
        response = httpx.get(f"{live.url}/dev/mailbox", timeout=10)
    finally:
        live.stop()
    assert response.status_code == 404
