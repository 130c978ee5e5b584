"""SCIM: `POST /Users` per second beside the reference scim2-server, Bulk, filters at 100,000 users.

Run from the repository root:

    .venv/bin/python bench/scim.py [--seconds S] [--concurrency C] [--database-url URL]
                                   [--users N] [--bulk-requests B]

What it does, all on 127.0.0.1 and bounded in time:

1. starts `tenantry serve --workers W` (1 by default, as the reference) on a fresh
   temporary SQLite file (or, with `--database-url postgresql://...`, a fresh database on
   that server, dropped afterwards): the harness of bench/signup.py; arranges a managed
   organization with the verified domain contoso.com and a provisioning token, in the
   database;
2. starts the reference: scim2-server's ASGI application over its in-memory storage
   (`bench/scim_reference.py`), under uvicorn like Tenantry, one process;
3. `POST /Users` (an Entra-shaped user, each a new userName) for S seconds from C
   keep-alive connections of one light client (bench/signup.py's, with headers), first
   against the reference, then against Tenantry, so both see the same machine. **Target:
   Tenantry >= 1.5x the reference.**
4. `POST /Bulk` with 1,000 user creates per request, B requests one after the other.
   **Target (PostgreSQL): >= 2,000 users/s.**
5. brings the organization to N users (100,000; inserted in the database, as a sync
   would leave them), then `GET /Users?filter=userName eq "…"` (a random existing user)
   for S seconds from C connections. **Target: p99 < 20 ms.**
6. prints everything. It writes nothing to docs/benchmarks.md: a row is added there by
   hand from a run on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import signup  # the harness of bench/signup.py: same server, same temporary databases
from signup import free_port, running_server, temporary_database
from sqlalchemy import create_engine, func, insert, select

from tenantry.core.db import sync_url
from tenantry.core.security import token_digest
from tenantry.directory.constants import Role
from tenantry.directory.models import RoleAssignment, User
from tenantry.directory.search import sort_key
from tenantry.directory.spoofing import principal_name_skeleton
from tenantry.domains.models import Domain
from tenantry.scim.models import ScimToken, ScimUser
from tenantry.tenants.models import MANAGED, Tenant

TOKEN = "tscim_bench-" + uuid.uuid4().hex
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def entra_user(user_name: str) -> dict:
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": uuid.uuid4().hex,
        "userName": user_name,
        "active": True,
        "displayName": "Bench Person",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "name": {"givenName": "Bench", "familyName": "Person"},
        ENTERPRISE: {"department": "Sales", "employeeNumber": "1000"},
    }


class Client(signup.LightClient):
    """Up to `size` keep-alive connections (bench/signup.py's), for any method, with a
    bearer token and SCIM's media type."""

    def __init__(self, url: str, size: int, token: str, timeout: float = 300.0) -> None:
        super().__init__(url, size, timeout)
        self.prefix = urlsplit(url).path.rstrip("/")
        self.token = token

    async def send(
        self, method: str, path: str, payload: object = None
    ) -> tuple[int, bytes, float]:
        body = b"" if payload is None else json.dumps(payload).encode()
        head = (
            f"{method} {self.prefix}{path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\n"
        )
        if payload is not None:
            head += f"Content-Type: application/scim+json\r\nContent-Length: {len(body)}\r\n"
        return await self.exchange((head + "\r\n").encode() + body)


@dataclass
class Load:
    done: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def load(
    url: str, concurrency: int, seconds: float, request, expect: int, warmup: float = 2.0
) -> Load:
    """Send `request(i)` → (method, path, body) back to back from `concurrency` connections."""
    client = Client(url, concurrency, TOKEN)
    outcome = Load()
    counter = iter(range(10**9))
    measuring = False
    stop_at = time.perf_counter() + warmup + seconds

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            method, path, body = request(next(counter))
            try:
                status, answer, took = await client.send(method, path, body)
            except (TimeoutError, ConnectionError) as error:
                outcome.failed += 1
                outcome.errors[type(error).__name__] = (
                    outcome.errors.get(type(error).__name__, 0) + 1
                )
                continue
            if not measuring:
                continue
            if status == expect:
                outcome.done += 1
                outcome.latencies.append(took)
            else:
                outcome.failed += 1
                key = f"{status} {answer[:120]!r}"
                outcome.errors[key] = outcome.errors.get(key, 0) + 1

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    measuring = True
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    outcome.seconds = time.perf_counter() - started
    client.close()
    return outcome


def arrange(database_url: str) -> uuid.UUID:
    """A managed organization with contoso.com verified and the bench's provisioning token."""
    engine = create_engine(sync_url(database_url))
    now = datetime.now(UTC)
    tenant_id, admin_id = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            insert(Tenant).values(
                id=tenant_id, display_name="Contoso", state=MANAGED, created_at=now, managed_at=now
            )
        )
        connection.execute(
            insert(Domain).values(
                tenant_id=tenant_id,
                name="contoso.com",
                is_verified=True,
                is_default=True,
                is_initial=True,
                verification_token=uuid.uuid4().hex,
                created_at=now,
                verified_at=now,
            )
        )
        connection.execute(
            insert(User).values(
                id=admin_id,
                tenant_id=tenant_id,
                user_principal_name="ariane@contoso.com",
                mail="ariane@contoso.com",
                display_name="Ariane Dupont",
                created_at=now,
            )
        )
        connection.execute(
            insert(RoleAssignment).values(
                tenant_id=tenant_id,
                user_id=admin_id,
                role=Role.GLOBAL_ADMINISTRATOR.value,
                created_at=now,
            )
        )
        connection.execute(
            insert(ScimToken).values(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                digest=token_digest(TOKEN),
                display_name="bench",
                created_by=admin_id,
                created_at=now,
            )
        )
    engine.dispose()
    return tenant_id


