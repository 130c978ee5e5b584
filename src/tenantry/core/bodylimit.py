"""The one limit on request bodies: counted as they stream in, before anything parses them.

Without it, FastAPI reads a JSON body whole and parses it before any check runs: a
100 MB `POST /v1/signup` (no sign-in needed) took a worker to about 550 MB before
its 400. `BodyLimit` wraps the application's `receive`: a declared `Content-Length`
over the limit is refused at the first read, before a byte of the body is taken
(and before a `100 Continue` invites it), and a body without one (chunked) is
refused as soon as the bytes received pass the limit. The refusal is an exception
raised from `receive`, a `StarletteHTTPException` so that FastAPI's body reading
lets it through; the API answers it in the one error shape (413 `requestTooLarge`)
and the web pages with their error page. Whoever reads the body outside those
handlers (the hot entitlement middleware) gets the same answer from `BodyLimit`.

After the answer, uvicorn reads the rest of a refused body and drops it as it comes
(memory stays flat), and the connection goes on: closing it with the body still on
its way would make the kernel reset it, and the client (a browser posting a form)
would see a broken connection instead of the 413. Only a client that asked
`Expect: 100-continue` has sent nothing yet and will not: its connection is closed,
since the server would otherwise wait for a body that never comes.

One limit serves every route (TENANTRY_MAX_BODY_BYTES); a route that takes more (the
CSV imports) raises its own request's limit with `allow_larger_body` before it reads.
Starlette's own `RequestBodyLimitMiddleware` is not used: it answers in plain text
and has no per-request allowance.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "tenantry.body_limit"
MIB = 1024 * 1024


def describe(size: int) -> str:
    """A byte count as people read it: `1 MiB`, `5.1 MiB`, `4096 bytes`."""
    if size >= MIB:
        return f"{size / MIB:.1f}".removesuffix(".0") + " MiB"
    return f"{size} bytes"


class BodyTooLarge(StarletteHTTPException):
    """413 `requestTooLarge`: the request's body is larger than its limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, detail=f"The request body is larger than {describe(limit)}, the most it may be."
        )


class _Budget:
    """One request's limit and what its body has brought so far."""

    def __init__(self, limit: int, scope: Scope) -> None:
        self.limit = limit
        self.declared: int | None = None
        self.expects_continue = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                # (one that is not a number never gets past the HTTP parser)
                with contextlib.suppress(ValueError):
                    self.declared = int(value)
            elif name == b"expect":
                self.expects_continue = value.lower() == b"100-continue"
        self.received = 0
        self.refused = False

    def over(self) -> bool:
        return self.received > self.limit or (
            self.declared is not None and self.declared > self.limit
        )


def allow_larger_body(scope: Scope, limit: int) -> None:
    """Let this request's body be up to `limit` bytes (a route that takes files calls this
    before it reads the body)."""
    budget: _Budget | None = scope.get(SCOPE_KEY)
    if budget is not None:
        budget.limit = max(budget.limit, limit)


class BodyLimit:
    """ASGI middleware enforcing the body limit of every HTTP request (see the module)."""

    def __init__(self, app: App, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        budget = _Budget(self.max_bytes, scope)
        scope[SCOPE_KEY] = budget
        started = False

        async def limited_receive() -> Message:
            if budget.over():  # declared too large: refused before a byte is read
                budget.refused = True
                raise BodyTooLarge(budget.limit)
            message = await receive()
            if message["type"] == "http.request":
                budget.received += len(message.get("body", b""))
                if budget.over():
                    budget.refused = True
                    raise BodyTooLarge(budget.limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if budget.expects_continue and not budget.received and budget.over():
                    message = {**message, "headers": [*message.get("headers", ()), _CLOSE]}
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge as error:
            if started:
                raise
            body = json.dumps(
                {"error": {"code": "requestTooLarge", "message": error.detail}}
            ).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await tracked_send({"type": "http.response.start", "status": 413, "headers": headers})
            await tracked_send({"type": "http.response.body", "body": body})


_CLOSE = (b"connection", b"close")
