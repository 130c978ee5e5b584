"""Entitlement checks per second against `tenantry serve --workers 2`, beside a hello-world route.

Run from the repository root:

    .venv/bin/python bench/entitlements.py [--seconds S] [--concurrency C] [--database-url URL]

What it does, all on 127.0.0.1 and bounded in time:

1. starts aiosmtpd and `tenantry serve --workers 2` on a fresh temporary SQLite
   file (or, with `--database-url postgresql://...`, a fresh database on that
   server, dropped afterwards) — the same harness as bench/signup.py;
2. arranges a managed tenant: 16 people sign up through the API (each keeps the
   free offer), the first is made Global Administrator straight in the database,
   buys BUSINESS_PREMIUM through the API and licenses everyone; so every check
   reads an offer and a license;
3. load: C keep-alive connections (64) sending requests back to back (connecting
   again when the server ends one, every TENANTRY_MAX_REQUESTS_PER_CONNECTION), from one
   process speaking raw HTTP/1.1 (a light client, so the server is what is
   measured), alternating `GET /v1/ping` (hello world: no database, no
   authentication, same FastAPI/uvicorn stack) and
   `POST /v1/users/{id}/entitlements/check` (each user asks about themselves
   with their own bearer token): ping, check, ping, check, each for S seconds
   after a warm-up, so both see the same machine load. **Targets: check rate
   >= 50 % of the ping rate, check p99 < 20 ms.**
4. offline token verification (`tenantry.licensing.EntitlementVerifier`), one
   thread: "cold" verifies a signature every time (400 distinct tokens, cache
   off), "cached" is an app seeing the same tokens again. Rates are per CPU
   second of this process, i.e. per core. **Target: >= 20,000 per core.**
5. prints everything and adds a row to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from signup import (  # the harness of bench/signup.py: same server, same temporary databases
    INTRO,
    RESULTS,
    CodeCollector,
    CpuSnapshot,
    CpuUse,
    Server,
    commit,
    running_server,
    temporary_database,
)
from sqlalchemy import create_engine, insert, update

from tenantry.core.db import sync_url
from tenantry.directory.constants import Role
from tenantry.directory.models import RoleAssignment, User
from tenantry.licensing import EntitlementVerifier
from tenantry.tenants.models import MANAGED, Tenant

PEOPLE = 16
PASSWORD = "Bench-Passw0rd!"
CHECK_BODY = json.dumps({"name": "meetings.max_participants", "value": 50}).encode()

SECTION_START = "<!-- bench/entitlements.py results: start -->"
SECTION_END = "<!-- bench/entitlements.py results: end -->"
HEADER = (
    "| date (UTC) | commit | database | concurrency | hello-world req/s | checks/s | ratio "
    "| check p50 | check p99 | hello p99 | verify cold /s/core | verify cached /s/core "
    "| bare ES256 /s/core | others' share of the machine |"
)
SECTION = f"""
## Entitlement checks and offline token verification (`bench/entitlements.py`)

`tenantry serve --workers 2` over HTTP on 127.0.0.1. 64 keep-alive connections
send requests back to back from one raw-HTTP/1.1 client process. Hello world is
`GET /v1/ping` (no database, no authentication) on the same server; a check is
`POST /v1/users/{{id}}/entitlements/check` `{{name, value}}` by the user about
themselves (the token, the user's offers and licenses: one indexed statement on
a raw driver connection, see docs/design.md "Licensing"). The two alternate
(ping, check, ping, check) so they share the machine's load. **Targets: checks/s
≥ 50 % of hello world, check p99 < 20 ms.** Offline verification of ES256
entitlement tokens with `tenantry.licensing.EntitlementVerifier` in one thread,
per CPU second: "cold" checks the signature every time, "cached" is the
verifier's cache of tokens it has already verified (what an app sees on a user's
later requests). **Target: >= 20,000 verifications per second per core.** "Bare
ES256" is the ceiling: OpenSSL verifying one P-256 signature in a loop, same
thread. The last column is the share of the machine that other processes used
during the HTTP rounds (this machine is shared): latencies in particular depend
on it.

