"""Group-based licensing of 100,000 members on PostgreSQL, beside the raw INSERT rate of as many.

Run from the repository root:

    .venv/bin/python bench/group_licensing.py [--members N] [--database-url URL]

What it does, all on 127.0.0.1 and bounded in time and count:

1. creates a temporary PostgreSQL database on the server of `--database-url`
   (default postgresql://postgres@127.0.0.1:5432/test; dropped at the end) and
   migrates it;
2. arranges, in set-based SQL, a managed tenant with a Global Administrator and
   N users (100,000) with a usage location, all direct members of one group
   (the group itself is created through the API), then `ANALYZE`s, as a live
   database would have statistics;
3. starts `tenantry serve --workers 2` (the harness of bench/signup.py), signs
   the administrator in and buys N BUSINESS_PREMIUM licenses through the API;
4. the raw ceiling: into an empty copy of `license_assignments` (`LIKE …
   INCLUDING ALL`: same columns, defaults and indexes, no foreign keys), one
   `INSERT … SELECT` of one row per member, committed; measured once before and
   once after the processing, the mean is used (the machine is shared);
5. the measurement: `POST /v1/groups/{id}/assignLicense` over HTTP, then polls
   `GET /v1/groups/{id}` every 20 ms until `licenseProcessingState` is
   `ProcessingComplete`. Reported: that time, members/s, the job's own time
   (its "Start/Finish applying group based license to users" audit events),
   and the ratio to the raw rate. **Targets: >= 5,000 members/s and >= 30 % of
   the raw INSERT rate.** Then checks every member is Active and
   consumedUnits = N;
6. prints the server's peak RSS (VmHWM of each of its processes, from /proc)
   and adds a row to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from signup import (  # the harness of bench/signup.py: same server, same temporary databases
    INTRO,
    RESULTS,
    BenchDatabase,
    Server,
    _descendants,
    commit,
    free_port,
    running_server,
    temporary_database,
)
from sqlalchemy.engine import make_url

from tenantry.catalog import load
from tenantry.core.migrate import upgrade
from tenantry.core.security import password_hasher

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/test"
MAX_MEMBERS = 200_000
PASSWORD = "Bench-Passw0rd!"
PREMIUM = load().sku("BUSINESS_PREMIUM")
assert PREMIUM is not None

SECTION_START = "<!-- bench/group_licensing.py results: start -->"
SECTION_END = "<!-- bench/group_licensing.py results: end -->"
HEADER = (
    "| date (UTC) | commit | members | assignLicense → ProcessingComplete | members/s "
    "| job (audit start → finish) | raw INSERT … SELECT rows/s | ratio | server peak RSS |"
)
SECTION = f"""
## Group-based licensing (`bench/group_licensing.py`)

PostgreSQL, `tenantry serve --workers 2` on 127.0.0.1. One group of N members
(users with a usage location, arranged in set-based SQL), N BUSINESS_PREMIUM
licenses bought through the API; then `POST /v1/groups/{{id}}/assignLicense` and
`GET /v1/groups/{{id}}` polled every 20 ms until `ProcessingComplete`: the time
from the request to the state, and members/s over it. The job processes members
in chunks of 25,000, one transaction each (see `licensing/group_processing.py`).
The ceiling is one `INSERT … SELECT` of N rows into an empty copy of
`license_assignments` (same columns and indexes, no foreign keys), committed,
measured just before and just after, mean used. **Targets: >= 5,000 members/s
and >= 30 % of the raw rate.** Peak RSS is the largest VmHWM among the server's
processes (the sum over all of them in brackets).

