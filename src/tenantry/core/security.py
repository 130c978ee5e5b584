"""Password hashing (argon2id, off the event loop), opaque tokens and one-time codes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import math
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tenantry.core.admission import place_given_up
from tenantry.core.errors import ServiceUnavailable

T = TypeVar("T")

# argon2-cffi's defaults (RFC 9106 "low memory" profile): argon2id, t=3, m=64 MiB, p=4.
password_hasher = PasswordHasher()

# A hash of a random password, verified when the user does not exist so that a
# sign-in for an unknown address costs as long as one for a known address.
# Made on first use: an argon2id hash at import would slow every command down.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = password_hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def configure_hashing(*, time_cost: int, memory_kib: int, parallelism: int) -> None:
    """Use these argon2id parameters for new hashes (existing hashes carry their own)."""
    global password_hasher, _DUMMY_HASH
    current = password_hasher
    if (current.time_cost, current.memory_cost, current.parallelism) == (
        time_cost,
        memory_kib,
        parallelism,
    ):
        return
    password_hasher = PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
    )
    _DUMMY_HASH = None


# Hashes run in a pool of their own, at a lower CPU priority than the rest of the
# server. A burst of sign-ups or sign-ins keeps every core busy hashing; at the
# same priority, the dozens of argon2 threads (one per lane, `parallelism` per
# hash) would crowd out the event loop and the database threads, so a request
# holding the database (SQLite's write lock) would wait behind hashes between
# statements while every other writer waits behind it. Lower, they still get
# every cycle the requests do not need. The pool is bounded so that a burst
# queues in arrival order instead of starting one 64 MiB hash per request, and
# so is its queue (admission control): past it, a request that needs a hash is
# refused at once with 503 and `Retry-After` instead of waiting behind seconds of
# hashes, holding its connection and memory while the line only grows.
HASH_WORKERS = os.cpu_count() or 1
HASH_QUEUE_PER_WORKER = 8  # the default queue: about eight hashes' time of waiting at most
HASH_NICENESS = 10


def lower_priority() -> None:
    """Give the calling thread (and the threads it starts) the hashing priority."""
    # Linux keeps niceness per thread, and argon2's lane threads inherit it.
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


class HashingBusy(ServiceUnavailable):
    """503 `serviceUnavailable`: every hashing slot and its queue are taken."""

    message_key = "serviceBusy"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "The service is busy checking passwords just now. Try again in a moment.",
            retry_after=retry_after,
        )


class HashPool:
    """`workers` threads hashing, at most `queue_depth` hashes waiting for one.

    A hash counts from the moment it is admitted until its thread finishes it, even
    when the request that asked for it has gone (a cancelled await does not stop a
    thread), so the bound holds on the work really queued. One pool serves the whole
    process (every event loop in it), hence the lock.
    """

    def __init__(self, workers: int, queue_depth: int) -> None:
        self.workers = workers
        self.queue_depth = queue_depth
        self.executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="argon2", initializer=lower_priority
        )
        self._lock = threading.Lock()
        self._admitted = 0
        self._seconds_per_hash = 0.2  # until measured: about argon2-cffi's default profile

    @property
    def admitted(self) -> int:
        """Hashes running or waiting."""
        return self._admitted

    def _retry_after(self) -> int:
        """About when a slot comes free: the line ahead, worker by worker."""
        return max(1, math.ceil(self._admitted / self.workers * self._seconds_per_hash))

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` on a hashing thread; `HashingBusy` when the queue is full."""
        with self._lock:
            if self._admitted >= self.workers + self.queue_depth:
                raise HashingBusy(retry_after=self._retry_after())
            self._admitted += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(
                self.executor, self._timed, function, *args
            )
        except RuntimeError:  # this pool was replaced (`configure_pool`) and shut down
            with self._lock:
                self._admitted -= 1
            raise
        # The wait is bounded here: the request's place among those its process runs at once
        # goes to another request meanwhile (`core.admission`).
        async with place_given_up():
            return await future

    def _timed(self, function: Callable[..., T], *args: object) -> T:
        started = time.perf_counter()
        try:
            return function(*args)
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self._admitted -= 1
                # A moving average: hashes cost what the machine's load lets them.
                self._seconds_per_hash += (elapsed - self._seconds_per_hash) / 8


hash_pool = HashPool(HASH_WORKERS, HASH_WORKERS * HASH_QUEUE_PER_WORKER)


def configure_pool(*, workers: int | None, queue_depth: int | None) -> None:
    """Hash with `workers` threads (None: one per core) and let at most `queue_depth` hashes
    wait (None: eight per worker). Hashes already admitted finish in the pool they joined."""
    global hash_pool
    workers = workers or HASH_WORKERS
    queue_depth = workers * HASH_QUEUE_PER_WORKER if queue_depth is None else queue_depth
    if (hash_pool.workers, hash_pool.queue_depth) == (workers, queue_depth):
        return
    previous = hash_pool
    hash_pool = HashPool(workers, queue_depth)
    previous.executor.shutdown(wait=False)


async def hash_password(password: str) -> str:
    """The argon2id hash of a password, computed in the hashing pool (`HashingBusy` when the
    pool's queue is full)."""
    return await hash_pool.run(password_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return password_hasher.verify(password_hash or _dummy_hash(), password) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches the hash; constant work for a missing hash (`HashingBusy`
    when the pool's queue is full)."""
    return await hash_pool.run(_verify, password_hash, password)


def new_token(nbytes: int = 32) -> str:
    """A random URL-safe secret for a bearer token, session or API key."""
    return secrets.token_urlsafe(nbytes)


def bearer_token_of(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer …` header value, if it is one."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


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