{SECTION_START}
{HEADER}
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
{SECTION_END}
"""


# --- arrangement ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    email: str
    user_id: str
    token: str


async def arrange(server: Server, collector: CodeCollector) -> list[Person]:
    """A managed tenant whose people each hold the free offer and a BUSINESS_PREMIUM license."""
    domain = f"bench-{uuid.uuid4().hex[:8]}.com"
    emails = [f"person{i:02d}@{domain}" for i in range(PEOPLE)]
    people: list[Person] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        for email in emails:  # one by one: everyone lands in the same tenant
            started = await client.post("/v1/signup", json={"email": email, "displayName": email})
            started.raise_for_status()
            code = await asyncio.wait_for(collector.expect(email), timeout=60)
            verified = await client.post(
                f"/v1/signup/{started.json()['signupId']}/verify",
                json={"code": code, "password": PASSWORD},
            )
            verified.raise_for_status()
            signed_in = await client.post(
                "/v1/auth/token",
                data={"grant_type": "password", "username": email, "password": PASSWORD},
            )
            signed_in.raise_for_status()
            people.append(
                Person(email, verified.json()["user"]["id"], signed_in.json()["access_token"])
            )
        tenant_id = verified.json()["tenant"]["id"]
        promote(server.database.url, tenant_id=tenant_id, admin_id=people[0].user_id)
        admin = {"Authorization": f"Bearer {people[0].token}"}
        bought = await client.post(
            "/v1/subscriptions",
            json={"skuPartNumber": "BUSINESS_PREMIUM", "quantity": PEOPLE},
            headers=admin | {"Idempotency-Key": str(uuid.uuid4())},
        )
        bought.raise_for_status()
        for person in people:
            assigned = await client.post(
                f"/v1/users/{person.user_id}/assignLicense",
                json={"addLicenses": [{"skuId": bought.json()["skuId"]}]},
                headers=admin,
            )
            assigned.raise_for_status()
        probe = await client.post(
            f"/v1/users/{people[1].user_id}/entitlements/check",
            content=CHECK_BODY,
            headers={
                "Authorization": f"Bearer {people[1].token}",
                "Content-Type": "application/json",
            },
        )
        assert probe.json() == {
            "name": "meetings.max_participants",
            "value": 50,
            "allowed": True,
            "limit": 300,
        }, probe.text
    return people


def promote(database_url: str, *, tenant_id: str, admin_id: str) -> None:
    """Stand-in for the takeover: managed tenant, a Global Administrator, usage locations."""
    now = datetime.now(UTC)
    tenant, admin = uuid.UUID(tenant_id), uuid.UUID(admin_id)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(
                update(Tenant).where(Tenant.id == tenant).values(state=MANAGED, managed_at=now)
            )
            connection.execute(
                insert(RoleAssignment).values(
                    tenant_id=tenant,
                    user_id=admin,
                    role=Role.GLOBAL_ADMINISTRATOR.value,
                    created_at=now,
                )
            )
            connection.execute(
                update(User).where(User.tenant_id == tenant).values(usage_location="FR")
            )
    finally:
        engine.dispose()


# --- load -----------------------------------------------------------------------------------


@dataclass
class Round:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    others_share: float = 0.0  # of the machine, used by other processes meanwhile

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def latency(self, quantile: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(quantile * (len(ordered) - 1)))]


def request_bytes(
    method: str, path: str, host: str, *, token: str = "", body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def hammer(
    url: str, requests: list[bytes], seconds: float, warmup: float, name: str
) -> Round:
    """len(requests) keep-alive connections, each sending its request back to back."""
    parts = urlsplit(url)
    result = Round(name)
    measuring = False

    async def connection(request: bytes, stop_at: float) -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while (now := time.perf_counter()) < stop_at:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                closing = False
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                    elif line.lower() == b"connection: close":
                        closing = True
                await reader.readexactly(length)
                if measuring:
                    result.latencies.append(time.perf_counter() - now)
                    if head[9:12] != b"200":
                        result.errors.append(head.split(b"\r\n")[0].decode())
                if closing:  # the server ends a connection every so many requests: reconnect
                    writer.close()
                    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    began = time.perf_counter()
    stop_at = began + warmup + seconds
    tasks = [asyncio.create_task(connection(r, stop_at)) for r in requests]
    await asyncio.sleep(warmup)
    measuring, started = True, time.perf_counter()
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started
    return result


# --- offline verification -------------------------------------------------------------------


def verification_rates(tokens: list[str], jwks: dict, issuer: str) -> tuple[float, float]:
    """Verifications per CPU second: signature every time, and from the verifier's cache."""
    cold = EntitlementVerifier(jwks, issuer=issuer, cache_size=0)
    cached = EntitlementVerifier(jwks, issuer=issuer)
    for token in tokens:
        cached.verify(token)

    def per_cpu_second(verifier: EntitlementVerifier, rounds: int) -> float:
        started = time.process_time()
        for _ in range(rounds):
            for token in tokens:
                verifier.verify(token)
        return rounds * len(tokens) / (time.process_time() - started)

    per_cpu_second(cold, 1)  # warm up
    return per_cpu_second(cold, 5), per_cpu_second(cached, 200)


