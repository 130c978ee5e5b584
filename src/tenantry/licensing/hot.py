"""The entitlement check apps call on every action: the caller's token and sources, one statement.

When a user (through an app holding their token) asks about themselves, one
indexed statement on a raw connection (`core.hotread`) finds the token's user
and that user's active offers and licenses that give access; the rules of
`auth.service.token_accepted` and `entitlements.compute_entitlements` then apply as
on the ordinary path. Anything else (an admin asking about another user, a
user named by sign-in address, an unknown token, a database hiccup) returns
None and the route takes the ordinary path, which answers with the full rules
and errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from tenantry.auth import service as auth_service
from tenantry.catalog import Catalog, days_since
from tenantry.core.clock import clock
from tenantry.core.hotread import HotReader, HotReadError, as_datetime, as_json, as_uuid
from tenantry.core.metrics import ROUTE_KEY
from tenantry.core.security import bearer_token_of, token_digest
from tenantry.licensing.entitlements import Entitlements, compute_entitlements
from tenantry.licensing.schemas import EntitlementCheck, check_view

# Three branches, each entered through the token's primary key and then the
# indexes of its user's rows: the cost does not grow with the tenant's size.
# `{token}` is how a branch finds the token: one digest, or (PostgreSQL) many at once.
_SELF_ENTITLEMENTS = """
SELECT t.digest, t.user_id, t.expires_at, u.account_enabled, n.state, u.must_change_password,
       NULL AS kind, NULL AS name, NULL AS started_at, NULL AS disabled_plans
FROM access_tokens t
JOIN users u ON u.id = t.user_id
JOIN tenants n ON n.id = u.tenant_id
WHERE {token}
UNION ALL
SELECT t.digest, t.user_id, NULL, NULL, NULL, NULL, 'offer', o.offer, o.started_at, NULL
FROM access_tokens t
JOIN users u ON u.id = t.user_id
JOIN offer_assignments o ON o.tenant_id = u.tenant_id AND o.user_id = u.id
WHERE {token} AND o.status = 'active'
UNION ALL
SELECT t.digest, t.user_id, NULL, NULL, NULL, NULL, 'sku', CAST(a.sku_id AS VARCHAR), NULL,
       CAST(a.disabled_plans AS TEXT)
FROM access_tokens t
JOIN license_assignments a ON a.user_id = t.user_id
JOIN subscribed_skus p ON p.tenant_id = a.tenant_id AND p.sku_id = a.sku_id
WHERE {token}
  AND a.state IN ('Active', 'ActiveWithError')
  AND p.enabled_units + p.warning_units > 0
