"""Several servers on one database: they share what they sign with through the database
(sealed with the master key), so a sign-up started on one is finished on another; a
server whose master key is another refuses to start, naming TENANTRY_SECRET_KEY."""

from __future__ import annotations

import re

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.serving import serving
from tests.support.smtp import SmtpSink

PASSWORD = "Correct-Horse-9"


@pytest.fixture()
def mailbox():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


def test_two_servers_with_one_master_key_share_sign_ups_sessions_and_tokens(
    tmp_path, database, mailbox, settings
):
    shared = {
        "TENANTRY_DATABASE_URL": database.url,
        "TENANTRY_SECRET_KEY": settings.secret_key,
        "TENANTRY_SMTP_URL": mailbox.url,
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    with (
        serving(tmp_path / "a", env=shared) as (first, _, _),
        serving(tmp_path / "b", env=shared) as (second, _, _),
    ):
        started = httpx.post(
            f"{first}/v1/signup", json={"email": "ariane@contoso.com", "displayName": "Ariane"}
        )
        assert started.status_code == 202, started.text
        code = mailbox.code_for("ariane@contoso.com")
        verified = httpx.post(  # the code made by the first, checked by the second
            f"{second}/v1/signup/{started.json()['signupId']}/verify",
            json={"code": code, "password": PASSWORD},
        )
        assert verified.status_code == 201, verified.text

        # A web session opened on the first, with its CSRF token, used on the second.
        with httpx.Client(base_url=first, timeout=30) as browser:
            page = browser.get("/signin")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            signed_in = browser.post(
                "/signin",
                data={"csrf_token": token, "email": "ariane@contoso.com", "password": PASSWORD},
            )
            assert signed_in.status_code == 303
            cookies = browser.cookies
        with httpx.Client(base_url=second, cookies=cookies, timeout=30) as other:
            home = other.get("/")
            assert home.status_code == 200 and "Ariane" in home.text

        # An entitlement token signed by the first verifies with the second's JWKS.
        bearer = httpx.post(
            f"{first}/v1/auth/token",
            data={"grant_type": "password", "username": "ariane@contoso.com", "password": PASSWORD},
        ).json()["access_token"]
        issued = httpx.post(
            f"{first}/v1/me/entitlementToken", headers={"Authorization": f"Bearer {bearer}"}
        )
        assert issued.status_code in (200, 201), issued.text
        keys = KeySet.import_key_set(httpx.get(f"{second}/.well-known/jwks.json").json())
        decoded = jwt.decode(issued.json()["token"], keys)
        assert decoded.claims["sub"]

    refused = tmp_path / "c"
    with (
        pytest.raises(pytest.fail.Exception),
        serving(refused, env={**shared, "TENANTRY_SECRET_KEY": "z" * 48}),
    ):
        pass
    log = (refused / "serve.log").read_text()
    assert "TENANTRY_SECRET_KEY" in log and "does not open" in log
    assert "Traceback" not in log
