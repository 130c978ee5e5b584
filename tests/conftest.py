"""Session fixtures: a real database, SMTP server and HTTP server; per-test clean state."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.migrate import upgrade
from tests.support.databases import TestDatabase
from tests.support.dns import DnsZone
from tests.support.server import LiveServer
from tests.support.smtp import SmtpSink
from tests.support.stories import Stories


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    test_database = TestDatabase(tmp_path_factory.mktemp("db"))
    test_database.create()
    upgrade(test_database.url)
    yield test_database
    test_database.drop()


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def dns_zone() -> Iterator[DnsZone]:
    zone = DnsZone()
    zone.start()
    yield zone
    zone.stop()


@pytest.fixture(scope="session")
def settings(
    database: TestDatabase,
    smtp: SmtpSink,
    dns_zone: DnsZone,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return Settings(
        dns_nameservers=dns_zone.nameserver,
        dns_timeout=1.0,
        database_url=database.url,
        smtp_url=smtp.url,
        dev_mailbox=True,
        data_dir=tmp_path_factory.mktemp("data"),
        # Every server of the suite on this database shares it (core/keyring.py): the ones
        # a test starts itself too, unless the test is about another key.
        secret_key="tenantry-test-master-key-" + "0" * 24,
        worker_poll_seconds=0.2,
        # Tests assert behaviour, not hashing cost: a cheap argon2id profile.
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        signup_rate_per_hour=1_000_000,
        signin_rate_per_minute=1_000_000,
        # Tests pick each request's origin with X-Forwarded-For, as a proxy on this host would.
        trusted_proxies="127.0.0.1",
        # Races are raced on purpose (twenty sign-ups at once): the server runs them all
        # rather than shedding some; tests/test_request_admission.py tests the shedding.
        max_concurrent_requests=0,
        # Tests run the subscription lifecycle job themselves (`tenantry subscription tick`).
        lifecycle_interval_seconds=86_400,
    )


@pytest.fixture(scope="session")
def server(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(settings)
    live.start()
    yield live
    live.stop()


@pytest.fixture(autouse=True)
def clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with empty tables, an empty SMTP inbox and the real time."""
    if "server" in request.fixturenames or "database" in request.fixturenames:
        database = request.getfixturevalue("database")
        # Mail the previous test queued is delivered first, so that it cannot land in this
        # test's inbox after the inbox is emptied.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and database.scalar(
            "SELECT count(*) FROM outbox_messages WHERE status = 'pending'"
        ):
            time.sleep(0.02)
        database.truncate()
        request.getfixturevalue("smtp").clear()
        request.getfixturevalue("dns_zone").clear()
    clock.reset()
    yield
    clock.reset()


@pytest.fixture()
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture()
def stories(api: httpx.Client, smtp: SmtpSink, server: LiveServer) -> Stories:
    return Stories(api=api, smtp=smtp, server=server)
