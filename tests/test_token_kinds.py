"""Web sessions and API tokens stay apart: a session only as the page cookie, a token only as
`Authorization: Bearer`.

A session cookie is guarded by CSRF tokens on every form; a bearer token is not, because
a browser never sends it by itself. Taking one for the other would drop either guard.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tenantry.dependencies import SESSION_COOKIE
from tests.support.stories import PASSWORD

EMAIL = "ariane@contoso.com"


def _web_session(server, stories) -> str:
    """Sign in through the sign-in page; the session cookie it sets."""
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        page = browser.get("/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        signed_in = browser.post(
            "/signin", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD}
        )
        assert signed_in.status_code == 303, signed_in.text
        return browser.cookies[SESSION_COOKIE]


@pytest.fixture()
def credentials(server, stories) -> tuple[str, str]:
    stories.sign_up(EMAIL, "Ariane Dupont")
    return _web_session(server, stories), stories.token(EMAIL)


def _me(server, **kwargs) -> httpx.Response:
    return httpx.get(f"{server.url}/v1/me", timeout=30, **kwargs)


def _home(server, cookie: str) -> str:
    return httpx.get(f"{server.url}/", cookies={SESSION_COOKIE: cookie}, timeout=30).text


def test_each_credential_works_where_it_belongs(server, credentials):
    session, token = credentials
    assert _me(server, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert "Ariane Dupont" in _home(server, session)


def test_a_web_session_is_not_a_bearer_token(server, credentials):
    session, _ = credentials
    refused = _me(server, headers={"Authorization": f"Bearer {session}"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    check = httpx.post(
        f"{server.url}/v1/me/entitlements/check",
        json={"name": "meetings.max_participants", "value": 1},
        headers={"Authorization": f"Bearer {session}"},
        timeout=30,
    )
    assert check.status_code == 401, check.text  # the hot path too


def test_an_api_token_is_not_a_session_cookie(server, credentials):
    _, token = credentials
    assert "Ariane Dupont" not in _home(server, token)
    # Signing out a browser holding a token as its cookie leaves the token alone.
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        browser.cookies.set(SESSION_COOKIE, token)
        page = browser.get("/signin")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        assert browser.post("/signout", data={"csrf_token": csrf}).status_code == 303
    assert _me(server, headers={"Authorization": f"Bearer {token}"}).status_code == 200
