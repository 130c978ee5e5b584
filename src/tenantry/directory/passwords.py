"""Temporary passwords: generated, shown once, changed at the next sign-in.

A generated password carries about 95 bits of randomness, so the slow argon2id
profile that protects passwords people choose adds nothing to it; it is hashed
with a light argon2id profile instead (the same verifier reads both, the
parameters are in the hash). That keeps a CSV import of thousands of users with
generated passwords to seconds. The password the user then picks gets the full
profile.
"""

from __future__ import annotations

import asyncio
import secrets
import string

from argon2 import PasswordHasher

_ALPHABET = string.ascii_letters + string.digits
_LIGHT = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def generate() -> str:
    """A random 16-character password with lower case, upper case and digits."""
    while True:
        password = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


async def hash_generated(password: str) -> str:
    """The light argon2id hash of a generated password, computed in a worker thread."""
    return await asyncio.to_thread(_LIGHT.hash, password)
