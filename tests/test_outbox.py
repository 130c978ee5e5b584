"""The outbox: delivered over real SMTP, retried when the server is down, claimed once."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tenantry.cli.main import app as cli_app
from tenantry.core import mail
from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.mail import OutboxMessage, OutboxWorker, enqueue
from tenantry.core.migrate import upgrade
from tenantry.directory.models import User
from tenantry.domains import messaging as domain_messaging
from tenantry.signup import messaging as signup_messaging
from tenantry.signup.models import Signup
from tenantry.tenants.models import Tenant
from tests.support.databases import TestDatabase
from tests.support.smtp import SmtpSink


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _write(database: Database, recipient: str) -> None:
    async with database.unit_of_work() as db_session:
        enqueue(db_session, recipient=recipient, subject="Hello", body_text="Body text")


@pytest.fixture(scope="module")
def outbox_database(tmp_path_factory):
    """A database of its own: the live server's worker must not deliver these messages."""
    isolated = TestDatabase(tmp_path_factory.mktemp("outbox"))
    isolated.create()
    upgrade(isolated.url)
    yield isolated
    isolated.drop()


@pytest.fixture()
def outbox_db(outbox_database):
    outbox_database.truncate()
    return outbox_database


def test_failed_delivery_is_retried_later_then_delivered(settings: Settings, outbox_db, smtp):
    async def scenario() -> None:
        db = Database(outbox_db.url)
        try:
            await _write(db, "retry@contoso.com")
            down = OutboxWorker(
                db, settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{_dead_port()}"})
            )
            assert await down.deliver_due() == 1
            status, attempts, error = outbox_db.rows(
                "SELECT status, attempts, last_error FROM outbox_messages"
            )[0]
            assert status == "pending" and attempts == 1 and error
            # Not due again until the backoff has passed.
            up = OutboxWorker(db, settings)
            assert await up.deliver_due() == 0
            clock.advance(minutes=1)
            assert await up.deliver_due() == 1
        finally:
            await db.dispose()

    asyncio.run(scenario())
    (mail,) = smtp.wait_for("retry@contoso.com")
    assert mail.subject == "Hello"
    assert outbox_db.scalar("SELECT status FROM outbox_messages") == "sent"


def test_a_message_claimed_by_a_worker_that_died_is_delivered_once_its_lease_ends(
    settings: Settings, outbox_db, smtp
):
    async def scenario() -> tuple[int, int, int]:
        db = Database(outbox_db.url)
        try:
            await _write(db, "orphan@contoso.com")
            dying = OutboxWorker(db, settings)
            assert await dying.claim() is not None  # then the process is killed: never sent
            survivor = OutboxWorker(db, settings)
            during_lease = await survivor.deliver_due()
            clock.advance(minutes=3)  # the lease (2 minutes) has run out
            after_lease = await survivor.deliver_due()
            return during_lease, after_lease, await survivor.deliver_due()
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == (0, 1, 0)
    (mail,) = smtp.wait_for("orphan@contoso.com")
    assert mail.subject == "Hello"
    assert outbox_db.scalar("SELECT status FROM outbox_messages") == "sent"


def test_a_message_that_cannot_be_an_email_fails_at_once_and_the_others_go(
    settings: Settings, outbox_db, smtp
):
    async def scenario() -> int:
        db = Database(outbox_db.url)
        try:
            async with db.unit_of_work() as db_session:
                enqueue(db_session, recipient="a@contoso.com", subject="A\r\nBcc: x", body_text="")
            await _write(db, "fine@contoso.com")
            return await OutboxWorker(db, settings).deliver_due()
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == 2
    smtp.wait_for("fine@contoso.com")
    status, attempts, error = outbox_db.rows(
        "SELECT status, attempts, last_error FROM outbox_messages WHERE recipient = 'a@contoso.com'"
    )[0]
    assert (status, attempts) == ("failed", 1) and "cannot be written as an email" in error


def test_a_message_gives_up_after_the_maximum_attempts(settings: Settings, outbox_db):
    async def scenario() -> None:
        db = Database(outbox_db.url)
        try:
            await _write(db, "never@contoso.com")
            down = OutboxWorker(
                db,
                settings.model_copy(
                    update={
                        "smtp_url": f"smtp://127.0.0.1:{_dead_port()}",
                        "outbox_max_attempts": 2,
                    }
                ),
            )
            await down.deliver_due()
            clock.advance(hours=2)
            await down.deliver_due()
        finally:
            await db.dispose()

    asyncio.run(scenario())
    assert outbox_db.scalar("SELECT status FROM outbox_messages") == "failed"


def test_two_workers_never_claim_the_same_message(settings: Settings, outbox_db):
    async def scenario() -> tuple[int, int]:
        db = Database(outbox_db.url)
        try:
            for i in range(30):
                await _write(db, f"p{i}@contoso.com")
            first, second = OutboxWorker(db, settings), OutboxWorker(db, settings)
            claimed = await asyncio.gather(*(w.claim() for w in [first, second] * 16))
            ids = [m.id for m in claimed if m is not None]
            return len(ids), len(set(ids))
        finally:
            await db.dispose()

    claimed, distinct = asyncio.run(scenario())
    assert claimed == distinct == 30  # 32 claims: 30 messages, then nothing is left
    leased = outbox_db.scalar(
        "SELECT count(*) FROM outbox_messages WHERE claimed_until IS NOT NULL"
    )
    assert leased == distinct