def fill(database_url: str, tenant_id: uuid.UUID, total: int) -> list[str]:
    """Bring the organization to `total` synced users (in the database); their names."""
    engine = create_engine(sync_url(database_url))
    with engine.connect() as connection:
        have = connection.execute(
            select(func.count()).select_from(User).where(User.tenant_id == tenant_id)
        ).scalar_one()
    now = datetime.now(UTC)
    names: list[str] = []
    tag = uuid.uuid4().hex[:6]
    missing = max(0, total - have)
    with engine.begin() as connection:
        for start in range(0, missing, 5000):
            users, scim_rows = [], []
            for index in range(start, min(missing, start + 5000)):
                name = f"person{index}.{tag}@contoso.com"
                user_id = uuid.uuid4()
                names.append(name)
                users.append(
                    {
                        "id": user_id,
                        "tenant_id": tenant_id,
                        "user_principal_name": name,
                        "mail": name,
                        "display_name": f"Person {index} {tag}",
                        "display_name_key": sort_key(f"Person {index} {tag}"),
                        "name_skeleton": principal_name_skeleton(name),
                        "source": "synced",
                        "account_enabled": True,
                        "must_change_password": False,
                        "failed_sign_ins": 0,
                        "created_at": now,
                    }
                )
                scim_rows.append(
                    {
                        "tenant_id": tenant_id,
                        "user_id": user_id,
                        "external_id": f"ext-{index}-{tag}",
                        "attributes": {
                            "emails": [{"value": name, "type": "work", "primary": True}]
                        },
                        "usage_location_from_scim": False,
                        "updated_at": now,
                    }
                )
            connection.execute(insert(User), users)
            connection.execute(insert(ScimUser), scim_rows)
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE users; ANALYZE scim_users")
    engine.dispose()
    return names


@contextlib.contextmanager
def reference_server(tmp: Path):
    """scim2-server's ASGI application (in memory) under uvicorn, one process."""
    port = free_port()
    log_path = tmp / "reference.log"
    here = Path(__file__).resolve().parent
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "scim_reference:create",
        "--factory",
        "--app-dir",
        str(here),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the reference exited:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/v2/ServiceProviderConfig", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the reference did not answer")
            time.sleep(0.2)
        yield url + "/v2"
    finally:
        signup.stop(process)


