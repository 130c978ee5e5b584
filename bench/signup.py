"""Verified sign-ups per second over HTTP against `tenantry serve --workers 2`, versus raw argon2id.

Run from the repository root:

    .venv/bin/python bench/signup.py [--signups N] [--concurrency C] [--database-url URL]

What it does, all on 127.0.0.1 and bounded in time and count:

1. starts aiosmtpd on a free port to receive the sign-up codes;
2. starts `tenantry serve --workers 2` on a free port, on a fresh temporary
   SQLite file (or, with `--database-url postgresql://...`, on a fresh database
   created on that server and dropped afterwards), with rate limits raised;
3. warms the server up with 2*C complete sign-ups (not measured);
4. start phase: `POST /v1/signup` for N people (many distinct work domains, a
   few shared ones), then waits until every code has been delivered by SMTP;
5. verify phase: `POST /v1/signup/{id}/verify` with the code and a password for
   all N, C at a time. This is the step that computes the argon2id hash, so the
   **target (>= 90 % of the raw hash rate) refers to the verify-phase rate**;
   the end-to-end rate (first start to last verify, mail delivery included) is
   reported beside it. Requests go through `LightClient` (keep-alive HTTP/1.1,
   parsed by httptools), so the client takes little of the cores it shares with
   the server;
6. measures the raw argon2id hash rate on the same machine the way the server
   hashes (`tenantry.core.security`: the same hasher with argon2-cffi's default
   parameters, `HASH_WORKERS` threads per process at the hashing priority) with
   the server's parallelism (2 processes hashing in a loop), once just before
   and once just after the verify phase, and takes the mean;
7. prints the rates, their ratio, where the CPU went (Linux /proc) and how much
   of the machine other work used meanwhile, and adds a row to docs/benchmarks.md.

The server is stopped and temporary files and databases removed even on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from urllib.parse import urlsplit

import httptools
import httpx
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks.md"
SERVER_WORKERS = 2
MAX_SIGNUPS = 5000
CODE = re.compile(r"\b(\d{6})\b")
PASSWORD = "Bench-Passw0rd!"

SECTION_START = "<!-- bench/signup.py results: start -->"
SECTION_END = "<!-- bench/signup.py results: end -->"
INTRO = """# Benchmarks

Scripts in `bench/` measure Tenantry against a ceiling on the same machine, in
the same run, so that the ratio stays meaningful on a busy or slower machine.
They are not part of the test suite. Run them from the repository root with the
project's virtualenv, for example:

    .venv/bin/python bench/signup.py
    .venv/bin/python bench/signup.py --database-url postgresql://postgres@127.0.0.1:5432/test

Each run adds a row to its table below. Machine: 2 cores (shared with other
work while these numbers were taken, which is why each row compares against a
ceiling measured in the same run).
"""
HEADER = (
    "| date (UTC) | commit | database | sign-ups | concurrency | verified sign-ups/s "
    "| end-to-end sign-ups/s | raw argon2id hashes/s | ratio | ratio net of other load "
    "| verify p50 | verify p99 | other load (raw / verify) |"
)
SECTION = f"""
## Self-service sign-up (`bench/signup.py`)

`tenantry serve --workers 2` over HTTP on 127.0.0.1, codes delivered over SMTP to
aiosmtpd. Each sign-up is `POST /v1/signup`, then `POST /v1/signup/{{id}}/verify`
with the emailed code and a password; most people have a work domain of their
own, one in four shares one of a few domains. The verify step computes the
password's argon2id hash (argon2-cffi defaults: t=3, m=64 MiB, p=4), so its rate
is bounded by the machine's hash rate. The **target: verified sign-ups/s (verify
phase) >= 90 % of the raw argon2id hash rate**, measured in the same run by 2
processes hashing in a loop exactly as the server's 2 workers do
(`tenantry.core.security`: the same hasher, `HASH_WORKERS` hashes at once per
process, at the hashing priority), once just before and once just after the
verify phase. End-to-end counts from the first `POST /v1/signup` to the last
verify, mail delivery included. Latencies are those of the verify requests.
"Other load" is the share of the machine used by other work while the raw rate
and the verify phase were measured (the larger of the two raw measurements): rows
with more than a few percent compare two moments of a busy machine. "Ratio net of
other load" divides each side by the CPU time other work left free during it; it
equals the ratio on a quiet machine and is the steadier of the two on a busy one.

