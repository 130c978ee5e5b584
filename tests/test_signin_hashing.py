"""Checking a password never holds a write transaction: other writes go on meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tenantry.core import security
from tests.support.stories import PASSWORD


@pytest.fixture
def slow_hashes(server) -> Iterator[None]:
    """New password hashes that take a good fraction of a second to check."""
    settings = server.app.state.settings
    security.configure_hashing(time_cost=12, memory_kib=64 * 1024, parallelism=1)
    try:
        yield
    finally:
        security.configure_hashing(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )


def test_other_writes_go_on_while_a_sign_in_checks_its_password(stories, server, slow_hashes):
    stories.sign_up("ariane@contoso.com", "Ariane")  # her hash carries the slow parameters
    slow_hash = security.password_hasher.hash(PASSWORD)
    started = time.perf_counter()
    assert security.password_hasher.verify(slow_hash, PASSWORD)
    check_seconds = time.perf_counter() - started  # one password check on this machine
    assert check_seconds > 0.2

    outcome: dict[str, object] = {}

    def sign_in() -> None:
        began = time.perf_counter()
        outcome["token"] = httpx.post(
            f"{server.url}/v1/auth/token",
            data={"grant_type": "password", "username": "ariane@contoso.com", "password": PASSWORD},
            timeout=60,
        ).status_code
        outcome["sign_in_seconds"] = time.perf_counter() - began

    thread = threading.Thread(target=sign_in)
    thread.start()
    time.sleep(check_seconds / 4)  # the sign-in is checking the password now
    began = time.perf_counter()
    write = stories.start_signup("alain@contoso.com", "Alain")  # writes a sign-up and its email
    write_seconds = time.perf_counter() - began
    thread.join()

    assert write.status_code == 202, write.text
    assert outcome["token"] == 200
    # The write did not queue behind the password check.
    assert write_seconds < check_seconds / 4, (write_seconds, outcome["sign_in_seconds"])
