"""Mixed admin load for minutes against `tenantry serve --workers 2`: errors, latency, memory.

Run from the repository root:

    .venv/bin/python bench/soak.py [--minutes M] [--clients C] [--signin-share S]
                                   [--database-url URL] [--no-ceiling] [--by-operation]

What it does, all on 127.0.0.1 and bounded in time:

1. starts aiosmtpd and `tenantry serve --workers 2` on a fresh temporary SQLite
   file (or, with `--database-url postgresql://...`, a fresh database on that
   server, dropped afterwards) — the harness of bench/signup.py;
2. arranges a managed tenant through the API (bench/entitlements.py's: 16
   people signed up, each with BUSINESS_PREMIUM), then buys BUSINESS_ESSENTIALS
   and gives each client a group of its own and three users of its own;
3. load: C clients (16), each on a keep-alive connection of its own, sending one
   request after the other for M minutes (5) after a warm-up: a sign-in
   (`POST /v1/auth/token`, an argon2id hash) for a share S (5 %) of them, the
   rest what an admin does (`MIX`): list and read users and groups, create users
   (with a generated temporary password, as the admin center does) and rename
   them, add group members, assign and remove a license, an entitlement check (a
   person about themselves), the audit log;
4. the ceiling, in the same run (unless `--no-ceiling`): Tenantry stopped, the same
   clients send the same mix of the same requests for as long to
   bench/soak_ceiling.py, a bare ASGI app under uvicorn with the same workers on the
   same database, which answers each request after one statement (a primary-key
   read, or a one-row write) and each sign-in after one argon2id verify in
   Tenantry's own hashing pool: the least this machine must spend on this load;
5. reports, per operation and for each server, the count, p50 and p99 and the
   answers that were not 2xx by status — a 503 that carries Retry-After (the server
   shedding load, as it says it will) counted apart, as acceptable — where the CPU
   went (Linux /proc: the server's processes at normal priority, its niced hashing
   threads, the PostgreSQL backends serving it, this load generator, and other work
   on the machine), and Tenantry's resident memory (VmRSS summed over its
   processes) at the start of the measured load, its peak (sampled every half
   second) and after the load has stopped and the server idled for a few seconds;
6. prints the verdict against the acceptance of the hardening issue (on
   PostgreSQL, 5 minutes, 16 clients, 5 % sign-ins: no error other than 503s
   with Retry-After; p99 of everything but sign-in < 250 ms; RSS at the end
   within 10 % of the start) beside the ceiling's figures and their ratio, and adds
   a row to docs/benchmarks.md.

`--by-operation` measures each operation of `MIX` alone instead (no sign-ins, no
ceiling, no row), one after the other on one server, for `--minutes` each: its rate,
latency and CPU per request, server and database apart. CPU per request is the figure
to compare on a busy machine, where latency mostly measures the other work.

The exit status is 1 when a request failed otherwise than with a 503 carrying Retry-After.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from entitlements import CHECK_BODY, PASSWORD, Person, arrange
from signup import (  # the harness of bench/signup.py: same server, same temporary databases
    INTRO,
    RESULTS,
    SERVER_WORKERS,
    BenchDatabase,
    CodeCollector,
    CpuSnapshot,
    CpuUse,
    HttpFailure,
    Server,
    _descendants,
    _Exchange,
    _process_cpu,
    answering,
    commit,
    free_port,
    running_server,
    temporary_database,
)
from sqlalchemy import create_engine, update

from tenantry.catalog import load
from tenantry.core.db import sync_url
from tenantry.domains.models import Domain

ESSENTIALS = load().sku("BUSINESS_ESSENTIALS")
assert ESSENTIALS is not None
USERS_PER_CLIENT = 3
SIGN_IN = "sign-in"
# What an admin does besides signing in, by weight (the sign-in share comes first).
MIX = {
    "list users": 12,
    "get user": 14,
    "list groups": 6,
    "get group": 8,
    "create user": 3,
    "update user": 10,
    "add group member": 8,
    "assign license": 10,
    "entitlement check": 22,
    "audit log": 7,
}
# The hardening issue's acceptance (on PostgreSQL, 5 minutes, 16 clients, 5 % sign-ins).
P99_CEILING = 0.250
RSS_GROWTH_CEILING = 0.10

SECTION_START = "<!-- bench/soak.py results: start -->"
SECTION_END = "<!-- bench/soak.py results: end -->"
HEADER = (
    "| date (UTC) | commit | database | minutes | clients | sign-ins | requests/s "
    "| ceiling requests/s | ratio | errors | 503 with Retry-After | p99 all but sign-in "
    "| ceiling p99 all but sign-in | slowest operation (p99) | sign-in p50 / p99 "
    "| CPU per request, Tenantry / ceiling | server RSS start / peak / end | others' share "
    "| acceptance |"
)
SECTION = f"""
## Soak: mixed admin load (`bench/soak.py`)