{SECTION_START}
{HEADER}
|---|---|---|---|---|---|---|---|---|---|---|---|---|
{SECTION_END}
"""


# --- raw argon2id ---------------------------------------------------------------------------


def server_hasher() -> PasswordHasher:
    """The hasher the server makes from its settings (this process's environment, which
    has no TENANTRY_* variables left, like the server's: argon2-cffi's defaults)."""
    from tenantry.core import security
    from tenantry.core.config import Settings

    if hasattr(security, "configure_hashing"):
        settings = Settings()
        security.configure_hashing(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
    return security.password_hasher


def _hash_until(start_at: float, stop_at: float) -> tuple[float, int, float]:
    """Hash from `start_at` to `stop_at` (monotonic clock) the way one server process does:
    the server's hasher, HASH_WORKERS threads at once, at the server's hashing priority.
    Hashes per second, hashes done, CPU seconds used."""
    hasher = server_hasher()
    from tenantry.core import security

    hasher.hash(PASSWORD)  # warm up: allocation, first touch of memory

    def loop() -> tuple[int, float]:
        time.sleep(max(0.0, start_at - time.monotonic()))
        done, last = 0, start_at
        while last < stop_at:
            hasher.hash(PASSWORD)
            done, last = done + 1, time.monotonic()
        return done, last - start_at

    cpu = time.process_time()
    # (Older servers hashed one at a time per process, at normal priority.)
    threads = getattr(security, "HASH_WORKERS", 1)
    initializer = getattr(security, "lower_priority", None)
    with ThreadPoolExecutor(threads, initializer=initializer) as pool:
        results = list(pool.map(lambda _: loop(), range(threads)))
    # Each thread's rate over its own completed hashes: no partial hash is counted.
    return (
        sum(done / elapsed for done, elapsed in results),
        sum(done for done, _ in results),
        time.process_time() - cpu,
    )


@dataclass(frozen=True)
class HashRate:
    per_second: float
    cpu_per_hash: float
    others_share: float  # of the machine, used by other work while this was measured
    per_free_cpu_second: float  # hashes per CPU-second that other work left free


def raw_hash_rate(pool: ProcessPoolExecutor, seconds: float) -> HashRate:
    """argon2id hashes per second over the pool's processes, hashing all at once."""
    start_at = time.monotonic() + 1.5  # after every process has imported and warmed up
    futures = [
        pool.submit(_hash_until, start_at, start_at + seconds) for _ in range(SERVER_WORKERS)
    ]
    time.sleep(max(0.0, start_at - time.monotonic()))
    before = CpuSnapshot.take([])
    results = [f.result() for f in futures]
    machine = CpuUse.between(before, CpuSnapshot.take([]))
    hashing = sum(cpu for *_, cpu in results)
    done = sum(done for _, done, _ in results)
    others = max(0.0, machine.machine_busy - hashing - machine.bench)
    return HashRate(
        per_second=sum(rate for rate, _, _ in results),
        cpu_per_hash=hashing / done,
        others_share=others / machine.machine_total if machine.machine_total else 0.0,
        per_free_cpu_second=done / (machine.machine_total - others)
        if machine.machine_total > others
        else float("nan"),
    )


# --- mail -----------------------------------------------------------------------------------


