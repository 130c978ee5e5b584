"""The outbox: delivered over real SMTP, retried when the server is down, claimed once."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from typer.testing import CliRunner

from tenantry.cli.main import app as cli_app
from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.mail import OutboxWorker, enqueue
from tenantry.core.migrate import upgrade
from tests.support.databases import TestDatabase


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
            assert len(await dying.claim()) == 1  # then the process is killed: never sent
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
            claimed = await asyncio.gather(first.claim(), second.claim())
            ids = [m.id for batch in claimed for m in batch]
            return len(ids), len(set(ids))
        finally:
            await db.dispose()

    claimed, distinct = asyncio.run(scenario())
    assert claimed == distinct == 30  # batches of 20: one worker got 20, the other the last 10
    leased = outbox_db.scalar(
        "SELECT count(*) FROM outbox_messages WHERE claimed_until IS NOT NULL"
    )
    assert leased == distinct


def test_mail_list_reads_the_development_mailbox(stories, server, monkeypatch):
    stories.start_signup("ariane@contoso.com", "Ariane")
    monkeypatch.setenv("TENANTRY_DATABASE_URL", server.settings.database_url)
    result = CliRunner().invoke(cli_app, ["mail", "list", "--to", "ariane@contoso.com", "--json"])
    assert result.exit_code == 0, result.output
    (message,) = json.loads(result.stdout)
    assert message["to"] == "ariane@contoso.com"
    assert "code" in message["subject"].lower()