`tenantry serve --workers 2` over HTTP on 127.0.0.1; C clients, each on a
keep-alive connection of its own, send requests one after the other for M
minutes after a warm-up: a share of sign-ins (`POST /v1/auth/token`, one argon2id
hash each), the rest an admin's work — list and read users and groups, create
users (a generated temporary password: a light hash) and rename them, add group
members, assign and remove a license, entitlement checks (a person about
themselves), the audit log (weights in `MIX`). Errors are
answers other than 2xx, except 503s that carry Retry-After (the server shedding
load as it says it will), counted apart. p99 "all but sign-in" is over every
other request together; the slowest operation is the one with the highest p99.
The ceiling (`bench/soak_ceiling.py`) serves the same clients, mix and requests
for as long, in the same run, from a bare ASGI app under uvicorn with the same
workers on the same database: each request answered after one statement (a
primary-key read, or a one-row insert or update for a change), each sign-in after
one argon2id verify in Tenantry's own bounded, niced hashing pool; the ratio is
Tenantry's requests/s over the ceiling's. CPU per request is the server's
processes and the PostgreSQL backends serving them, per request, the hashes apart
(Linux /proc). RSS is VmRSS summed over the server's processes: at the start of
the measured load, its peak (sampled every 0.5 s), and at the end (the load
stopped, 5 s of idle). **Acceptance (PostgreSQL, 5 minutes, 16 clients, 5 % sign-ins): no errors
other than 503s with Retry-After; p99 of everything but sign-in < 250 ms; RSS
back within 10 % of its start.** Other rows are shorter or on SQLite; their
verdict is given against the same figures.

{SECTION_START}
{HEADER}
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
{SECTION_END}
"""


# --- HTTP -------------------------------------------------------------------------------------


class _HeadedExchange(_Exchange):
    """bench/signup.py's keep-alive exchange that also keeps the answer's headers."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: dict[bytes, bytes] = {}

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.headers = {}
        return await super().send(request)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    retry_after: float  # seconds the server asked to wait (0: it did not ask)
    seconds: float

    def json(self) -> dict:
        return json.loads(self.body)


class Connection:
    """One client's keep-alive connection, reopened when the server closed it."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self.exchange: _HeadedExchange | None = None

    async def send(
        self,
        method: str,
        path: str,
        *,
        token: str = "",
        body: bytes = b"",
        content_type: str = "application/json",
    ) -> Answer:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        if body or method in ("POST", "PATCH"):
            lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        if self.exchange is None or self.exchange.transport is None:
            _, self.exchange = await asyncio.get_running_loop().create_connection(
                _HeadedExchange, self.host, self.port
            )
        exchange = self.exchange
        sent = time.perf_counter()
        try:
            status, answer = await asyncio.wait_for(exchange.send(request), self.timeout)
        except (HttpFailure, TimeoutError):
            self.close()
            raise
        seconds = time.perf_counter() - sent
        if exchange.headers.get(b"connection", b"").lower() == b"close":
            # The server ends a connection after its requests (TENANTRY_MAX_REQUESTS_PER_
            # CONNECTION): the next request opens a new one, as any HTTP/1.1 client does.
            self.close()
        retry_after = exchange.headers.get(b"retry-after", b"")
        return Answer(status, answer, float(retry_after) if retry_after.isdigit() else 0.0, seconds)

    def close(self) -> None:
        if self.exchange is not None and self.exchange.transport is not None:
            self.exchange.transport.close()
        self.exchange = None


def as_json(payload: object) -> bytes:
    return json.dumps(payload).encode()


# --- arrangement ------------------------------------------------------------------------------


@dataclass
class Client:
    """One client's own objects: its group, its users and which of them hold ESSENTIALS."""

    number: int
    group_id: str
    user_ids: list[str]
    licensed: set[str] = field(default_factory=set)
    created: int = 0