class CodeCollector:
    """aiosmtpd on 127.0.0.1 that hands each recipient's 6-digit code to the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.codes: dict[str, asyncio.Future[str]] = {}
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def expect(self, address: str) -> asyncio.Future[str]:
        """The future code of an address."""
        return self.codes.setdefault(address.lower(), self.loop.create_future())

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=email_policy.default)
        body = message.get_body(preferencelist=("plain",))
        found = CODE.search(body.get_content() if body else "")
        if found:
            for recipient in envelope.rcpt_tos:
                self.loop.call_soon_threadsafe(self._deliver, recipient.lower(), found.group(1))
        return "250 OK"

    def _deliver(self, address: str, code: str) -> None:
        future = self.expect(address)
        if not future.done():
            future.set_result(code)


# --- CPU accounting -------------------------------------------------------------------------
# Linux /proc: what the machine, the system under test (the server's processes and, on
# PostgreSQL, the database's backends serving it) and this client each used. It tells a
# run disturbed by other work on the machine from a slow server.

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                queue.extend(int(c) for c in (task / "children").read_text().split())
    return found


def _normal_priority_threads(pid: int) -> dict[tuple[int, int], float]:
    """CPU of the live threads of `pid` at normal priority: all but the server's hashing
    threads, which run niced (`tenantry.core.security.HASH_NICENESS`) with their lanes."""
    found = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (task / "stat").read_text().rpartition(")")[2].split()
                if int(fields[16]) <= 0:  # nice
                    found[(pid, int(task.name))] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def _process_cpu(pid: int) -> float:
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return 0.0


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used so far by the machine, the system under test and this benchmark."""

    machine_busy: float
    machine_total: float
    tested: dict[int, float]
    bench: float
    tested_normal: dict[tuple[int, int], float] = field(default_factory=dict)

    @classmethod
    def take(cls, pids: list[int]) -> CpuSnapshot:
        busy = total = 0.0
        with contextlib.suppress(OSError, ValueError):
            values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
            total = sum(values[:8]) / TICKS
            busy = total - (values[3] + values[4]) / TICKS  # minus idle and iowait
        normal: dict[tuple[int, int], float] = {}
        for pid in pids:
            normal.update(_normal_priority_threads(pid))
        return cls(
            busy, total, {pid: _process_cpu(pid) for pid in pids}, time.process_time(), normal
        )


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds used between two snapshots."""

    machine_busy: float
    machine_total: float
    tested: float
    bench: float
    tested_normal: float = 0.0  # of `tested`: threads at normal priority (not hashing)

    @classmethod
    def between(cls, before: CpuSnapshot, after: CpuSnapshot) -> CpuUse:
        return cls(
            machine_busy=after.machine_busy - before.machine_busy,
            machine_total=after.machine_total - before.machine_total,
            tested=sum(cpu - before.tested.get(pid, 0.0) for pid, cpu in after.tested.items()),
            bench=after.bench - before.bench,
            tested_normal=sum(
                cpu - before.tested_normal.get(key, 0.0) for key, cpu in after.tested_normal.items()
            ),
        )

    @property
    def others(self) -> float:
        """CPU-seconds used by everything else on the machine."""
        return max(0.0, self.machine_busy - self.tested - self.bench)

    @property
    def others_share(self) -> float:
        """The share of the machine used by everything else while the phase ran."""
        return self.others / self.machine_total if self.machine_total else float("nan")

    @property
    def free(self) -> float:
        """CPU-seconds that everything else left to the server and this benchmark."""
        return self.machine_total - self.others


# --- server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tenantry_executable() -> str:
    candidate = Path(sys.executable).parent / "tenantry"
    found = str(candidate) if candidate.exists() else shutil.which("tenantry")
    if not found:
        sys.exit("tenantry is not installed: run `.venv/bin/pip install -e .` first")
    return found


@dataclass(frozen=True)
class BenchDatabase:
    url: str
    kind: str
    admin_conninfo: str | None = None
    name: str | None = None

    def backend_pids(self) -> list[int]:
        """PostgreSQL backends connected to this database (none for SQLite)."""
        if not self.admin_conninfo:
            return []
        import psycopg

        with psycopg.connect(self.admin_conninfo, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)
            ).fetchall()
        return [pid for (pid,) in rows]


@contextlib.contextmanager
def temporary_database(admin_url: str | None, tmp: Path) -> Iterator[BenchDatabase]:
    """A fresh SQLite file in `tmp`, or a fresh PostgreSQL database dropped afterwards."""
    if not admin_url:
        yield BenchDatabase(url=f"sqlite:///{tmp / 'bench.db'}", kind="sqlite")
        return
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(admin_url)
    if parsed.get_backend_name() != "postgresql" or parsed.host not in ("127.0.0.1", "localhost"):
        sys.exit("--database-url must be postgresql://...@127.0.0.1/... (traffic stays local)")
    name = f"tenantry_bench_{uuid.uuid4().hex[:10]}"
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield BenchDatabase(
            url=parsed.set(database=name).render_as_string(hide_password=False),
            kind="postgresql",
            admin_conninfo=conninfo,
            name=name,
        )
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    database: BenchDatabase

    def pids(self) -> list[int]:
        """The server's processes and the database backends serving it."""
        return _descendants(self.pid) + self.database.backend_pids()


