"""The outbox: emails written with the change that causes them, delivered by a worker.

A message is inserted in the same transaction as the change. Workers (one per
`tenantry serve` process, any number of processes) claim due messages one at a
time, the most urgent first (`Priority`: codes and security notices before
bulk), with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has one writer, so
the claim is already exclusive) and a lease.

A lease is held by one claim (`claimed_by`, a token of its own) and covers one
send: the worker sends only while its lease has `LEASE_MARGIN` left and gives
up the send when it runs that close, so no other worker can claim a message
while it is being sent; a message is settled (sent, or scheduled again) only by
the claim that holds it, and a sent message is never claimed again. Recording
one message's outcome and claiming the next are one write transaction, so
claiming one at a time costs no more writes than claiming batches did. A worker
killed mid-delivery leaves a lease that expires, after which another worker
retries the message: delivery is at least once, and more than once only when a
worker dies (or the relay times out) after the relay accepted the message and
before the worker recorded it. Without `TENANTRY_SMTP_URL`, messages go to the
development mailbox (`/dev/mailbox`, `tenantry mail list`) instead of SMTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from enum import IntEnum
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import (
    ColumnElement,
    Index,
    Integer,
    Select,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.db import Base, Database, UTCDateTime, new_id, wake_after_commit
from tenantry.core.i18n import DEFAULT_LANGUAGE, translate

log = logging.getLogger("tenantry.mail")

# How long a claim holds a message; a send must end `LEASE_MARGIN` before its lease
# does (that margin covers the settling write and clocks of processes that differ).
LEASE = timedelta(minutes=2)


def lease_margin() -> timedelta:
    """The part of a lease no send may use (a quarter: 30 s of the 2 minutes)."""
    return LEASE / 4


class Priority(IntEnum):
    """Which mail a worker sends first: the lowest number that is due."""

    URGENT = 0  # someone is waiting for it: sign-up codes, password and security notices
    NORMAL = 1
    BULK = 2  # to many people at once: "write to everyone", offer and move notices


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The claim's order: due messages of the highest priority, the oldest first.
        Index("ix_outbox_messages_claim", "status", "priority", "next_attempt_at"),
        Index("ix_outbox_messages_recipient", "recipient"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID | None]
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    priority: Mapped[int] = mapped_column(
        SmallInteger, default=Priority.NORMAL, server_default=text(str(int(Priority.NORMAL)))
    )
    transport: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    # The claim that holds the lease: only it may settle the message.
    claimed_by: Mapped[uuid.UUID | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


def enqueue(
    db_session: AsyncSession,
    *,
    recipient: str,
    subject: str,
    body_text: str,
    tenant_id: uuid.UUID | None = None,
    priority: Priority = Priority.NORMAL,
) -> OutboxMessage:
    """Write an email to the outbox as part of the current unit of work."""
    now = clock.now()
    message = OutboxMessage(
        tenant_id=tenant_id,
        recipient=recipient,
        subject=subject,
        body_text=body_text,
        status="pending",
        priority=priority,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db_session.add(message)
    wake_after_commit(db_session, "outbox")
    return message


def enqueue_translated(
    db_session: AsyncSession,
    *,
    recipient: str,
    language: str | None,
    message: str,
    tenant_id: uuid.UUID | None = None,
    priority: Priority = Priority.NORMAL,
    **params: Any,
) -> OutboxMessage:
    """Write the email `mail.<message>` (its `.subject` and `.body` translations) in
    `language` (English when unknown) to the outbox; `params` fill both."""
    language = language or DEFAULT_LANGUAGE
    return enqueue(
        db_session,
        recipient=recipient,
        subject=translate(language, f"mail.{message}.subject", **params),
        body_text=translate(language, f"mail.{message}.body", **params),
        tenant_id=tenant_id,
        priority=priority,
    )


async def enqueue_select(
    db_session: AsyncSession,
    *,
    recipients: Select[tuple[str]],
    subject: str,
    body_text: str,
    tenant_id: uuid.UUID | None = None,
    priority: Priority = Priority.BULK,
) -> int:
    """Write one email per address that `recipients` selects, in one INSERT … SELECT.

    Returns how many messages were written. The ids come from the database, so
    no row passes through Python however many recipients there are. Mail to a
    whole selection is bulk unless said otherwise.
    """
    now = clock.now()
    dialect = db_session.get_bind().dialect.name
    # SQLAlchemy keeps UUIDs on SQLite as 32 hex digits.
    new_uuid = (
        func.gen_random_uuid()
        if dialect == "postgresql"
        else func.lower(func.hex(func.randomblob(16)))
    )
    address = recipients.selected_columns[0]
    rows = recipients.with_only_columns(
        new_uuid,
        literal(tenant_id, Uuid()),
        address,
        literal(subject, String()),
        literal(body_text, Text()),
        literal("pending", String()),
        literal(int(priority), SmallInteger()),
        literal(0, Integer()),
        literal(now, UTCDateTime()),
        literal(now, UTCDateTime()),
    )
    statement = (
        insert(OutboxMessage.__table__)
        .from_select(
            [
                "id",
                "tenant_id",
                "recipient",
                "subject",
                "body_text",
                "status",
                "priority",
                "attempts",
                "next_attempt_at",
                "created_at",
            ],
            rows,
        )
        .execution_options(preserve_rowcount=True)  # an INSERT's rowcount is not kept otherwise
    )
    result = await db_session.execute(statement)
    written = max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    if written:
        wake_after_commit(db_session, "outbox")
    return written


@dataclass(frozen=True)
class SmtpTarget:
    hostname: str
    port: int
    use_tls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://[user:pass@]host[:port]` (STARTTLS when offered) or `smtps://` (implicit TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"TENANTRY_SMTP_URL must look like smtp://host:port, not {url!r}")
    use_tls = parts.scheme == "smtps"
    return SmtpTarget(
        hostname=parts.hostname,
        port=parts.port or (465 if use_tls else 25),
        use_tls=use_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def build_email(settings: Settings, message: OutboxMessage) -> EmailMessage:
    """The RFC 5322 message for an outbox row."""
    email = EmailMessage()
    email["From"] = settings.smtp_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    # The same id at every attempt, so that a receiver can tell a message sent twice.
    email["Message-ID"] = f"<{message.id}@tenantry>"
    email.set_content(message.body_text)
    return email


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions of a message a worker may claim now."""
    return (
        OutboxMessage.status == "pending",
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


async def _claim_next(db_session: AsyncSession) -> OutboxMessage | None:
    """Lease the most urgent due message to a new claim (a token of its own), if any."""
    now = clock.now()
    due = (
        select(OutboxMessage)
        .where(*_due(now))
        .order_by(OutboxMessage.priority, OutboxMessage.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    message = await db_session.scalar(due)
    if message is not None:
        message.claimed_until = now + LEASE
        message.claimed_by = uuid.uuid4()
    return message


class OutboxWorker:
    """Delivers due outbox messages, woken early when a request wrote one."""

    def __init__(self, database: Database, settings: Settings, *, batch_size: int = 20) -> None:
        self.database = database
        self.settings = settings
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        self._smtp = parse_smtp_url(settings.smtp_url) if settings.smtp_url else None

    def wake(self) -> None:
        """Ask the worker to look for due messages now."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            try:
                delivered = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox delivery round failed")
                delivered = 0
            if delivered >= self.batch_size:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.worker_poll_seconds)

    async def claim(self) -> OutboxMessage | None:
        """Lease the most urgent due message to a new claim of this worker, if there is one."""
        if not await self.database.may_find(select(OutboxMessage.id).where(*_due(clock.now()))):
            return None
        async with self.database.unit_of_work() as db_session:
            return await _claim_next(db_session)

    async def deliver_due(self) -> int:
        """Deliver up to a batch of due messages, claiming each just before sending it (so a
        message that became due meanwhile and is more urgent goes next); returns how many
        were handled."""
        handled = 0
        message = await self.claim()
        while message is not None:
            handled += 1
            message = await self.deliver(message, claim_next=handled < self.batch_size)
        return handled

    async def deliver(
        self, message: OutboxMessage, *, claim_next: bool = False
    ) -> OutboxMessage | None:
        """Send a message this worker claimed, while its lease lasts, and record the outcome;
        with `claim_next`, the same write claims the next message and returns it."""
        error, final = await self._send(message)
        return await self._settle(message, error, final=final, claim_next=claim_next)

    async def _send(self, message: OutboxMessage) -> tuple[str | None, bool]:
        """None when sent, else the error; and whether trying again cannot help."""
        if self._smtp is None:
            return None, False  # the development mailbox is the outbox table itself
        target = self._smtp
        try:
            email = build_email(self.settings, message)
        except ValueError as exc:  # e.g. a header holding a line break: never sendable
            return f"the message cannot be written as an email: {exc}"[:2000], True
        assert message.claimed_until is not None
        # Within the lease only: once it ends, another worker may claim the message.
        budget = (message.claimed_until - lease_margin() - clock.now()).total_seconds()
        if budget <= 0:
            return "the lease ran out before the message could be sent", False
        try:
            async with asyncio.timeout(budget):
                await aiosmtplib.send(
                    email,
                    hostname=target.hostname,
                    port=target.port,
                    username=target.username,
                    password=target.password,
                    use_tls=target.use_tls,
                    timeout=self.settings.smtp_timeout,
                )
        except (aiosmtplib.SMTPException, OSError) as exc:  # its own timeouts included
            return f"{type(exc).__name__}: {exc}"[:2000], False
        except TimeoutError:
            return f"the SMTP server did not take the message within {budget:.0f} s", False
        return None, False

    async def _settle(
        self, message: OutboxMessage, error: str | None, *, final: bool, claim_next: bool
    ) -> OutboxMessage | None:
        now = clock.now()
        values: dict[str, object] = {
            "claimed_until": None,
            "claimed_by": None,
            "attempts": OutboxMessage.attempts + 1,
        }
        if error is None:
            values.update(status="sent", sent_at=now, transport="smtp" if self._smtp else "mailbox")
        else:
            attempts = message.attempts + 1
            log.warning("email to %s failed (attempt %d): %s", message.recipient, attempts, error)
            backoff = timedelta(seconds=min(3600, 5 * 2**attempts))
            values.update(last_error=error, next_attempt_at=now + backoff)
            if final or attempts >= self.settings.outbox_max_attempts:
                values["status"] = "failed"
        async with self.database.unit_of_work() as db_session:
            result = await db_session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message.id,
                    OutboxMessage.claimed_by == message.claimed_by,
                    OutboxMessage.status == "pending",
                )
                .values(**values)
            )
            # One write for this message's outcome and the next claim (SQLite: one lock).
            next_message = await _claim_next(db_session) if claim_next else None
        if not result.rowcount:  # type: ignore[attr-defined]
            # Only when this process stalled past its lease: another claim holds it now.
            log.warning("email %s to %s: its lease was lost", message.id, message.recipient)
        return next_message


async def mailbox(
    database: Database, *, recipient: str | None = None, limit: int = 50
) -> list[OutboxMessage]:
    """The newest messages of the development mailbox, optionally for one recipient."""
    if recipient and "\x00" in recipient:
        return []  # no address holds U+0000, and PostgreSQL cannot compare text holding it
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(limit)
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient.strip().lower())
    async with database.unit_of_work(readonly=True) as db_session:
        return list((await db_session.scalars(query)).all())
