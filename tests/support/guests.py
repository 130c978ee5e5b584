"""Guest steps tests share: invite through the API, read the link from the mail, redeem it
through the pages (signing in, or with the emailed code), sign in to a chosen tenant."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.server import LiveServer
from tests.support.smtp import SmtpSink
from tests.support.stories import PASSWORD, Stories
from tests.test_web_pages import csrf_token

LINK = re.compile(r"https?://\S+(/invitations/redeem/[A-Za-z0-9_\-]+)")


def invite(api: httpx.Client, email: str, **body: Any) -> dict[str, Any]:
    """Invite `email` as a guest of the caller's organization; the invitation answered (201)."""
    answer = api.post(
        "/v1/invitations",
        json={
            "invitedUserEmailAddress": email,
            "inviteRedirectUrl": str(api.base_url).rstrip("/") + "/",
            **body,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def path_of(url: str) -> str:
    """The path of a redeem URL (the server's base_url is not the test server's address)."""
    return urlsplit(url).path


def mailed_link(smtp: SmtpSink, email: str, *, count: int = 1) -> str:
    """The redeem link's path in the newest invitation mailed to `email`, once `count` of them
    have arrived (other mail to the address is not counted)."""
    deadline = time.monotonic() + 15
    while True:
        found = [m for m in smtp.to(email) if LINK.search(m.body)]
        if len(found) >= count:
            match = LINK.search(found[-1].body)
            assert match
            return match.group(1)
        assert time.monotonic() < deadline, [m.subject for m in smtp.to(email)]
        time.sleep(0.05)


def browser(server: LiveServer) -> httpx.Client:
    """A cookie-keeping client, as a browser is (not signed in)."""
    return httpx.Client(base_url=server.url, timeout=30)


@contextmanager
def signed_in(server: LiveServer, email: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """A browser-like client signed in through the sign-in page."""
    with browser(server) as client:
        page = client.get("/signin")
        answer = client.post(
            "/signin",
            data={"csrf_token": csrf_token(page), "email": email, "password": password},
        )
        assert answer.status_code == 303, answer.text
        yield client


def post_form(client: httpx.Client, page_path: str, action: str, **fields: str) -> httpx.Response:
    """Open a page, then post one of its forms with the CSRF token it carries."""
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    return client.post(action, data={"csrf_token": csrf_token(page), **fields})


def mode_of(page: httpx.Response) -> str:
    """Which way on the invitation page offers (`data-mode`)."""
    match = re.search(r'data-test="invitation" data-mode="([a-z_]+)"', page.text)
    assert match, page.text
    return match.group(1)


def redeem_by_sign_in(client: httpx.Client, link: str, password: str = PASSWORD) -> httpx.Response:
    """Accept by signing in with the invited address."""
    return post_form(client, link, f"{link}/signin", password=password)


def redeem_by_code(
    client: httpx.Client, smtp: SmtpSink, link: str, email: str, password: str = PASSWORD
) -> httpx.Response:
    """Ask for a code at the invited address, read it from the mail, enter it with a password."""
    before = len(smtp.code_messages(email))
    sent = post_form(client, link, f"{link}/code")
    assert sent.status_code == 303, sent.text
    code = smtp.code_for(email, count=before + 1)
    return post_form(
        client, link, f"{link}/verify", code=code, password=password, confirm_password=password
    )


def token(stories: Stories, email: str, tenant: str | None = None, password: str = PASSWORD):
    """The token answer (`POST /v1/auth/token`), acting in `tenant` when given."""
    data = {"grant_type": "password", "username": email, "password": password}
    if tenant is not None:
        data["tenant"] = tenant
    return stories.api.post("/v1/auth/token", data=data)


def client_in(
    stories: Stories, email: str, tenant: str | None = None, password: str = PASSWORD
) -> httpx.Client:
    """An API client signed in as `email`, acting in `tenant` (its id or a domain name)."""
    answer = token(stories, email, tenant, password)
    assert answer.status_code == 200, answer.text
    return httpx.Client(
        base_url=stories.server.url,
        headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
        timeout=30,
    )