@dataclass
class Tenant:
    admin: Person
    people: list[Person]
    domain: str  # verified: new users are added on it
    clients: list[Client]

    def all_user_ids(self) -> list[str]:
        return [p.user_id for p in self.people] + [u for c in self.clients for u in c.user_ids]


def ok(response: httpx.Response) -> dict:
    """The JSON of a successful answer; RuntimeError with the answer otherwise."""
    if not response.is_success:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:500]}"
        )
    return response.json()


def verify_domain(database_url: str, *, tenant_id: str, name: str) -> None:
    """Stand-in for DNS verification (no DNS server here): the people's domain is verified, so
    that users can be added on it (names under the initial domain's `.localhost` suffix are
    not valid addresses)."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(
                update(Domain)
                .where(Domain.tenant_id == uuid.UUID(tenant_id), Domain.name == name)
                .values(is_verified=True, verified_at=datetime.now(UTC))
            )
    finally:
        engine.dispose()


async def arrange_tenant(server: Server, collector: CodeCollector, clients: int) -> Tenant:
    """bench/entitlements.py's tenant, ESSENTIALS bought, a group and users for each client."""
    people = await arrange(server, collector)
    admin = people[0]
    headers = {"Authorization": f"Bearer {admin.token}"}
    run = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=server.url, timeout=120, headers=headers) as api:
        organization = ok(await api.get("/v1/organization"))
        domain = admin.email.rsplit("@", 1)[1]
        verify_domain(server.database.url, tenant_id=organization["id"], name=domain)
        ok(
            await api.post(
                "/v1/subscriptions",
                json={"skuPartNumber": ESSENTIALS.part_number, "quantity": 100_000},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
        )
        made = []
        for number in range(clients):
            group = ok(await api.post("/v1/groups", json={"displayName": f"Soak {number} {run}"}))
            users = []
            for index in range(USERS_PER_CLIENT):
                user = await api.post(
                    "/v1/users",
                    json={
                        "userPrincipalName": f"soak{number}-{index}-{run}@{domain}",
                        "displayName": f"Soak {number} {index}",
                        "usageLocation": "FR",
                    },
                )
                users.append(ok(user)["id"])
            made.append(Client(number, group["id"], users))
    return Tenant(admin, people, domain, made)


# --- the operations ---------------------------------------------------------------------------

Operation = Callable[[Connection, Tenant, Client, random.Random], Awaitable[Answer]]


async def sign_in(
    connection: Connection, tenant: Tenant, client: Client, rng: random.Random
) -> Answer:
    person = rng.choice(tenant.people)
    form = urlencode({"grant_type": "password", "username": person.email, "password": PASSWORD})
    return await connection.send(
        "POST",
        "/v1/auth/token",
        body=form.encode(),
        content_type="application/x-www-form-urlencoded",
    )


async def list_users(
    connection: Connection, tenant: Tenant, client: Client, rng: random.Random
) -> Answer:
    return await connection.send("GET", "/v1/users?%24top=50", token=tenant.admin.token)


async def get_user(
    connection: Connection, tenant: Tenant, client: Client, rng: random.Random
) -> Answer:
    user_id = rng.choice(tenant.all_user_ids())
    return await connection.send("GET", f"/v1/users/{user_id}", token=tenant.admin.token)


async def list_groups(
    connection: Connection, tenant: Tenant, client: Client, rng: random.Random
) -> Answer:
    return await connection.send("GET", "/v1/groups?%24top=50", token=tenant.admin.token)


async def get_group(
    connection: Connection, tenant: Tenant, client: Client, rng: random.Random
) -> Answer:
    group_id = rng.choice(tenant.clients).group_id
    return await connection.send("GET", f"/v1/groups/{group_id}", token=tenant.admin.token)


async def create_user(
    connection: Connection, tenant: Tenant, client: Client, rng: random.Random
) -> Answer:
    client.created += 1
    name = f"soak{client.number}-new{client.created}-{uuid.uuid4().hex[:6]}"
    answer = await connection.send(
        "POST",
        "/v1/users",
        token=tenant.admin.token,
        body=as_json(
            {
                "userPrincipalName": f"{name}@{tenant.domain}",
                "displayName": name,
                "usageLocation": "FR",
            }
        ),
    )
    if answer.status == 201:
        client.user_ids.append(answer.json()["id"])
    return answer


async def update_user(
    connection: Connection, tenant: Tenant, client: Client, rng: random.Random
) -> Answer:
    user_id = rng.choice(client.user_ids)
    return await connection.send(
        "PATCH",
        f"/v1/users/{user_id}",
        token=tenant.admin.token,
        body=as_json({"displayName": f"Soak {client.number} {rng.randrange(10**6)}"}),
    )


async def add_group_member(
    connection: Connection, tenant: Tenant, client: Client, rng: random.Random
) -> Answer:
    return await connection.send(
        "POST",
        f"/v1/groups/{client.group_id}/members",
        token=tenant.admin.token,
        body=as_json({"userIds": [rng.choice(client.user_ids)]}),
    )


async def assign_license(
    connection: Connection, tenant: Tenant, client: Client, rng: random.Random
) -> Answer:
    """Give ESSENTIALS to one of the client's users, or take it back if they hold it."""
    user_id = rng.choice(client.user_ids)
    holds = user_id in client.licensed
    sku = str(ESSENTIALS.sku_id)
    change = (
        {"addLicenses": [], "removeLicenses": [sku]}
        if holds
        else {"addLicenses": [{"skuId": sku}], "removeLicenses": []}
    )
    answer = await connection.send(
        "POST", f"/v1/users/{user_id}/assignLicense", token=tenant.admin.token, body=as_json(change)
    )
    if answer.status == 200:
        (client.licensed.discard if holds else client.licensed.add)(user_id)
    return answer


async def entitlement_check(
    connection: Connection, tenant: Tenant, client: Client, rng: random.Random
) -> Answer:
    person = rng.choice(tenant.people)
    return await connection.send(
        "POST",
        f"/v1/users/{person.user_id}/entitlements/check",
        token=person.token,
        body=CHECK_BODY,
    )


async def audit_log(
    connection: Connection, tenant: Tenant, client: Client, rng: random.Random
) -> Answer:
    return await connection.send(
        "GET", "/v1/auditLogs/directoryAudits?%24top=50", token=tenant.admin.token
    )


OPERATIONS: dict[str, Operation] = {
    SIGN_IN: sign_in,
    "list users": list_users,
    "get user": get_user,
    "list groups": list_groups,
    "get group": get_group,
    "create user": create_user,
    "update user": update_user,
    "add group member": add_group_member,
    "assign license": assign_license,
    "entitlement check": entitlement_check,
    "audit log": audit_log,
}
assert set(OPERATIONS) == set(MIX) | {SIGN_IN}


# --- load -------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one phase of load saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[tuple[str, int]] = field(default_factory=Counter)
    shed: Counter[str] = field(default_factory=Counter)  # 503s with Retry-After
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def record(self, name: str, answer: Answer) -> None:
        self.latencies[name].append(answer.seconds)
        if 200 <= answer.status < 300:
            return
        if answer.status == 503 and answer.retry_after:
            self.shed[name] += 1
            return
        self.errors[(name, answer.status)] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{name}: {answer.status} {answer.body[:200]!r}")

    def fail(self, name: str, failure: Exception) -> None:
        self.errors[(name, 0)] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{name}: {type(failure).__name__} {failure}")

    @property
    def requests(self) -> int:
        return sum(len(found) for found in self.latencies.values())


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load(
    server: Server, tenant: Tenant, *, seconds: float, mix: dict[str, float], seed: int
) -> Tally:
    """Every client sends operations, drawn from `mix` by weight, one after the other for
    `seconds`."""
    tally = Tally()
    names = list(mix)
    weights = list(mix.values())
    stop_at = time.perf_counter() + seconds

    async def client(own: Client) -> None:
        rng = random.Random(seed * 1000 + own.number)
        connection = Connection(server.url)
        try:
            while time.perf_counter() < stop_at:
                name = rng.choices(names, weights)[0]
                try:
                    answer = await OPERATIONS[name](connection, tenant, own, rng)
                except (HttpFailure, TimeoutError, OSError) as failure:
                    tally.fail(name, failure)
                    continue
                tally.record(name, answer)
                if answer.status in (429, 503) and answer.retry_after:
                    # As Graph's SDKs and any client with a retry policy do: wait as asked.
                    await asyncio.sleep(min(answer.retry_after, 5.0))
        finally:
            connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(own) for own in tenant.clients))
    tally.seconds = time.perf_counter() - began
    return tally


