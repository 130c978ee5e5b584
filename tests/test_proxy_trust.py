"""`X-Forwarded-For` is believed only from the proxies TENANTRY_TRUSTED_PROXIES names.

The client address decides a caller's rate limits, smart lockout and audit trail: a
caller who could name it would escape all three. The session's test server trusts
127.0.0.1, as a reverse proxy on the same host would be trusted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from pydantic import ValidationError

from tenantry.core.config import Settings
from tests.support.server import LiveServer
from tests.support.serving import serving
from tests.support.stories import PASSWORD

EMAIL = "ariane@contoso.com"


@contextmanager
def live(settings: Settings, **update: object) -> Iterator[LiveServer]:
    server = LiveServer(settings.model_copy(update=update))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _signed_in_from(database, url: str, forwarded_for: str) -> str:
    """Sign in through `url` with that X-Forwarded-For; the address the session was given."""
    response = httpx.post(
        f"{url}/v1/auth/token",
        data={"grant_type": "password", "username": EMAIL, "password": PASSWORD},
        headers={"X-Forwarded-For": forwarded_for},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return database.scalar(
        "SELECT client_address FROM access_tokens ORDER BY created_at DESC LIMIT 1"
    )


def test_without_trusted_proxies_the_forwarded_address_is_ignored(stories, settings, database):
    stories.sign_up(EMAIL, "Ariane")
    with live(settings, trusted_proxies="") as server:
        assert _signed_in_from(database, server.url, "203.0.113.7") == "127.0.0.1"


def test_a_trusted_proxy_names_the_client_it_forwards(stories, server, database):
    stories.sign_up(EMAIL, "Ariane")
    assert _signed_in_from(database, server.url, "203.0.113.7") == "203.0.113.7"
    # A client's own X-Forwarded-For comes first; the proxy appends whom it saw.
    assert _signed_in_from(database, server.url, "198.51.100.1, 203.0.113.7") == "203.0.113.7"


def test_a_chain_of_trusted_proxies_is_walked_back_to_the_client(stories, settings, database):
    stories.sign_up(EMAIL, "Ariane")
    with live(settings, trusted_proxies="127.0.0.1, 10.0.0.0/8") as server:
        chain = "198.51.100.1, 203.0.113.7, 10.1.2.3"  # client → 10.1.2.3 → 127.0.0.1
        assert _signed_in_from(database, server.url, chain) == "203.0.113.7"


def test_trusted_proxies_must_be_addresses_or_networks():
    with pytest.raises(ValidationError, match=r"'proxy\.internal' is not an IP address"):
        Settings(trusted_proxies="10.0.0.0/8, proxy.internal")
    networks = Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8 , ::1").trusted_proxy_networks
    assert networks == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert Settings().trusted_proxy_networks == []


def test_tenantry_serve_believes_no_forwarded_address_by_default(tmp_path):
    """The sign-in limit counts every attempt from this host, whatever each one claims."""
    settings = {"TENANTRY_SIGNIN_RATE_PER_MINUTE": "2", "TENANTRY_ARGON2_MEMORY_KIB": "1024"}
    with serving(tmp_path, env=settings) as (url, _log, _pid):
        statuses = [
            httpx.post(
                f"{url}/v1/auth/token",
                data={"grant_type": "password", "username": EMAIL, "password": "Wrong-1"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
                timeout=30,
            ).status_code
            for n in range(1, 4)
        ]
    assert statuses == [400, 400, 429]