"""
# Bearer tokens only (kind 'api'): a web session is no bearer token (dependencies.py).
SELF_ENTITLEMENTS = _SELF_ENTITLEMENTS.format(token="t.digest = :digest AND t.kind = 'api'")
SELF_ENTITLEMENTS_MANY = _SELF_ENTITLEMENTS.format(
    token="t.digest = ANY(:digests) AND t.kind = 'api'"
)


class _Batches:
    """Concurrent checks of one process share their round trips to PostgreSQL.

    While one statement is in flight, the tokens that arrive wait for the next,
    which carries them all (`= ANY`): under load a round trip (the backend's
    wake-up, the context switches, the protocol) serves many checks instead of
    one, and alone a check waits for nothing.
    """

    def __init__(self) -> None:
        self.waiting: dict[str, list[asyncio.Future[list[tuple[Any, ...]]]]] = {}
        self.running = False

    async def rows(self, reader: HotReader, digest: str) -> list[tuple[Any, ...]]:
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(digest, []).append(future)
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain(reader))
        return await future

    async def _drain(self, reader: HotReader) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, {}
                try:
                    rows = await reader.fetch_all(SELF_ENTITLEMENTS_MANY, {"digests": list(batch)})
                except Exception as error:  # each waiter takes the ordinary path
                    failure = error if isinstance(error, HotReadError) else HotReadError(str(error))
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(failure)
                    continue
                by_digest: dict[str, list[tuple[Any, ...]]] = {}
                for row in rows:
                    by_digest.setdefault(row[0], []).append(row)
                for digest, futures in batch.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(by_digest.get(digest, []))
        finally:
            self.running = False


_batches: weakref.WeakKeyDictionary[HotReader, _Batches] = weakref.WeakKeyDictionary()


async def _rows_of(reader: HotReader, digest: str) -> list[tuple[Any, ...]]:
    if reader.dialect != "postgresql":  # SQLite reads in tens of microseconds, on the loop
        return await reader.fetch_all(SELF_ENTITLEMENTS, {"digest": digest})
    batches = _batches.get(reader)
    if batches is None:
        batches = _batches[reader] = _Batches()  # holds no reference to its reader
    return await batches.rows(reader, digest)


async def own_entitlements(
    *, reader: HotReader, catalog: Catalog, token: str, user_id: uuid.UUID | None
) -> Entitlements | None:
    """The token holder's entitlements if they are `user_id` (None: whoever they are).

    None when this path does not apply; the caller then takes the ordinary path.
    """
    if not reader.available:
        return None
    try:
        rows = await _rows_of(reader, token_digest(token))
    except HotReadError:
        return None
    holder_rows = [row for row in rows if row[6] is None]
    if not holder_rows:
        return None
    holder, expires_at, account_enabled, tenant_state, must_change_password = holder_rows[0][1:6]
    if must_change_password or (user_id is not None and as_uuid(holder) != user_id):
        return None
    if not auth_service.token_accepted(
        expires_at=as_datetime(expires_at),
        account_enabled=bool(account_enabled),
        tenant_state=tenant_state,
    ):
        return None
    offers = []
    licenses = []
    for *_, kind, name, started_at, disabled_plans in rows:
        if kind == "offer":
            offers.append((name, as_datetime(started_at)))
        elif kind == "sku":
            licenses.append((as_uuid(name), tuple(as_json(disabled_plans) or ())))
    return _computed(catalog, offers, licenses)


# Entitlements by what determines them (offers with their age in days, licenses with
# their disabled plans): most users share a handful of combinations, and computing
# them is most of this path's Python work. Bounded, per process.
_CACHE_SIZE = 4096
_cache: dict[tuple[object, ...], tuple[Catalog, Entitlements]] = {}


def _computed(
    catalog: Catalog,
    offers: list[tuple[str, datetime]],
    licenses: list[tuple[uuid.UUID, tuple[str, ...]]],
) -> Entitlements:
    now = clock.now()
    key = (
        id(catalog),
        tuple(sorted((name, days_since(started_at, now)) for name, started_at in offers)),
        tuple(sorted((sku_id, tuple(sorted(plans))) for sku_id, plans in licenses)),
    )
    cached = _cache.get(key)
    if cached is not None and cached[0] is catalog:
        return cached[1]
    found = compute_entitlements(
        catalog, offers=offers, licenses=[(s, list(p)) for s, p in licenses], now=now
    )
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    _cache[key] = (catalog, found)
    return found


# --- the check routes, answered before the framework ---------------------------------------

log = logging.getLogger("tenantry")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CHECK_PATH = re.compile(r"/v1/(?:me|users/([^/]+))/entitlements/check")
MAX_BODY = 4096  # a check is {name, value}: anything larger goes to the route's own limits


class HotEntitlementChecks:
    """ASGI middleware answering `POST /v1/me/entitlements/check` and
    `POST /v1/users/{id}/entitlements/check` when the token holder asks about themselves.

    Apps call these on every action, so they skip FastAPI's routing and dependency
    resolution (most of a small request's cost): the body is validated with the
    route's own model, `own_entitlements` reads, and the answer has the route's exact
    shape. Anything else (no token, another user, a bad body, a database hiccup) goes
    on to the route with its body intact, which answers with the full rules and errors.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], *, state: Any):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (
            CHECK_PATH.fullmatch(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if match is None:
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        answer = None
        if body is not None:
            try:
                answer = await self._answer(scope, match.group(1), body)
            except Exception:  # never a 500 from the shortcut: the route has the full handling
                log.exception("entitlement check shortcut failed; the route answers instead")
        if answer is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        # Answered before routing: name the route's template for /metrics (core/metrics.py).
        scope[ROUTE_KEY] = (
            "/v1/me/entitlements/check"
            if match.group(1) is None
            else "/v1/users/{user_ref}/entitlements/check"
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    async def _answer(self, scope: Scope, user_ref: str | None, body: bytes) -> bytes | None:
        token = _bearer(scope)
        reader: HotReader | None = getattr(self.state, "hot_reader", None)
        if token is None or reader is None:
            return None
        try:
            user_id = None if user_ref is None else uuid.UUID(user_ref)
            check = EntitlementCheck.model_validate_json(body)
        except (ValueError, ValidationError):
            return None
        found = await own_entitlements(
            reader=reader, catalog=self.state.catalog, token=token, user_id=user_id
        )
        if found is None:
            return None
        # The route's answer, written as Starlette's JSONResponse writes it.
        answer = check_view(found, check)
        return json.dumps(
            answer, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bearer_token_of(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The request's messages read so far, and its whole body (None: larger than MAX_BODY,
    or not a plain body; the rest is left to whoever reads on)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if size > MAX_BODY:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` for the next app: the messages already read, then the live ones."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