def weighted_mix(signin_share: float) -> dict[str, float]:
    """The operations and their weights: sign-ins for `signin_share`, the rest as `MIX`."""
    total = sum(MIX.values())
    return {SIGN_IN: signin_share} | {
        name: (1 - signin_share) * weight / total for name, weight in MIX.items()
    }


@dataclass(frozen=True)
class PhaseCpu:
    """CPU-seconds spent while a phase's load ran, by whom (Linux /proc)."""

    app: float  # the server's processes at normal priority: everything but the hashes
    hashing: float  # the server's niced hashing threads (argon2id)
    database: float  # the PostgreSQL backends serving it (0 on SQLite: it runs in `app`)
    client: float  # this process: the load generator and its measurements
    others_share: float  # of the machine, used by other work meanwhile

    @staticmethod
    def snapshot(server: Server) -> tuple[CpuSnapshot, dict[int, float]]:
        backends = server.database.backend_pids()
        return CpuSnapshot.take(_descendants(server.pid)), {p: _process_cpu(p) for p in backends}

    @classmethod
    def between(
        cls,
        before: tuple[CpuSnapshot, dict[int, float]],
        after: tuple[CpuSnapshot, dict[int, float]],
    ) -> PhaseCpu:
        use = CpuUse.between(before[0], after[0])
        database = sum(cpu - before[1].get(pid, 0.0) for pid, cpu in after[1].items())
        others = max(0.0, use.others - database)
        return cls(
            app=use.tested_normal,
            hashing=use.tested - use.tested_normal,
            database=database,
            client=use.bench,
            others_share=others / use.machine_total if use.machine_total else float("nan"),
        )