{SECTION_START}
{HEADER}
|---|---|---|---|---|---|---|---|---|
{SECTION_END}
"""


@dataclass(frozen=True)
class Arranged:
    tenant_id: uuid.UUID
    group_member_source: str
    admin_email: str


def conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def arrange(database: BenchDatabase, members: int) -> Arranged:
    """A managed tenant, its Global Administrator and `members` users, in set-based SQL."""
    tenant_id = uuid.uuid4()
    domain = f"bench-{tenant_id.hex[:8]}.example"
    admin_email = f"ariane@{domain}"
    now = datetime.now(UTC)
    with psycopg.connect(conninfo(database.url)) as connection:
        connection.execute(
            "INSERT INTO tenants (id, display_name, state, allow_email_verified_users_to_join,"
            " allowed_to_sign_up_email_based_subscriptions, created_at, managed_at,"
            " country_letter_code) VALUES (%s, 'Bench', 'managed', true, true, %s, %s, 'FR')",
            (tenant_id, now, now),
        )
        admin_id = uuid.uuid4()
        connection.execute(
            "INSERT INTO users (id, tenant_id, user_principal_name, mail, display_name,"
            " display_name_key, source, usage_location, account_enabled, password_hash,"
            " must_change_password, failed_sign_ins, created_at)"
            " VALUES (%s, %s, %s, %s, 'Ariane', 'ariane', 'cloud', 'FR', true, %s, false, 0, %s)",
            (admin_id, tenant_id, admin_email, admin_email, password_hasher.hash(PASSWORD), now),
        )
        connection.execute(
            "INSERT INTO role_assignments (tenant_id, user_id, role, created_at)"
            " VALUES (%s, %s, 'GlobalAdministrator', %s)",
            (tenant_id, admin_id, now),
        )
        connection.execute(
            "INSERT INTO users (id, tenant_id, user_principal_name, mail, display_name,"
            " display_name_key, source, usage_location, account_enabled,"
            " must_change_password, failed_sign_ins, created_at)"
            " SELECT gen_random_uuid(), %s, 'user' || g || '@' || %s, 'user' || g || '@' || %s,"
            " 'User ' || g, 'user ' || lpad(g::text, 7, '0'), 'cloud', 'FR', true, false, 0, %s"
            " FROM generate_series(1, %s) AS g",
            (tenant_id, domain, domain, now, members),
        )
    return Arranged(tenant_id, domain, admin_email)


def fill_group(database: BenchDatabase, arranged: Arranged, group_id: str) -> None:
    """Every arranged user (not the admin) becomes a direct member of the group."""
    with psycopg.connect(conninfo(database.url)) as connection:
        connection.execute(
            "INSERT INTO group_members (tenant_id, group_id, user_id, created_at)"
            " SELECT tenant_id, %s, id, now() FROM users"
            " WHERE tenant_id = %s AND user_principal_name LIKE 'user%%'",
            (uuid.UUID(group_id), arranged.tenant_id),
        )
    with psycopg.connect(conninfo(database.url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def raw_insert_rate(database: BenchDatabase, arranged: Arranged, group_id: str) -> float:
    """Rows per second of one INSERT … SELECT of a row per member into an empty copy."""
    with psycopg.connect(conninfo(database.url), autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS raw_license_assignments")
        connection.execute(
            "CREATE TABLE raw_license_assignments (LIKE license_assignments INCLUDING ALL)"
        )
    with psycopg.connect(conninfo(database.url)) as connection:
        began = time.perf_counter()
        inserted = connection.execute(
            "INSERT INTO raw_license_assignments (id, tenant_id, user_id, sku_id,"
            " assigned_by_group, disabled_plans, state, error, created_at, updated_at)"
            " SELECT gen_random_uuid(), m.tenant_id, m.user_id, %s, m.group_id, '[]'::json,"
            " 'Active', NULL, now(), now()"
            " FROM group_members m WHERE m.tenant_id = %s AND m.group_id = %s",
            (PREMIUM.sku_id, arranged.tenant_id, uuid.UUID(group_id)),
        ).rowcount
        connection.commit()
        seconds = time.perf_counter() - began
    with psycopg.connect(conninfo(database.url), autocommit=True) as connection:
        connection.execute("DROP TABLE raw_license_assignments")
    return inserted / seconds


def memory_kib(server: Server, field: str) -> list[int]:
    """A /proc/<pid>/status field (VmRSS, VmHWM) of each of the server's processes, in KiB."""
    found = []
    for pid in _descendants(server.pid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    found.append(int(line.split()[1]))
        except OSError:
            continue
    return found


def job_seconds(database: BenchDatabase, tenant_id: uuid.UUID) -> float:
    """From the job's "Start applying…" audit event to its "Finish applying…" one."""
    with psycopg.connect(conninfo(database.url)) as connection:
        started, finished = connection.execute(
            "SELECT min(occurred_at) FILTER (WHERE action LIKE 'Start applying%%'),"
            " max(occurred_at) FILTER (WHERE action LIKE 'Finish applying%%')"
            " FROM audit_events WHERE tenant_id = %s",
            (tenant_id,),
        ).fetchone()
    return (finished - started).total_seconds()


def check_outcome(database: BenchDatabase, tenant_id: uuid.UUID, members: int) -> None:
    with psycopg.connect(conninfo(database.url)) as connection:
        active = connection.execute(
            "SELECT count(*) FROM license_assignments WHERE tenant_id = %s AND state = 'Active'",
            (tenant_id,),
        ).fetchone()[0]
        consumed = connection.execute(
            "SELECT consumed_units FROM subscribed_skus WHERE tenant_id = %s", (tenant_id,)
        ).fetchone()[0]
    if active != members or consumed != members:
        raise RuntimeError(
            f"expected {members} licensed: {active} Active rows, {consumed} consumed"
        )


def write_row(row: str) -> None:
    """Add a row to this benchmark's table of docs/benchmarks.md, creating what is missing."""
    text = RESULTS.read_text("utf-8") if RESULTS.exists() else INTRO
    if SECTION_START not in text:
        text = text.rstrip("\n") + "\n" + SECTION
    text = text.replace(SECTION_END, f"{row}\n{SECTION_END}", 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, "utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000, help="group members (100,000)")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE,
        help="a PostgreSQL server on 127.0.0.1 to create a temporary database on",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait at most")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    if not 1 <= args.members <= MAX_MEMBERS:
        parser.error(f"--members must be between 1 and {MAX_MEMBERS}")
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url must be a postgresql:// URL")

    with (
        tempfile.TemporaryDirectory(prefix="tenantry-bench-") as tmp_name,
        temporary_database(args.database_url, Path(tmp_name)) as database,
    ):
        tmp = Path(tmp_name)
        upgrade(database.url)
        began = time.perf_counter()
        arranged = arrange(database, args.members)
        print(f"{args.members} users arranged in {time.perf_counter() - began:.1f} s")
        with running_server(database, free_port(), tmp) as server:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                token = client.post(
                    "/v1/auth/token",
                    data={
                        "grant_type": "password",
                        "username": arranged.admin_email,
                        "password": PASSWORD,
                    },
                )
                token.raise_for_status()
                client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
                client.post(
                    "/v1/subscriptions",
                    json={"skuPartNumber": "BUSINESS_PREMIUM", "quantity": args.members},
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                ).raise_for_status()
                created = client.post("/v1/groups", json={"displayName": "Everyone"})
                created.raise_for_status()
                group_id = created.json()["id"]
                fill_group(database, arranged, group_id)
                print(f"group {group_id}: {args.members} members")

                raw = [raw_insert_rate(database, arranged, group_id)]
                print(f"raw INSERT … SELECT: {raw[0]:,.0f} rows/s")
                rss_before = sum(memory_kib(server, "VmRSS"))

                began = time.perf_counter()
                assigned = client.post(
                    f"/v1/groups/{group_id}/assignLicense",
                    json={
                        "addLicenses": [{"skuId": str(PREMIUM.sku_id), "disabledPlans": []}],
                        "removeLicenses": [],
                    },
                )
                if assigned.status_code != 202:
                    print(f"assignLicense failed: {assigned.text}", file=sys.stderr)
                    return 1
                deadline = began + args.timeout
                while True:
                    state = client.get(f"/v1/groups/{group_id}").json()["licenseProcessingState"]
                    if state and state["state"] == "ProcessingComplete":
                        break
                    if time.perf_counter() > deadline:
                        print(f"still {state} after {args.timeout:.0f} s", file=sys.stderr)
                        return 1
                    time.sleep(0.02)
                elapsed = time.perf_counter() - began
                peaks = memory_kib(server, "VmHWM")

            check_outcome(database, arranged.tenant_id, args.members)
            job = job_seconds(database, arranged.tenant_id)
            raw.append(raw_insert_rate(database, arranged, group_id))
            print(f"raw INSERT … SELECT: {raw[1]:,.0f} rows/s")

    rate = args.members / elapsed
    raw_rate = statistics.fmean(raw)
    ratio = rate / raw_rate
    peak, total = max(peaks) / 1024, sum(peaks) / 1024
    print(
        f"assignLicense → ProcessingComplete: {elapsed:.2f} s for {args.members:,} members\n"
        f"members/s: {rate:,.0f} (target >= 5,000)\n"
        f"job (audit Start → Finish): {job:.2f} s\n"
        f"raw INSERT … SELECT rows/s: {raw_rate:,.0f} (mean of {raw[0]:,.0f} and {raw[1]:,.0f})\n"
        f"ratio: {ratio:.0%} (target >= 30%)\n"
        f"server peak RSS: {peak:.0f} MiB in one process, {total:.0f} MiB over "
        f"{len(peaks)} processes (RSS before: {rss_before / 1024:.0f} MiB)"
    )
    if not args.no_write:
        date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
        write_row(
            f"| {date} | {commit()} | {args.members:,} | {elapsed:.2f} s | {rate:,.0f} "
            f"| {job:.2f} s | {raw_rate:,.0f} | {ratio:.0%} | {peak:.0f} MiB ({total:.0f} MiB) |"
        )
        print(f"added to {RESULTS.relative_to(RESULTS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
