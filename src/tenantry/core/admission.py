"""Admission of requests: each process runs a bounded number at once and sheds the rest early.

A process past its CPU does not get faster by accepting more: every request it
holds shares the same cores, so each one's answer waits on all the others (16
clients against a saturated 2-core server saw admin reads at p99 547 ms). So a
process runs at most `limit` requests at once (TENANTRY_MAX_CONCURRENT_REQUESTS);
one that cannot start within `wait` (TENANTRY_ADMISSION_WAIT_MS) is refused at
once with 503 `serviceUnavailable` and `Retry-After`, before any work is spent on
it, and the requests admitted keep their latency. Clients that honour Retry-After
(Graph's SDKs, MSAL, any HTTP library with a retry policy) come back when there is
room.

A request waiting for a password hash gives its place up while the hashing pool
(`core.security`, itself bounded) works, and takes one again for the rest of its
work, so a burst of sign-ins never holds the places the rest of the API needs.
Health checks and static files are never refused; the entitlement checks that the
hot path answers (`licensing.hot`) sit in front of this and cost microseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from tenantry.core.errors import ServiceUnavailable

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
Refuse = Callable[[Scope, Receive, Send, ServiceUnavailable], Awaitable[None]]

EXEMPT_PREFIXES = ("/healthz", "/static/")
RETRY_AFTER_SECONDS = 1


class Overloaded(ServiceUnavailable):
    """503 `serviceUnavailable`: the process is running all the requests it may."""

    message_key = "overloaded"

    def __init__(self) -> None:
        super().__init__(
            "The service is busy. Try again in a moment.", retry_after=RETRY_AFTER_SECONDS
        )


@dataclass
class _Place:
    """The place one admitted request holds in its process's limit."""

    semaphore: asyncio.Semaphore
    held: bool = True


_place: ContextVar[_Place | None] = ContextVar("tenantry_admission_place", default=None)


@contextlib.asynccontextmanager
async def place_given_up() -> AsyncIterator[None]:
    """While the block waits on something bounded elsewhere (a password hash), the current
    request's place goes to another request; it is taken back, without a deadline, after."""
    place = _place.get()
    if place is None or not place.held:
        yield
        return
    place.semaphore.release()
    place.held = False
    try:
        yield
    finally:
        await place.semaphore.acquire()
        place.held = True


async def _json_refusal(scope: Scope, receive: Receive, send: Send, error: ServiceUnavailable):
    response = JSONResponse(error.to_body(), status_code=error.status_code, headers=error.headers)
    await response(scope, receive, send)


class RequestAdmission:
    """ASGI middleware: at most `limit` requests of this process at once; a request that
    cannot start within `wait` seconds is refused by `refuse` (the one JSON error shape
    unless told otherwise). A `limit` of 0 admits everything."""

    def __init__(self, app: App, *, limit: int, wait: float, refuse: Refuse | None = None) -> None:
        self.app = app
        self.limit = limit
        self.wait = wait
        self.refuse = refuse or _json_refusal
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:  # made in the loop that serves the requests
            self._semaphore = asyncio.Semaphore(self.limit)
        semaphore = self._semaphore
        if not await self._admitted(semaphore):
            await self.refuse(scope, receive, send, Overloaded())
            return
        place = _Place(semaphore)
        token = _place.set(place)
        try:
            await self.app(scope, receive, send)
        finally:
            _place.reset(token)
            if place.held:
                semaphore.release()

    async def _admitted(self, semaphore: asyncio.Semaphore) -> bool:
        if not semaphore.locked():
            await semaphore.acquire()  # a free place: taken at once, no timer
            return True
        try:
            await asyncio.wait_for(semaphore.acquire(), self.wait)
        except TimeoutError:
            return False
        return True
