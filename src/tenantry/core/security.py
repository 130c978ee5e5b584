"""Password hashing (argon2id, off the event loop), opaque tokens and one-time codes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults (RFC 9106 "low memory" profile): argon2id, t=3, m=64 MiB, p=4.
password_hasher = PasswordHasher()

# A hash of a random password, verified when the user does not exist so that a
# sign-in for an unknown address costs as long as one for a known address.
_DUMMY_HASH = password_hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    """The argon2id hash of a password, computed in a worker thread."""
    return await asyncio.to_thread(password_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return password_hasher.verify(password_hash or _DUMMY_HASH, password) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches the hash; constant work for a missing hash."""
    return await asyncio.to_thread(_verify, password_hash, password)


def new_token(nbytes: int = 32) -> str:
    """A random URL-safe secret for a bearer token, session or API key."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """The SHA-256 of a high-entropy token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_code(digits: int = 6) -> str:
    """A numeric one-time code."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def code_digest(secret: bytes, context: str, code: str) -> str:
    """A keyed hash of a one-time code, bound to its context (the sign-up id).

    Codes are short, so a plain hash could be reversed by trying them all; the
    server's secret key makes that impossible without the key.
    """
    return hmac.new(secret, f"{context}:{code}".encode(), hashlib.sha256).hexdigest()


def digests_match(left: str, right: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(left.encode(), right.encode())
