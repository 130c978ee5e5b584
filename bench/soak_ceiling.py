"""The soak's ceiling: the same requests answered by a bare ASGI app after one statement each.

bench/soak.py runs this beside Tenantry, in the same run, on the same database and
with the same clients, mix and request shapes, under uvicorn with the same worker
count and HTTP protocol (`tenantry.core.http_protocol`: a connection ends after
TENANTRY_MAX_REQUESTS_PER_CONNECTION requests, so the load spreads over the
workers the same way). What each request costs here is the least any server
answering it must spend on this machine:

- a sign-in (`POST /v1/auth/token`): one argon2id verify of the password with the
  server's parameters, in Tenantry's own bounded, niced hashing pool
  (`tenantry.core.security.verify_password`; past its queue, 503 with Retry-After
  as Tenantry answers);
- a read: one primary-key read — the user by id for `GET /v1/users/{id}`, the
  caller's access token by its digest (what authenticating any request reads) for
  the lists, a group, the audit log and the entitlement check;
- a change: one one-row write — `PATCH /v1/users/{id}` updates that user's display
  name; creating a user, adding a group member and assigning a license insert one
  audit event (each of them writes one).

Statements run in autocommit on a few prepared psycopg connections per process
(PostgreSQL), or on one sqlite3 connection in a thread of its own (SQLite). Nothing
is authenticated or validated: that is the work the ratio measures.

    TENANTRY_DATABASE_URL=... python bench/soak_ceiling.py --port 8123 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url

PASSWORD = "Bench-Passw0rd!"  # bench/entitlements.py's: every arranged person's password
POOL_SIZE = 10  # connections per process, as Tenantry's engine keeps (core/db.py)

READ_USER = "SELECT id, display_name, user_principal_name FROM users WHERE id = :id"
READ_TOKEN = "SELECT user_id, expires_at FROM access_tokens WHERE digest = :digest"
UPDATE_USER = "UPDATE users SET display_name = :name WHERE id = :id"
INSERT_EVENT = (
    "INSERT INTO audit_events (id, tenant_id, actor_id, actor_type, action, target_type, "
    "target_id, details, client_address, occurred_at) VALUES (:id, NULL, NULL, 'system', "
    ":action, 'user', :target, :details, NULL, :now)"
)


class Statements:
    """One statement at a time on a connection of this process's database."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        if self.sqlite:
            self._sqlite = sqlite3.connect(
                str(parsed.database), isolation_level=None, check_same_thread=False
            )
            self._sqlite.execute("PRAGMA busy_timeout = 30000")
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite")
        else:
            import psycopg

            self._psycopg = psycopg
            self._conninfo = parsed.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
            self._idle: asyncio.Queue[Any] = asyncio.Queue()
            self._open = 0

    def uuid_param(self, value: uuid.UUID) -> Any:
        return value.hex if self.sqlite else value  # as SQLAlchemy stores a UUID

    async def run(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        if self.sqlite:
            return await asyncio.get_running_loop().run_in_executor(
                self._thread, self._run_sqlite, sql, params
            )
        connection = await self._acquire()
        try:
            cursor = await connection.execute(_for_postgresql(sql), params, prepare=True)
            rows = await cursor.fetchall() if cursor.description else []
        except BaseException:
            self._open -= 1
            await connection.close()
            raise
        self._idle.put_nowait(connection)
        return rows

    def _run_sqlite(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return self._sqlite.execute(sql, params).fetchall()

    async def _acquire(self) -> Any:
        if self._idle.empty() and self._open < POOL_SIZE:
            self._open += 1
            try:
                return await self._psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            except BaseException:
                self._open -= 1
                raise
        return await self._idle.get()

    async def close(self) -> None:
        if self.sqlite:
            self._thread.shutdown()
            self._sqlite.close()
            return
        while not self._idle.empty():
            await self._idle.get_nowait().close()


_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_CONVERTED: dict[str, str] = {}


def _for_postgresql(sql: str) -> str:
    """`:name` parameters as psycopg's `%(name)s`."""
    converted = _CONVERTED.get(sql)
    if converted is None:
        converted = _CONVERTED[sql] = _PARAM.sub(r"%(\1)s", sql)
    return converted


class Ceiling:
    """The bare ASGI app: route by method and path, one statement (or one verify), answer."""

    def __init__(self) -> None:
        self.statements: Statements | None = None
        self.password_hash = ""

    async def startup(self) -> None:
        from tenantry.core import security
        from tenantry.core.config import Settings

        settings = Settings()  # the server's defaults: this process has no TENANTRY_* but the URL
        security.configure_hashing(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        security.configure_pool(
            workers=settings.hash_workers, queue_depth=settings.hash_queue_depth
        )
        self.password_hash = security.password_hasher.hash(PASSWORD)
        self.statements = Statements(settings.database_url)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self.startup()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.statements is not None:
                        await self.statements.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, payload, headers = await self.answer(scope, body)
        content = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})

    async def answer(self, scope: Any, body: bytes) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        method, parts = scope["method"], scope["path"].strip("/").split("/")
        if parts == ["healthz"]:
            return 200, {"status": "ok"}, []
        if method == "POST" and parts == ["v1", "auth", "token"]:
            return await self.sign_in()
        statements = self.statements
        assert statements is not None
        if method == "GET" and len(parts) == 3 and parts[1] == "users":
            rows = await statements.run(READ_USER, {"id": _user_id(statements, parts[2])})
            return 200, {"found": len(rows)}, []
        if method == "PATCH" and len(parts) == 3 and parts[1] == "users":
            name = json.loads(body).get("displayName", "")
            await statements.run(UPDATE_USER, {"id": _user_id(statements, parts[2]), "name": name})
            return 200, {"id": parts[2]}, []
        if method == "POST" and (
            parts == ["v1", "users"] or parts[-1] in ("assignLicense", "members")
        ):
            created = uuid.uuid4()
            now = datetime.now(UTC)
            await statements.run(
                INSERT_EVENT,
                {
                    "id": statements.uuid_param(created),
                    "action": f"Soak ceiling {parts[-1]}",
                    "target": str(created),
                    "details": json.dumps({"bytes": len(body)}),
                    "now": now.replace(tzinfo=None).isoformat(sep=" ")
                    if statements.sqlite
                    else now,
                },
            )
            if parts == ["v1", "users"]:
                return 201, {"id": str(created)}, []
            return 200, {"id": str(created)}, []
        # The lists, a group, the audit log and the entitlement check: who is calling.
        token = dict(scope["headers"]).get(b"authorization", b"").partition(b" ")[2]
        await statements.run(READ_TOKEN, {"digest": hashlib.sha256(token).hexdigest()})
        return 200, {"value": []}, []

    async def sign_in(self) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        from tenantry.core import security

        try:
            valid = await security.verify_password(self.password_hash, PASSWORD)
        except security.HashingBusy as busy:
            return (
                busy.status_code,
                busy.to_body(),
                [(name.lower().encode(), value.encode()) for name, value in busy.headers.items()],
            )
        return 200, {"access_token": "ceiling", "token_type": "bearer", "valid": valid}, []


def _user_id(statements: Statements, value: str) -> Any:
    try:
        return statements.uuid_param(uuid.UUID(value))
    except ValueError:
        return value


app = Ceiling()


def main() -> None:
    import uvicorn

    from tenantry.core import http_protocol

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    uvicorn.run(
        "soak_ceiling:app",
        http=http_protocol.PROTOCOL,  # connections end as `tenantry serve`'s do
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