@pytest.fixture()
def slow_relay() -> Iterator[SmtpSink]:
    relay = SmtpSink(delay=0.3)
    relay.start()
    yield relay
    relay.stop()


async def _until_nothing_is_pending(db: Database, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    pending = select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")
    while time.monotonic() < deadline:
        async with db.unit_of_work(readonly=True) as db_session:
            if not await db_session.scalar(pending):
                return
        await asyncio.sleep(0.1)
    raise AssertionError("messages still pending")


def test_two_workers_and_a_slow_relay_deliver_each_message_exactly_once(
    settings: Settings, outbox_db, slow_relay, monkeypatch
):
    # 20 messages to a relay taking 0.3 s each: 6 s for one worker, longer than a lease of
    # 4 s. A worker that leased all 20 at once would still be sending when its lease of the
    # last ones ran out, and the other worker would claim and send them too.
    monkeypatch.setattr(mail, "LEASE", timedelta(seconds=4))
    relay_settings = settings.model_copy(update={"smtp_url": slow_relay.url})

    async def scenario() -> None:
        db = Database(outbox_db.url)
        workers = [OutboxWorker(db, relay_settings) for _ in range(2)]
        try:
            async with db.unit_of_work() as db_session:
                for i in range(20):
                    enqueue(db_session, recipient=f"p{i}@contoso.com", subject="Hi", body_text="")
            running = [asyncio.create_task(worker.run()) for worker in workers]
            await _until_nothing_is_pending(db)
            await asyncio.sleep(1.5)  # a worker still sending a delivered message would be done
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        finally:
            await db.dispose()

    asyncio.run(scenario())
    received = Counter(address for sent in slow_relay.messages for address in sent.recipients)
    assert received == {f"p{i}@contoso.com": 1 for i in range(20)}
    assert outbox_db.rows("SELECT DISTINCT status, attempts FROM outbox_messages") == [("sent", 1)]


def test_a_worker_that_lost_its_lease_neither_sends_nor_settles(
    settings: Settings, outbox_db, smtp
):
    async def scenario() -> None:
        db = Database(outbox_db.url)
        try:
            await _write(db, "late@contoso.com")
            stalled, other = OutboxWorker(db, settings), OutboxWorker(db, settings)
            claimed = await stalled.claim()
            assert claimed is not None
            clock.advance(minutes=3)  # the stalled process wakes up after its lease ended
            assert await other.deliver_due() == 1
            smtp.wait_for("late@contoso.com")
            await stalled.deliver(claimed)
            clock.advance(hours=2)
            assert await other.deliver_due() == 0  # a sent message is never claimed again
        finally:
            await db.dispose()

    asyncio.run(scenario())
    time.sleep(0.3)
    assert len(smtp.to("late@contoso.com")) == 1
    assert outbox_db.rows("SELECT status, attempts, last_error FROM outbox_messages") == [
        ("sent", 1, None)
    ]


def test_a_code_written_after_fifty_bulk_messages_is_delivered_first(
    settings: Settings, outbox_db, smtp
):
    async def scenario() -> None:
        db = Database(outbox_db.url)
        tenant = Tenant(id=uuid.uuid4(), display_name="Contoso")
        try:
            async with db.unit_of_work() as db_session:
                for i in range(50):
                    person = User(
                        display_name=f"Person {i}",
                        user_principal_name=f"p{i}@contoso.com",
                        mail=f"p{i}@contoso.com",
                        preferred_language="en",
                    )
                    domain_messaging.send_moved(
                        db_session=db_session, user=person, tenant=tenant, domain="contoso.com"
                    )
            clock.advance(seconds=1)
            async with db.unit_of_work() as db_session:
                signup = Signup(email="lea@contoso.com", language="en", display_name="Léa")
                signup_messaging.send_code(
                    db_session=db_session, signup=signup, code="123456", minutes=10
                )
            worker = OutboxWorker(db, settings)
            while await worker.deliver_due():
                pass
        finally:
            await db.dispose()

    asyncio.run(scenario())
    smtp.wait_for("p49@contoso.com")
    first, *rest = [sent.recipients[0] for sent in smtp.messages]
    assert first == "lea@contoso.com"
    assert len(rest) == 50


def test_mail_list_reads_the_development_mailbox(stories, server, monkeypatch):
    stories.start_signup("ariane@contoso.com", "Ariane")
    monkeypatch.setenv("TENANTRY_DATABASE_URL", server.settings.database_url)
    result = CliRunner().invoke(cli_app, ["mail", "list", "--to", "ariane@contoso.com", "--json"])
    assert result.exit_code == 0, result.output
    (message,) = json.loads(result.stdout)
    assert message["to"] == "ariane@contoso.com"
    assert "code" in message["subject"].lower()
