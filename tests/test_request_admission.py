"""Admission of requests: a process runs a bounded number at once and sheds the rest at once
(503 `serviceUnavailable`, `Retry-After`) instead of slowing every answer; a request waiting
for a password hash gives its place up meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tenantry.core import security
from tenantry.core.i18n import translate
from tests.support.server import LiveServer
from tests.support.stories import PASSWORD, become_admin
from tests.test_admission import one_slow_slot

EMAIL = "ariane@contoso.com"


@pytest.fixture()
def narrow_server(settings, dns_zone) -> Iterator[LiveServer]:
    """A second server on the same database that runs one request at a time and lets a
    request wait 50 ms for its turn; its DNS server never answers (a lookup holds its
    request for the DNS timeout)."""
    live = LiveServer(
        settings.model_copy(
            update={
                "max_concurrent_requests": 1,
                "admission_wait_ms": 50,
                "dns_nameservers": dns_zone.silent_nameserver,
                "dns_timeout": 1.5,
            }
        )
    )
    live.start()
    yield live
    live.stop()


def _in_background(call) -> tuple[threading.Thread, list[httpx.Response]]:
    answers: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: answers.append(call()))
    thread.start()
    return thread, answers


def test_a_busy_process_sheds_at_once_and_answers_again_when_free(stories, dns_zone, narrow_server):
    stories.sign_up(EMAIL, "Ariane")
    ariane = stories.client_for(EMAIL)
    assert become_admin(ariane, dns_zone).status_code == 200
    assert ariane.post("/v1/domains", json={"id": "fabrikam.com"}).status_code == 201
    headers = {"Authorization": ariane.headers["Authorization"]}

    with httpx.Client(base_url=narrow_server.url, headers=headers, timeout=30) as narrow:
        # The verification waits on a DNS server that never answers: the one place is taken.
        lookup, answers = _in_background(lambda: narrow.post("/v1/domains/fabrikam.com/verify"))
        time.sleep(0.4)
        started = time.perf_counter()
        refused = narrow.get("/v1/me")
        refused_in = time.perf_counter() - started
        page = httpx.get(f"{narrow_server.url}/signin", headers={"Accept-Language": "fr"})
        health = narrow.get("/healthz")
        lookup.join()

        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "serviceUnavailable"
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["error"]["retryAfterSeconds"] == 1
        assert refused_in < 1.0  # at once, not after the lookup ahead of it
        # A page is refused with the error page, in its language.
        assert page.status_code == 503 and page.headers["Retry-After"] == "1"
        assert translate("fr", "error.overloaded") in page.text
        assert health.status_code == 200  # health checks are never refused
        assert answers[0].json()["error"]["code"] == "dnsTimeout"

        # Once the place is free, the same request goes through.
        assert narrow.get("/v1/me").status_code == 200


def test_a_request_waiting_for_a_password_hash_gives_its_place_up(stories, server, narrow_server):
    stories.sign_up("alain@contoso.com", "Alain")
    token = stories.token("alain@contoso.com")
    with (
        one_slow_slot(server) as hash_seconds,
        httpx.Client(base_url=narrow_server.url, timeout=30) as narrow,
    ):
        # Ariane's password is kept under a costly profile (verifying it costs as much as
        # hashing did; one_slow_slot restores the profile afterwards).
        security.configure_hashing(time_cost=40, memory_kib=32 * 1024, parallelism=1)
        stories.sign_up(EMAIL, "Ariane")
        signing_in, answers = _in_background(
            lambda: narrow.post(
                "/v1/auth/token",
                data={"grant_type": "password", "username": EMAIL, "password": PASSWORD},
            )
        )
        deadline = time.monotonic() + 10
        while security.hash_pool.admitted < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert security.hash_pool.admitted == 1, answers  # the sign-in is hashing
        me = narrow.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        still_signing_in = not answers
        signing_in.join()
    assert still_signing_in  # /v1/me was answered while the sign-in held its hash
    assert hash_seconds > 0.1
    assert me.status_code == 200, me.text
    assert answers[0].status_code == 200, answers[0].text