@contextlib.contextmanager
def running_server(database: BenchDatabase, smtp_port: int, tmp: Path) -> Iterator[Server]:
    """`tenantry serve --workers 2` on a free port, once /healthz answers."""
    port = free_port()
    env = {
        # The server's defaults, whatever this shell has set, except for these:
        **{k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")},
        "TENANTRY_DATABASE_URL": database.url,
        "TENANTRY_DATA_DIR": str(tmp / "data"),
        "TENANTRY_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "TENANTRY_SIGNUP_RATE_PER_HOUR": "1000000",
        "TENANTRY_SIGNIN_RATE_PER_MINUTE": "1000000",
    }
    log_path = tmp / "server.log"
    command = [
        tenantry_executable(),
        "serve",
        "--workers",
        str(SERVER_WORKERS),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with answering(command, env=env, tmp=tmp, port=port, log_path=log_path, what="server") as (
        url,
        pid,
    ):
        yield Server(url=url, pid=pid, database=database)


@contextlib.contextmanager
def answering(
    command: list[str], *, env: dict[str, str], tmp: Path, port: int, log_path: Path, what: str
) -> Iterator[tuple[str, int]]:
    """Start `command` (a server on `port`) and yield its URL and pid once /healthz answers
    200; stop it afterwards. RuntimeError with the log's end when it exits or stays silent."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the {what} exited:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {what} did not answer:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        yield url, process.pid
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the server (and its workers) to stop; kill its process group if it does not."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the server and its workers
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


# --- a light HTTP client ---------------------------------------------------------------------
# The benchmark shares the machine's two cores with the server, so whatever its client
# spends per request is taken from the hashes being measured. httpx costs about 2 ms of
# CPU per request here; this keep-alive HTTP/1.1 client, parsing with httptools (the C
# parser uvicorn uses), costs a tenth of that, as a load generator on another machine
# would cost nothing.


class HttpFailure(ConnectionError):
    """The server closed a connection or answered something that is not HTTP/1.1."""


class _Exchange(asyncio.Protocol):
    """One keep-alive connection: one request at a time, its answer parsed by httptools."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.answer: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(HttpFailure(f"not an HTTP answer: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(HttpFailure("the server closed the connection"))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_result((self.parser.get_status_code(), b"".join(self.body)))

    def _fail(self, error: Exception) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(error)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        if self.transport is None:
            raise HttpFailure("the connection is closed")
        self.body = []
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.answer


class LightClient:
    """Up to `size` keep-alive connections to one server, for JSON POSTs."""

    def __init__(self, url: str, size: int, timeout: float = 120.0) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.size, self.timeout = size, timeout
        self.idle: list[_Exchange] = []
        self.gate = asyncio.Semaphore(size)
        self.opened: list[_Exchange] = []

    async def post_json(self, path: str, payload: object) -> tuple[int, bytes, float]:
        """Status and body of `POST path` with this JSON body, and the seconds it took from
        being sent (waiting for a free connection is not counted)."""
        body = json.dumps(payload).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        return await self.exchange(request)

    async def exchange(self, request: bytes) -> tuple[int, bytes, float]:
        """Send a whole HTTP/1.1 request on a free keep-alive connection: its status, body
        and the seconds from sending to the last byte of the answer."""
        async with self.gate:
            # The server closes connections left idle (uvicorn: after 5 s), for example
            # while the raw hash rate is measured: those are dropped.
            while self.idle and self.idle[-1].transport is None:
                self.idle.pop()
            exchange = self.idle.pop() if self.idle else await self._open()
            sent = time.perf_counter()
            status, answer = await asyncio.wait_for(exchange.send(request), self.timeout)
            # Not reached on failure: a broken connection is dropped. One the server ends after
            # its requests (`Connection: close`) is closed, and the next request opens another.
            if exchange.parser.should_keep_alive():
                self.idle.append(exchange)
            elif exchange.transport is not None:
                exchange.transport.close()
            return status, answer, time.perf_counter() - sent

    async def _open(self) -> _Exchange:
        _, exchange = await asyncio.get_running_loop().create_connection(
            _Exchange, self.host, self.port
        )
        self.opened.append(exchange)
        return exchange

    def close(self) -> None:
        for exchange in self.opened:
            if exchange.transport is not None:
                exchange.transport.close()


# --- the sign-ups ---------------------------------------------------------------------------


@dataclass
class Outcome:
    signups: int
    concurrency: int
    start_seconds: float = 0.0
    mail_seconds: float = 0.0
    verify_seconds: float = 0.0
    verify_latencies: list[float] = field(default_factory=list)
    verify_cpu: CpuUse | None = None
    database_cpu: float = 0.0  # of verify_cpu.tested: PostgreSQL's backends
    errors: list[str] = field(default_factory=list)

    @property
    def verify_rate(self) -> float:
        return self.signups / self.verify_seconds

    @property
    def end_to_end_rate(self) -> float:
        return self.signups / (self.start_seconds + self.mail_seconds + self.verify_seconds)

    def latency(self, quantile: float) -> float:
        ordered = sorted(self.verify_latencies)
        return ordered[min(len(ordered) - 1, round(quantile * (len(ordered) - 1)))]


def people(count: int, run: str) -> list[tuple[str, str]]:
    """Addresses and names: most at a domain of their own, one in four at one of a few shared."""
    shared = [f"shared{k}-{run}.com" for k in range(max(1, count // 40))]
    result = []
    for i in range(count):
        domain = shared[i % len(shared)] if i % 4 == 0 else f"org{i:05d}-{run}.com"
        result.append((f"person{i:05d}@{domain}", f"Person {i}"))
    return result


async def run_signups(
    server: Server,
    collector: CodeCollector,
    outcome: Outcome,
    *,
    measure_hashes: Callable[[], Awaitable[None]],
) -> None:
    client = LightClient(server.url, outcome.concurrency)
    try:

        async def start(email: str, name: str) -> str | None:
            status, body, _ = await client.post_json(
                "/v1/signup", {"email": email, "displayName": name}
            )
            if status != 202:
                outcome.errors.append(f"signup {email}: {status} {body.decode(errors='replace')}")
                return None
            collector.expect(email)
            return json.loads(body)["signupId"]

        async def verify(signup_id: str, code: str, latencies: list[float]) -> None:
            status, body, seconds = await client.post_json(
                f"/v1/signup/{signup_id}/verify", {"code": code, "password": PASSWORD}
            )
            latencies.append(seconds)
            if status not in (200, 201):
                outcome.errors.append(
                    f"verify {signup_id}: {status} {body.decode(errors='replace')}"
                )

        async def codes_for(everyone: list[tuple[str, str]]) -> list[str]:
            return await asyncio.wait_for(
                asyncio.gather(*(collector.expect(email) for email, _ in everyone)), timeout=300
            )

        # Warm-up, not measured: every server process loads its lazy state (the public
        # suffix list, SQLAlchemy's compiled statements, argon2's first allocations).
        warm_up = people(2 * outcome.concurrency, uuid.uuid4().hex[:8])
        warm_ids = await asyncio.gather(*(start(email, name) for email, name in warm_up))
        if outcome.errors:
            return
        warm_codes = await codes_for(warm_up)
        await asyncio.gather(
            *(verify(i, c, []) for i, c in zip(warm_ids, warm_codes, strict=True) if i)
        )
        if outcome.errors:
            return

        everyone = people(outcome.signups, uuid.uuid4().hex[:8])
        began = time.perf_counter()
        ids = await asyncio.gather(*(start(email, name) for email, name in everyone))
        outcome.start_seconds = time.perf_counter() - began
        if outcome.errors:
            return

        began = time.perf_counter()
        codes = await codes_for(everyone)
        outcome.mail_seconds = time.perf_counter() - began

        await measure_hashes()  # the raw rate just before the verify phase

        backends = server.database.backend_pids()
        cpu = CpuSnapshot.take(server.pids())
        began = time.perf_counter()
        await asyncio.gather(
            *(verify(i, c, outcome.verify_latencies) for i, c in zip(ids, codes, strict=True) if i)
        )
        outcome.verify_seconds = time.perf_counter() - began
        after = CpuSnapshot.take(server.pids())
        outcome.verify_cpu = CpuUse.between(cpu, after)
        outcome.database_cpu = sum(
            after.tested.get(pid, 0.0) - cpu.tested.get(pid, 0.0) for pid in backends
        )
    finally:
        client.close()


# --- results --------------------------------------------------------------------------------


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return f"{head}+" if dirty else head


def write_row(row: str) -> None:
    """Add a row to the sign-up table of docs/benchmarks.md, creating what is missing."""
    text = RESULTS.read_text("utf-8") if RESULTS.exists() else INTRO
    if SECTION_START not in text:
        text = text.rstrip("\n") + "\n" + SECTION
    text = text.replace(SECTION_END, f"{row}\n{SECTION_END}", 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, "utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=200, help="people who sign up (200)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (16)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server on 127.0.0.1 to create a temporary database on "
        "(default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--hash-seconds", type=float, default=8.0, help="each raw hash measurement (8)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    if not 1 <= args.signups <= MAX_SIGNUPS:
        parser.error(f"--signups must be between 1 and {MAX_SIGNUPS}")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be between 1 and 256")
    if not 1 <= args.hash_seconds <= 60:
        parser.error("--hash-seconds must be between 1 and 60")

    # The server runs with its defaults, whatever this shell has set (see running_server);
    # so do the raw hashing processes, started from this environment.
    for name in [name for name in os.environ if name.startswith("TENANTRY_")]:
        del os.environ[name]
    password_hasher = server_hasher()
    print(
        f"argon2id t={password_hasher.time_cost} m={password_hasher.memory_cost} KiB "
        f"p={password_hasher.parallelism}; {os.cpu_count()} cores; "
        f"{args.signups} sign-ups, concurrency {args.concurrency}"
    )
    outcome = Outcome(signups=args.signups, concurrency=args.concurrency)
    raw_rates: list[HashRate] = []
    kind = "postgresql" if args.database_url else "sqlite"

    with (
        tempfile.TemporaryDirectory(prefix="tenantry-bench-") as tmp_name,
        ProcessPoolExecutor(
            SERVER_WORKERS, mp_context=multiprocessing.get_context("spawn")
        ) as pool,
    ):
        tmp = Path(tmp_name)

        async def measure_hashes() -> None:
            rate = await asyncio.to_thread(raw_hash_rate, pool, args.hash_seconds)
            raw_rates.append(rate)
            print(
                f"raw argon2id: {rate.per_second:.2f} hashes/s, "
                f"{rate.cpu_per_hash * 1000:.0f} ms CPU each "
                f"(other work used {rate.others_share:.0%} of the machine meanwhile)"
            )

        async def bench() -> None:
            collector = CodeCollector(asyncio.get_running_loop())
            collector.controller.start()
            try:
                with (
                    temporary_database(args.database_url, tmp) as database,
                    running_server(database, collector.port, tmp) as server,
                ):
                    print(f"server {server.url} on {kind}")
                    await asyncio.wait_for(
                        run_signups(server, collector, outcome, measure_hashes=measure_hashes),
                        timeout=900,
                    )
                    if not outcome.errors:
                        await measure_hashes()  # and just after
            finally:
                collector.controller.stop()

        try:
            asyncio.run(bench())
        except (RuntimeError, TimeoutError, OSError, httpx.HTTPError) as failure:
            print(f"benchmark failed: {type(failure).__name__}: {failure}", file=sys.stderr)
            return 1
    if outcome.errors:
        print(f"{len(outcome.errors)} request(s) failed, for example:", file=sys.stderr)
        for error in outcome.errors[:5]:
            print(f"  {error[:300]}", file=sys.stderr)
        return 1

    raw = statistics.fmean(r.per_second for r in raw_rates)
    cpu_per_hash = statistics.fmean(r.cpu_per_hash for r in raw_rates)
    ratio = outcome.verify_rate / raw
    p50, p99 = outcome.latency(0.50), outcome.latency(0.99)
    print(
        f"start phase {outcome.start_seconds:.1f}s, mail {outcome.mail_seconds:.1f}s, "
        f"verify phase {outcome.verify_seconds:.1f}s\n"
        f"verified sign-ups/s (verify phase, the target): {outcome.verify_rate:.2f}\n"
        f"end-to-end sign-ups/s: {outcome.end_to_end_rate:.2f}\n"
        f"raw argon2id hashes/s ({SERVER_WORKERS} processes): {raw:.2f} "
        f"(before {raw_rates[0].per_second:.2f}, after {raw_rates[-1].per_second:.2f})\n"
        f"ratio: {ratio:.0%} (target >= 90%)\n"
        f"verify latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )
    cpu = outcome.verify_cpu
    others = f"{cpu.others_share:.0%}" if cpu else "?"
    raw_others = max(r.others_share for r in raw_rates)
    # Each rate per CPU-second that other work left free: both sides then see the same
    # machine even when other work came and went between the measurements.
    net_ratio = (
        (outcome.signups / cpu.free) / statistics.fmean(r.per_free_cpu_second for r in raw_rates)
        if cpu and cpu.free > 0
        else float("nan")
    )
    print(f"ratio net of other load: {net_ratio:.0%}")
    if cpu:
        # Where the verify phase's CPU went, against what a hash alone costs.
        tested = cpu.tested / outcome.signups
        rest = cpu.tested_normal / outcome.signups
        client = cpu.bench / outcome.signups
        print(
            f"verify phase CPU per sign-up: server{' and database' if kind != 'sqlite' else ''} "
            f"{tested * 1000:.0f} ms (hashing {(tested - rest) * 1000:.0f} ms, "
            f"the rest {rest * 1000:.0f} ms"
            + (
                f" of which PostgreSQL {outcome.database_cpu / outcome.signups * 1000:.0f} ms"
                if kind != "sqlite"
                else ""
            )
            + f"), bench client {client * 1000:.0f} ms; "
            f"a raw hash {cpu_per_hash * 1000:.0f} ms "
            f"(CPU ratio {cpu_per_hash / (tested + client):.0%}); "
            f"other work used {others} of the machine"
        )
    if max(raw_others, cpu.others_share if cpu else 0.0) > 0.10:
        print(
            "warning: other work used more than 10% of the machine during a measurement; "
            "the ratio is less reliable (re-run on a quieter machine)"
        )
    if not args.no_write:
        date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
        write_row(
            f"| {date} | {commit()} | {kind} | {outcome.signups} | {outcome.concurrency} "
            f"| {outcome.verify_rate:.2f} | {outcome.end_to_end_rate:.2f} | {raw:.2f} "
            f"| {ratio:.0%} | {net_ratio:.0%} | {p50 * 1000:.0f} ms | {p99 * 1000:.0f} ms "
            f"| {raw_others:.0%} / {others} |"
        )
        print(f"added to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
