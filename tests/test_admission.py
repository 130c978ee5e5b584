"""Admission control of password hashing: past the pool's queue, a request that needs a hash
is refused at once (503 `serviceUnavailable`, `Retry-After`) rather than waiting in a line
that only grows; the rest of the API goes on answering."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tenantry.core import security
from tenantry.core.i18n import translate
from tests.support.stories import PASSWORD

EMAIL = "ariane@contoso.com"


def restore_pool(settings) -> None:
    security.configure_pool(workers=settings.hash_workers, queue_depth=settings.hash_queue_depth)


@contextmanager
def one_slow_slot(server) -> Iterator[float]:
    """One hashing thread, one place in its queue, and hashes that take a while; yields how
    long one such hash takes here."""
    settings = server.app.state.settings
    security.configure_hashing(time_cost=8, memory_kib=32 * 1024, parallelism=1)
    security.configure_pool(workers=1, queue_depth=1)
    started = time.perf_counter()
    security.password_hasher.hash(PASSWORD)
    try:
        yield time.perf_counter() - started
    finally:
        restore_pool(settings)
        security.configure_hashing(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )


@contextmanager
def pool_taken() -> Iterator[None]:
    """The thread and its queue taken by two slow hashes (as two sign-ups would)."""
    hashers = [
        threading.Thread(target=asyncio.run, args=(security.hash_password(f"Busy-{n}-Pass"),))
        for n in range(2)
    ]
    for hasher in hashers:
        hasher.start()
    deadline = time.monotonic() + 10
    while security.hash_pool.admitted < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert security.hash_pool.admitted == 2
    try:
        yield
    finally:
        for hasher in hashers:
            hasher.join()


def _busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "serviceUnavailable"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["retryAfterSeconds"] == int(response.headers["Retry-After"])


def _timed(call) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def test_sign_in_and_sign_up_are_refused_at_once_past_the_queue(stories, server, smtp, api):
    stories.sign_up(EMAIL, "Ariane")
    pending = stories.start_signup("alain@contoso.com", "Alain").json()["signupId"]
    code = smtp.code_for("alain@contoso.com")

    def sign_in() -> httpx.Response:
        return api.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": EMAIL, "password": PASSWORD},
        )

    def verify() -> httpx.Response:
        return api.post(f"/v1/signup/{pending}/verify", json={"code": code, "password": PASSWORD})

    with one_slow_slot(server) as hash_seconds, pool_taken():
        assert hash_seconds > 0.1  # two of them take the pool for a good while
        refused_sign_in, sign_in_seconds = _timed(sign_in)
        refused_sign_up, sign_up_seconds = _timed(verify)
        ping, ping_seconds = _timed(lambda: api.get("/v1/ping"))
    _busy(refused_sign_in)
    _busy(refused_sign_up)
    # At once: not after the hashes ahead of them.
    assert sign_in_seconds < hash_seconds and sign_up_seconds < hash_seconds
    assert ping.status_code == 200 and ping_seconds < hash_seconds

    # Nothing was spent: once the line is gone, the same requests go through.
    assert sign_in().status_code == 200
    assert verify().status_code == 201


def test_the_sign_in_page_says_the_service_is_busy(stories, server):
    stories.sign_up(EMAIL, "Ariane")
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        page = browser.get("/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        with one_slow_slot(server), pool_taken():
            refused = browser.post(
                "/signin", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD}
            )
    assert refused.status_code == 503
    assert translate("en", "error.serviceBusy") in refused.text


@pytest.mark.parametrize(("workers", "depth", "admitted"), [(1, 0, 1), (2, 3, 5)])
def test_the_pool_admits_its_threads_and_queue_only(workers, depth, admitted, server):
    settings = server.app.state.settings
    security.configure_pool(workers=workers, queue_depth=depth)
    release = threading.Event()

    async def many() -> tuple[int, list[object]]:
        tasks = [
            asyncio.ensure_future(security.hash_pool.run(release.wait, 10))
            for _ in range(admitted + 2)
        ]
        # Refusals come at once; the admitted hashes hold their threads until released.
        await asyncio.wait(tasks, timeout=0.5)
        held = security.hash_pool.admitted
        release.set()
        return held, await asyncio.gather(*tasks, return_exceptions=True)

    try:
        held, outcome = asyncio.run(many())
    finally:
        restore_pool(settings)
    assert held == admitted
    assert outcome[:admitted] == [True] * admitted
    assert all(isinstance(item, security.HashingBusy) for item in outcome[admitted:])
