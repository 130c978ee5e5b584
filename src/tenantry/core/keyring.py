"""The secret every server of one database shares, kept in that database, sealed.

Codes, CSRF tokens, flash messages, lockout fingerprints and the entitlement-token
signing key (core/signing.py) all derive from one secret. Servers on one database must
hold the same, or a sign-up started on one cannot be finished on another. It lives in the
database's `server_secrets` table, sealed (AES-256-GCM) with a key derived from the
**master key** — `TENANTRY_SECRET_KEY`, or for a single server without it, the key
generated into its data directory — as ZITADEL keeps its keys under its masterkey: a
stolen backup of the database alone opens nothing and forges nothing.

The first server to start seals its own master key as the shared secret (so a server that
ran before this table existed keeps its secret, and nothing it signed breaks); every
other server opens it with its master key. A server whose master key does not open it
refuses to start, naming `TENANTRY_SECRET_KEY`, instead of failing sign-ups later.
"""

from __future__ import annotations

import base64
import os
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import String, Text, create_engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.clock import clock
from tenantry.core.db import Base, configure_sqlite, sync_url

SHARED_SECRET = "shared-secret"
_INFO = b"tenantry/keyring/aes-256-gcm/v1"


class ServerSecret(Base):
    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)  # base64 of nonce (12 bytes) + ciphertext
    created_at: Mapped[datetime]


class KeyringMismatch(RuntimeError):
    """This server's master key does not open the database's shared secret."""


def _cipher(master_key: bytes) -> AESGCM:
    kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master_key)
    return AESGCM(kek)


def seal(master_key: bytes, secret: bytes) -> str:
    nonce = os.urandom(12)
    sealed = _cipher(master_key).encrypt(nonce, secret, SHARED_SECRET.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(master_key: bytes, sealed: str) -> bytes:
    raw = base64.b64decode(sealed)
    try:
        return _cipher(master_key).decrypt(raw[:12], raw[12:], SHARED_SECRET.encode())
    except InvalidTag as error:
        raise KeyringMismatch(
            "This server's master key does not open the keys kept in the database: another "
            "server created them with another key. Set TENANTRY_SECRET_KEY to the same value "
            "on every server of this database (for a server that ran without it: the content "
            "of its data directory's secret_key file)."
        ) from error


def shared_secret(database_url: str, master_key: bytes) -> bytes:
    """The database's shared secret, opened with `master_key`; sealed from it on first use.

    Two servers starting at once both try to insert: the primary key keeps the first, and
    both then read the same row.
    """
    engine = create_engine(sync_url(database_url))
    if engine.dialect.name == "sqlite":
        configure_sqlite(engine)
    try:
        with engine.begin() as connection:
            insert_for = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
            connection.execute(
                insert_for(ServerSecret)
                .values(
                    name=SHARED_SECRET,
                    sealed=seal(master_key, master_key),
                    created_at=clock.now(),
                )
                .on_conflict_do_nothing(index_elements=["name"])
            )
            sealed = connection.execute(
                select(ServerSecret.sealed).where(ServerSecret.name == SHARED_SECRET)
            ).scalar_one()
    finally:
        engine.dispose()
    return unseal(master_key, sealed)
