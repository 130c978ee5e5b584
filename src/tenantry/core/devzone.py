"""The development DNS zone: TXT records that `tenantry serve --dev` answers instead of DNS.

A newcomer on a fresh machine has no domain to publish a record at and no DNS server to
run. In development mode (`TENANTRY_DEV_MODE`, set by `tenantry serve --dev`), every TXT
lookup of domain verification (`core.dns.lookup_txt`) reads this zone instead of asking a
resolver; records are published on the `/dev/dns` page, by `tenantry dev dns publish`, or
with one click from the wizard's step 3 and the Domains page. Outside development mode
the zone is never read and none of those exist.

The records live in the database, so every worker of the server sees the same zone.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.clock import clock
from tenantry.core.db import Base, new_id
from tenantry.core.errors import InvalidRequest, NotFound

MAX_VALUE = 255  # one TXT character-string


class DevDnsRecord(Base):
    __tablename__ = "dev_dns_records"
    __table_args__ = (Index("ix_dev_dns_records_name", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(253))  # lower case, no trailing dot
    value: Mapped[str] = mapped_column(String(MAX_VALUE))
    created_at: Mapped[datetime]


class InvalidDevRecord(InvalidRequest):
    code = "invalidDevRecord"


def normalise_name(name: str) -> str:
    """`Contoso.COM.` → `contoso.com`; InvalidDevRecord when it is not a host name."""
    cleaned = name.strip().rstrip(".").lower()
    try:  # a name shown in its Unicode form (bücher.de) is looked up in its ASCII one
        cleaned = cleaned.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise InvalidDevRecord(f"{name!r} is not a DNS name.", target="name") from error
    labels = cleaned.split(".")
    if (
        not cleaned
        or len(cleaned) > 253
        or any(not label or len(label) > 63 for label in labels)
        or any(not (c.isalnum() or c in "-_") for c in cleaned.replace(".", ""))
    ):
        raise InvalidDevRecord(f"{name!r} is not a DNS name.", target="name")
    return cleaned


async def publish(db_session: AsyncSession, *, name: str, value: str) -> DevDnsRecord:
    """Add a TXT record (the same name and value twice is one record)."""
    name = normalise_name(name)
    value = value.strip()
    if not value or len(value) > MAX_VALUE or not value.isprintable():
        raise InvalidDevRecord(
            f"A TXT value is 1 to {MAX_VALUE} printable characters.", target="value"
        )
    existing = await db_session.scalar(
        select(DevDnsRecord).where(DevDnsRecord.name == name, DevDnsRecord.value == value)
    )
    if existing is not None:
        return existing
    record = DevDnsRecord(name=name, value=value, created_at=clock.now())
    db_session.add(record)
    await db_session.flush()
    return record


async def remove(db_session: AsyncSession, record_id: uuid.UUID) -> None:
    removed = await db_session.execute(delete(DevDnsRecord).where(DevDnsRecord.id == record_id))
    if not removed.rowcount:  # type: ignore[attr-defined]
        raise NotFound("No such record in the development zone.")


async def records(db_session: AsyncSession) -> list[DevDnsRecord]:
    """Every record, by name then age."""
    found = await db_session.scalars(
        select(DevDnsRecord).order_by(DevDnsRecord.name, DevDnsRecord.created_at)
    )
    return list(found)


async def txt_at(db_session: AsyncSession, name: str) -> tuple[str, ...]:
    """The TXT values published at `name` (what a resolver would answer)."""
    try:
        name = normalise_name(name)
    except InvalidDevRecord:
        return ()
    values = await db_session.scalars(
        select(DevDnsRecord.value)
        .where(DevDnsRecord.name == name)
        .order_by(DevDnsRecord.created_at)
    )
    return tuple(values)


def record_view(record: DevDnsRecord) -> dict[str, str]:
    return {
        "id": str(record.id),
        "name": record.name,
        "type": "TXT",
        "value": record.value,
        "createdDateTime": record.created_at.isoformat(),
    }