def resident_kib(server: Server) -> int:
    """VmRSS summed over the server's processes (Linux /proc)."""
    total = 0
    for pid in _descendants(server.pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


async def sample_peak(server: Server, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], resident_kib(server))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


# --- the ceiling ------------------------------------------------------------------------------


@contextlib.contextmanager
def running_ceiling(database: BenchDatabase, tmp: Path) -> Iterator[Server]:
    """bench/soak_ceiling.py under uvicorn with the server's worker count, once it answers."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")},
        "TENANTRY_DATABASE_URL": database.url,
        "TENANTRY_DATA_DIR": str(tmp / "data"),
    }
    log_path = tmp / "ceiling.log"
    command = [
        sys.executable,
        str(Path(__file__).with_name("soak_ceiling.py")),
        "--port",
        str(port),
        "--workers",
        str(SERVER_WORKERS),
    ]
    with answering(command, env=env, tmp=tmp, port=port, log_path=log_path, what="ceiling") as (
        url,
        pid,
    ):
        yield Server(url=url, pid=pid, database=database)


# --- results ----------------------------------------------------------------------------------


@dataclass
class Phase:
    """One server under the load: what the clients saw and where the CPU went meanwhile."""

    tally: Tally
    cpu: PhaseCpu

    @property
    def rate(self) -> float:
        return self.tally.requests / self.tally.seconds

    @property
    def others(self) -> list[float]:
        """The latencies of every request but the sign-ins."""
        return [x for name, found in self.tally.latencies.items() if name != SIGN_IN for x in found]

    @property
    def p99_others(self) -> float:
        return quantile(self.others, 0.99)

    def per_request_ms(self) -> float:
        """Server and database CPU per request, the hashes apart."""
        return (self.cpu.app + self.cpu.database) / self.tally.requests * 1000

    def describe(self, title: str) -> str:
        tally, cpu = self.tally, self.cpu
        requests, signins = tally.requests, len(tally.latencies.get(SIGN_IN, []))
        lines = [title, f"{'operation':18} {'count':>7} {'p50 ms':>8} {'p99 ms':>8}  not 2xx"]
        for name in OPERATIONS:
            found = tally.latencies.get(name, [])
            if not found:
                continue
            bad = {s: n for (o, s), n in tally.errors.items() if o == name}
            shed = tally.shed.get(name, 0)
            lines.append(
                f"{name:18} {len(found):7} {quantile(found, 0.5) * 1000:8.1f} "
                f"{quantile(found, 0.99) * 1000:8.1f}  "
                + ", ".join(f"{n}× {s or 'no answer'}" for s, n in sorted(bad.items()))
                + (f" {shed}× 503 with Retry-After" if shed else "")
            )
        lines.append(
            f"{requests} requests in {tally.seconds:.0f} s ({self.rate:.0f}/s), "
            f"p99 of all but sign-in {self.p99_others * 1000:.0f} ms"
        )
        lines.append(
            f"CPU per request (hashes apart): server {cpu.app / requests * 1000:.2f} ms"
            + (
                f" + PostgreSQL {cpu.database / requests * 1000:.2f} ms"
                f" = {self.per_request_ms():.2f} ms"
                if cpu.database
                else ""
            )
            + (f"; hashing {cpu.hashing / signins * 1000:.0f} ms per sign-in" if signins else "")
            + f"; load generator {cpu.client / requests * 1000:.2f} ms"
            + f"; other work used {cpu.others_share:.0%} of the machine"
        )
        return "\n".join(lines)


def write_row(row: str) -> None:
    """Add a row to this benchmark's table in docs/benchmarks.md, creating what is missing."""
    content = RESULTS.read_text("utf-8") if RESULTS.exists() else INTRO
    if SECTION_START not in content:
        content = content.rstrip("\n") + "\n" + SECTION
    content = content.replace(SECTION_END, f"{row}\n{SECTION_END}", 1)
    RESULTS.write_text(content, "utf-8")


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="measured load (5)")
    parser.add_argument("--clients", type=int, default=16, help="clients, one connection each (16)")
    parser.add_argument(
        "--signin-share", type=float, default=0.05, help="share of sign-ins, 0 to 1 (0.05)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server on 127.0.0.1 to create a temporary database on "
        "(default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--warmup-seconds", type=float, default=15.0, help="load before measuring (15)"
    )
    parser.add_argument("--seed", type=int, default=1, help="of each client's choices (1)")
    parser.add_argument(
        "--no-ceiling",
        action="store_true",
        help="skip the ceiling (bench/soak_ceiling.py: the same load on a bare app)",
    )
    parser.add_argument(
        "--by-operation",
        action="store_true",
        help="instead: each operation of MIX alone (no sign-ins) for --minutes, one after the "
        "other on one server, and its CPU per request (no ceiling, no row written)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    # Access tokens live an hour; the arranged ones must outlive the run.
    if not 0.1 <= args.minutes <= 25:
        parser.error("--minutes must be between 0.1 and 25")
    if not 1 <= args.clients <= 256:
        parser.error("--clients must be between 1 and 256")
    if not 0 <= args.signin_share <= 1:
        parser.error("--signin-share must be between 0 and 1")
    if not 0 <= args.warmup_seconds <= 600:
        parser.error("--warmup-seconds must be between 0 and 600")
    # The server runs with its defaults, whatever this shell has set (see running_server).
    for name in [name for name in os.environ if name.startswith("TENANTRY_")]:
        del os.environ[name]
    kind = "postgresql" if args.database_url else "sqlite"
    mix = weighted_mix(args.signin_share)
    phases: dict[str, Phase] = {}
    rss = {"start": 0, "end": 0}
    peak = [0]

    async def measure(
        server: Server, tenant: Tenant, *, rss_of: bool, mix: dict[str, float] = mix
    ) -> Phase:
        """Warm-up, then the measured load, its CPU and (for Tenantry) the server's memory."""
        warm = await load(server, tenant, seconds=args.warmup_seconds, mix=mix, seed=args.seed + 1)
        if warm.errors:
            print(f"warm-up errors (not counted): {warm.examples}")
        stop_sampling = asyncio.Event()
        if rss_of:
            rss["start"] = peak[0] = resident_kib(server)
            sampler = asyncio.create_task(sample_peak(server, peak, stop_sampling))
        before = PhaseCpu.snapshot(server)
        tally = await load(server, tenant, seconds=args.minutes * 60, mix=mix, seed=args.seed)
        cpu = PhaseCpu.between(before, PhaseCpu.snapshot(server))
        if rss_of:
            await asyncio.sleep(5)  # idle: what the load left behind, not what it holds
            stop_sampling.set()
            await sampler
            rss["end"] = resident_kib(server)
        return Phase(tally, cpu)

    async def bench() -> None:
        collector = CodeCollector(asyncio.get_running_loop())
        collector.controller.start()
        try:
            with (
                tempfile.TemporaryDirectory(prefix="tenantry-bench-") as tmp_name,
                temporary_database(args.database_url, Path(tmp_name)) as database,
            ):
                with running_server(database, collector.port, Path(tmp_name)) as server:
                    print(f"server {server.url} on {kind}; arranging the tenant…")
                    tenant = await arrange_tenant(server, collector, args.clients)
                    if args.by_operation:
                        for name in MIX:
                            print(f"{name}: alone, {args.minutes:g} min")
                            only = {name: 1.0}
                            phases[name] = await measure(server, tenant, rss_of=False, mix=only)
                        return
                    print(
                        f"Tenantry: warm-up {args.warmup_seconds:.0f} s, then "
                        f"{args.minutes:g} min of load from {args.clients} clients, "
                        f"{args.signin_share:.0%} sign-ins"
                    )
                    phases["Tenantry"] = await measure(server, tenant, rss_of=True)
                if not args.no_ceiling:
                    with running_ceiling(database, Path(tmp_name)) as ceiling:
                        print(f"ceiling {ceiling.url}: the same load on a bare app")
                        phases["ceiling"] = await measure(ceiling, tenant, rss_of=False)
        finally:
            collector.controller.stop()

    try:
        asyncio.run(asyncio.wait_for(bench(), timeout=args.minutes * 120 + 900))
    except (RuntimeError, TimeoutError, OSError, httpx.HTTPError) as failure:
        print(f"benchmark failed: {type(failure).__name__}: {failure}", file=sys.stderr)
        return 1

    if args.by_operation:
        print(f"\n{'alone':18} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/request':>15}")
        for name, phase in phases.items():
            found, cpu = phase.tally.latencies[name], phase.cpu
            print(
                f"{name:18} {phase.rate:7.0f} {quantile(found, 0.5) * 1000:8.1f} "
                f"{quantile(found, 0.99) * 1000:8.1f} {phase.per_request_ms():8.2f} "
                f"(server {cpu.app / phase.tally.requests * 1000:.2f}, "
                f"database {cpu.database / phase.tally.requests * 1000:.2f}; "
                f"others {cpu.others_share:.0%})"
            )
        return 1 if any(phase.tally.errors for phase in phases.values()) else 0
    tenantry, ceiling = phases["Tenantry"], phases.get("ceiling")
    print("\n" + tenantry.describe("Tenantry (tenantry serve)"))
    if ceiling is not None:
        print("\n" + ceiling.describe("Ceiling (bench/soak_ceiling.py: one statement or hash)"))
    tally = tenantry.tally
    p99_others = tenantry.p99_others
    slowest = max(
        (name for name in tally.latencies if name != SIGN_IN),
        key=lambda name: quantile(tally.latencies[name], 0.99),
    )
    signins = tally.latencies.get(SIGN_IN, [])
    errors = sum(tally.errors.values())
    shed = sum(tally.shed.values())
    growth = rss["end"] / rss["start"] - 1 if rss["start"] else float("nan")
    missed = []
    if errors:
        missed.append(f"{errors} errors")
    if not p99_others < P99_CEILING:
        missed.append(f"p99 {p99_others * 1000:.0f} ms")
    if not growth <= RSS_GROWTH_CEILING:
        missed.append(f"RSS +{growth:.0%}")
    verdict = "met" if not missed else "missed: " + ", ".join(missed)
    others_share = f"{tenantry.cpu.others_share:.0%}"
    ratio = f"{tenantry.rate / ceiling.rate:.0%}" if ceiling else "—"
    print(
        f"\nTenantry: {tally.requests / tally.seconds:.0f} requests/s"
        + (f", the ceiling {ceiling.rate:.0f}/s: {ratio}" if ceiling else "")
        + f"; errors {errors}, 503 with Retry-After {shed}"
        f"\np99 of everything but sign-in {p99_others * 1000:.0f} ms (acceptance < 250 ms)"
        + (f", the ceiling's {ceiling.p99_others * 1000:.0f} ms" if ceiling else "")
        + f"; slowest: {slowest} p99 {quantile(tally.latencies[slowest], 0.99) * 1000:.0f} ms"
        f"\nsign-in p50 {quantile(signins, 0.5) * 1000:.0f} ms, "
        f"p99 {quantile(signins, 0.99) * 1000:.0f} ms"
        f"\nCPU per request (server and database, hashes apart): "
        f"Tenantry {tenantry.per_request_ms():.1f} ms"
        + (f", the ceiling {ceiling.per_request_ms():.1f} ms" if ceiling else "")
        + f"\nserver RSS start {mib(rss['start'])} MiB, peak {mib(peak[0])} MiB, "
        f"end {mib(rss['end'])} MiB ({growth:+.1%}; acceptance within 10 %)"
        f"\nother work used {others_share} of the machine"
        + (f" ({ceiling.cpu.others_share:.0%} during the ceiling)" if ceiling else "")
        + f"\nacceptance (PostgreSQL, 5 min, 16 clients, 5 % sign-ins): {verdict}"
    )
    for example in tally.examples:
        print(f"  {example}")
    if not args.no_write:
        row = (
            f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {commit()} | {kind} | {args.minutes:g} "
            f"| {args.clients} | {args.signin_share:.0%} | {tenantry.rate:.0f} "
            f"| {f'{ceiling.rate:.0f}' if ceiling else '—'} | {ratio} "
            f"| {errors} | {shed} | {p99_others * 1000:.0f} ms "
            f"| {f'{ceiling.p99_others * 1000:.0f} ms' if ceiling else '—'} "
            f"| {slowest} {quantile(tally.latencies[slowest], 0.99) * 1000:.0f} ms "
            f"| {quantile(signins, 0.5) * 1000:.0f} / {quantile(signins, 0.99) * 1000:.0f} ms "
            f"| {tenantry.per_request_ms():.1f}"
            f"{f' / {ceiling.per_request_ms():.1f}' if ceiling else ''} ms "
            f"| {mib(rss['start'])} / {mib(peak[0])} / {mib(rss['end'])} MiB "
            f"| {others_share} | {verdict} |"
        )
        write_row(row)
        print(f"results added to {RESULTS}")
    return 1 if errors else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
