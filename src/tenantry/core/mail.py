"""The outbox: emails written with the change that causes them, delivered by a worker.

A message is inserted in the same transaction as the change. Workers (one per
`tenantry serve` process, any number of processes) claim due messages with
`FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has one writer, so the claim is
already exclusive) and a lease: a worker killed mid-delivery leaves a lease that
expires, after which another worker retries the message. Delivery is at least
once. Without `TENANTRY_SMTP_URL`, messages go to the development mailbox
(`/dev/mailbox`, `tenantry mail list`) instead of SMTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import (
    Index,
    Integer,
    Select,
    String,
    Text,
    Uuid,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.db import Base, Database, UTCDateTime, new_id, wake_after_commit
from tenantry.core.i18n import DEFAULT_LANGUAGE, translate

log = logging.getLogger("tenantry.mail")

LEASE = timedelta(minutes=2)


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        Index("ix_outbox_messages_recipient", "recipient"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID | None]
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    transport: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
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
) -> OutboxMessage:
    """Write an email to the outbox as part of the current unit of work."""
    now = clock.now()
    message = OutboxMessage(
        tenant_id=tenant_id,
        recipient=recipient,
        subject=subject,
        body_text=body_text,
        status="pending",
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
    )


async def enqueue_select(
    db_session: AsyncSession,
    *,
    recipients: Select[tuple[str]],
    subject: str,
    body_text: str,
    tenant_id: uuid.UUID | None = None,
) -> int:
    """Write one email per address that `recipients` selects, in one INSERT … SELECT.

    Returns how many messages were written. The ids come from the database, so
    no row passes through Python however many recipients there are.
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
    email["Message-ID"] = make_msgid(idstring=str(message.id), domain="tenantry")
    email.set_content(message.body_text)
    return email


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

    async def claim(self) -> list[OutboxMessage]:
        """Lease a batch of due messages to this worker."""
        now = clock.now()
        conditions = (
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        if not await self.database.may_find(select(OutboxMessage.id).where(*conditions)):
            return []
        async with self.database.unit_of_work() as db_session:
            due = (
                select(OutboxMessage)
                .where(*conditions)
                .order_by(OutboxMessage.next_attempt_at)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            messages = list((await db_session.scalars(due)).all())
            for message in messages:
                message.claimed_until = now + LEASE
        return messages

    async def deliver_due(self) -> int:
        """Deliver one batch; returns how many messages were handled."""
        messages = await self.claim()
        for message in messages:
            error, final = await self._send(message)
            await self._settle(message, error, final=final)
        return len(messages)

    async def _send(self, message: OutboxMessage) -> tuple[str | None, bool]:
        """None when sent, else the error; and whether trying again cannot help."""
        if self._smtp is None:
            return None, False  # the development mailbox is the outbox table itself
        target = self._smtp
        try:
            email = build_email(self.settings, message)
        except ValueError as exc:  # e.g. a header holding a line break: never sendable
            return f"the message cannot be written as an email: {exc}"[:2000], True
        try:
            await aiosmtplib.send(
                email,
                hostname=target.hostname,
                port=target.port,
                username=target.username,
                password=target.password,
                use_tls=target.use_tls,
                timeout=self.settings.smtp_timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"[:2000], False
        return None, False

    async def _settle(self, message: OutboxMessage, error: str | None, *, final: bool) -> None:
        now = clock.now()
        values: dict[str, object] = {"claimed_until": None, "attempts": OutboxMessage.attempts + 1}
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
            await db_session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values)
            )


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