def report(name: str, outcome: Load) -> str:
    line = (
        f"{name}: {outcome.rate:,.0f}/s ({outcome.done} in {outcome.seconds:.1f} s), "
        f"p50 {outcome.quantile(0.5):.1f} ms, p99 {outcome.quantile(0.99):.1f} ms, "
        f"failed {outcome.failed}"
    )
    if outcome.errors:
        line += f" {dict(list(outcome.errors.items())[:3])}"
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="postgresql://...@127.0.0.1/...")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--bulk-requests", type=int, default=5)
    args = parser.parse_args()
    signup.SERVER_WORKERS = args.workers
    lines = [f"bench/scim.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, cores: {os.cpu_count()}"]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        with temporary_database(args.database_url, tmp) as database:
            from tenantry.core.migrate import upgrade

            upgrade(database.url)
            tenant_id = arrange(database.url)
            run = uuid.uuid4().hex[:6]

            def create(prefix: str):
                return lambda i: ("POST", "/Users", entra_user(f"{prefix}{i}.{run}@contoso.com"))

            with reference_server(tmp) as reference:
                baseline = asyncio.run(
                    load(reference, args.concurrency, args.seconds, create("ref"), 201)
                )
            lines.append(report("reference scim2-server POST /Users", baseline))
            with running_server(database, free_port(), tmp) as server:
                scim_url = f"{server.url}/scim/v2"
                tenantry = asyncio.run(
                    load(scim_url, args.concurrency, args.seconds, create("t"), 201)
                )
                lines.append(
                    report(
                        f"Tenantry ({database.kind}, {args.workers} worker) POST /Users", tenantry
                    )
                )
                if baseline.rate:
                    ratio = tenantry.rate / baseline.rate
                    lines.append(f"ratio Tenantry / reference: {ratio:.2f} (target >= 1.5)")

                async def bulk() -> tuple[int, float, int]:
                    client = Client(scim_url, 1, TOKEN)
                    created, failed, took = 0, 0, 0.0
                    for number in range(args.bulk_requests):
                        operations = [
                            {
                                "method": "POST",
                                "path": "/Users",
                                "bulkId": f"b{index}",
                                "data": entra_user(f"bulk{number}.{index}.{run}@contoso.com"),
                            }
                            for index in range(1000)
                        ]
                        status, answer, seconds = await client.send(
                            "POST",
                            "/Bulk",
                            {
                                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                "Operations": operations,
                            },
                        )
                        took += seconds
                        if status != 200:
                            failed += 1000
                            continue
                        results = json.loads(answer)["Operations"]
                        created += sum(1 for result in results if result["status"] == "201")
                        failed += sum(1 for result in results if result["status"] != "201")
                    client.close()
                    return created, took, failed

                if args.bulk_requests:
                    created, took, failed = asyncio.run(bulk())
                    lines.append(
                        f"Bulk: {created} users in {took:.1f} s = {created / took:,.0f} users/s "
                        f"({args.bulk_requests} requests of 1,000; failed {failed}; "
                        "target >= 2,000 on PostgreSQL)"
                    )
                started = time.perf_counter()
                names = fill(database.url, tenant_id, args.users)
                lines.append(
                    f"filled to {args.users:,} users in {time.perf_counter() - started:.0f} s"
                )
                picks = random.Random(7).sample(names, min(len(names), 5000)) or [
                    "ariane@contoso.com"
                ]

                def find(i: int):
                    value = quote(f'userName eq "{picks[i % len(picks)]}"')
                    return "GET", f"/Users?filter={value}", None

                found = asyncio.run(load(scim_url, args.concurrency, args.seconds, find, 200))
                lines.append(
                    report(f"GET /Users?filter=userName eq at {args.users:,} users", found)
                    + " (target p99 < 20 ms)"
                )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