def raw_es256_rate(seconds: float = 2.0) -> float:
    """The ceiling: bare P-256 ECDSA verifications (OpenSSL via cryptography) per CPU second."""
    key = ec.generate_private_key(ec.SECP256R1())
    message = b"x" * 400
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    public = key.public_key()
    done, started = 0, time.process_time()
    while time.process_time() - started < seconds:
        for _ in range(100):
            public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        done += 100
    return done / (time.process_time() - started)


async def fetch_tokens(server: Server, people: list[Person], count: int) -> tuple[list[str], dict]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        tokens = []
        for i in range(count):
            person = people[i % len(people)]
            issued = await client.post(
                "/v1/me/entitlementToken", headers={"Authorization": f"Bearer {person.token}"}
            )
            issued.raise_for_status()
            tokens.append(issued.json()["token"])
        jwks = (await client.get("/.well-known/jwks.json")).json()
    return tokens, jwks


# --- results --------------------------------------------------------------------------------


def write_row(row: str) -> None:
    """Add a row to this benchmark's table in docs/benchmarks.md, creating what is missing."""
    content = RESULTS.read_text("utf-8") if RESULTS.exists() else INTRO
    if SECTION_START not in content:
        content = content.rstrip("\n") + "\n" + SECTION
    content = content.replace(SECTION_END, f"{row}\n{SECTION_END}", 1)
    RESULTS.write_text(content, "utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="each measured round (8)")
    parser.add_argument("--concurrency", type=int, default=64, help="connections (64)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server on 127.0.0.1 to create a temporary database on "
        "(default: a temporary SQLite file)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 60:
        parser.error("--seconds must be between 1 and 60")
    if not 1 <= args.concurrency <= 512:
        parser.error("--concurrency must be between 1 and 512")
    kind = "postgresql" if args.database_url else "sqlite"
    rounds: list[Round] = []
    verify_cold = verify_cached = verify_ceiling = 0.0

    async def bench() -> None:
        nonlocal verify_cold, verify_cached, verify_ceiling
        collector = CodeCollector(asyncio.get_running_loop())
        collector.controller.start()
        try:
            with (
                tempfile.TemporaryDirectory(prefix="tenantry-bench-") as tmp_name,
                temporary_database(args.database_url, Path(tmp_name)) as database,
                running_server(database, collector.port, Path(tmp_name)) as server,
            ):
                print(f"server {server.url} on {kind}; arranging {PEOPLE} licensed people…")
                people = await arrange(server, collector)
                host = urlsplit(server.url).netloc
                ping = [request_bytes("GET", "/v1/ping", host)] * args.concurrency
                checks = [
                    request_bytes(
                        "POST",
                        f"/v1/users/{person.user_id}/entitlements/check",
                        host,
                        token=person.token,
                        body=CHECK_BODY,
                    )
                    for person in (people[i % PEOPLE] for i in range(args.concurrency))
                ]
                for name, requests in (("ping", ping), ("check", checks)) * 2:
                    before = CpuSnapshot.take(server.pids())
                    measured = await hammer(server.url, requests, args.seconds, 2.0, name)
                    cpu = CpuUse.between(before, CpuSnapshot.take(server.pids()))
                    measured.others_share = cpu.others_share
                    rounds.append(measured)
                    print(
                        f"{name:6} {measured.rate:8.0f} req/s  p50 "
                        f"{measured.latency(0.5) * 1000:6.2f} ms  p99 "
                        f"{measured.latency(0.99) * 1000:6.2f} ms  server CPU "
                        f"{cpu.tested / measured.seconds:.2f} cores "
                        f"({cpu.tested / max(1, len(measured.latencies)) * 1000:.2f} ms each), "
                        f"others {cpu.others_share:.0%} of the machine"
                        + (f"  ERRORS {len(measured.errors)}" if measured.errors else "")
                    )
                tokens, jwks = await fetch_tokens(server, people, 400)
                issuer = EntitlementVerifier(jwks).verify(tokens[0]).claims["iss"]
                verify_cold, verify_cached = await asyncio.to_thread(
                    verification_rates, tokens, jwks, issuer
                )
                verify_ceiling = await asyncio.to_thread(raw_es256_rate)
        finally:
            collector.controller.stop()

    try:
        import uvloop

        uvloop.run(asyncio.wait_for(bench(), timeout=900))
    except (RuntimeError, httpx.HTTPError) as failure:
        print(f"benchmark failed: {failure}", file=sys.stderr)
        return 1
    errors = [e for r in rounds for e in r.errors]
    if errors:
        print(f"{len(errors)} request(s) failed, for example: {errors[:3]}", file=sys.stderr)
        return 1

    ping_rate = statistics.mean(r.rate for r in rounds if r.name == "ping")
    check_rounds = [r for r in rounds if r.name == "check"]
    check_rate = statistics.mean(r.rate for r in check_rounds)
    check_latencies = Round("check", latencies=[x for r in check_rounds for x in r.latencies])
    ping_latencies = Round(
        "ping", latencies=[x for r in rounds if r.name == "ping" for x in r.latencies]
    )
    ratio = check_rate / ping_rate
    others = statistics.mean(r.others_share for r in rounds)
    p50, p99 = check_latencies.latency(0.5) * 1000, check_latencies.latency(0.99) * 1000
    print(
        f"\nhello world {ping_rate:.0f} req/s; entitlement checks {check_rate:.0f}/s "
        f"= {ratio:.0%} of hello world (target >= 50%); check p50 {p50:.2f} ms, "
        f"p99 {p99:.2f} ms (target < 20 ms)"
    )
    print(
        f"offline verification, per core: {verify_cold:,.0f}/s cold (signature each time), "
        f"{verify_cached:,.0f}/s cached (target >= 20,000); bare ES256 signature checks on "
        f"this machine: {verify_ceiling:,.0f}/s"
    )
    if not args.no_write:
        row = (
            f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {commit()} | {kind} | {args.concurrency} "
            f"| {ping_rate:.0f} | {check_rate:.0f} | {ratio:.0%} | {p50:.1f} ms | {p99:.1f} ms "
            f"| {ping_latencies.latency(0.99) * 1000:.1f} ms | {verify_cold:,.0f} "
            f"| {verify_cached:,.0f} | {verify_ceiling:,.0f} | {others:.0%} |"
        )
        write_row(row)
        print(f"results added to {RESULTS}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
