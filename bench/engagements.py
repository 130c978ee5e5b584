"""Engagements at scale on PostgreSQL: a Power User's approvals list under load, and an expiry
round of 10,000 requests, each beside its ceiling in the same run.

Run from the repository root:

    .venv/bin/python bench/engagements.py [--requests N] [--engagements E] [--seconds S]
        [--concurrency C] [--database-url URL] [--write-row]

What it does, all on 127.0.0.1 and bounded in time and count:

1. creates a temporary PostgreSQL database on the server of `--database-url` (default
   postgresql://postgres@127.0.0.1:5432/test; dropped at the end) and migrates it;
2. arranges in set-based SQL: an operator (owner of every engagement), E engagements
   (200) open to all partner accounts, 50 active partner accounts of 200 people each,
   and N pending access requests (10,000) spread over the engagements and the accounts;
   Paul, of the first account, is Power User of every engagement: his approvals list is
   his organization's share (N / 50). Then `VACUUM ANALYZE`, as a live database would
   have statistics;
3. starts `tenantry serve --workers 2` (the harness of bench/signup.py), signs Paul in,
   and loads it with C keep-alive connections (32) for S seconds each, alternating
   `GET /v1/ping` (the ceiling: the same stack, no database) and
   `GET /v1/accessRequests?state=pendingApproval` (the first page, 100 requests with
   engagement, requester and organization): ping, list, ping, list. **Target: the
   list's p99 < 50 ms at 32 concurrent.**
4. stops the server, moves every request past its deadline, and times the expiry steps of
   the timed round (`engagements.scheduled.expire_due` in batches of 1,000 until none is
   due: each request expired, its requester's email written to the outbox, an audit
   event). The ceiling: one `UPDATE … SET state = 'expired'` of as many rows of a copy of
   the table (same columns and indexes). **Target: < 10 s for 10,000.**
5. prints everything; with `--write-row`, adds a row to docs/benchmarks.md (do that only
   on a quiet machine).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from entitlements import hammer, request_bytes
from signup import (  # the harness of bench/signup.py: same server, same temporary databases
    INTRO,
    RESULTS,
    commit,
    free_port,
    running_server,
    temporary_database,
)
from sqlalchemy.engine import make_url

from tenantry.core.clock import clock
from tenantry.core.db import Database
from tenantry.core.migrate import upgrade
from tenantry.core.security import password_hasher
from tenantry.engagements import scheduled

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "Bench-Passw0rd!"
ACCOUNTS = 50
SECTION_START = "<!-- bench/engagements.py results: start -->"
SECTION_END = "<!-- bench/engagements.py results: end -->"
HEADER = (
    "| date (UTC) | commit | requests / engagements | ping p99 | approvals list p50 / p99 "
    "(req/s) | expiry round | raw UPDATE |"
)
SECTION = f"""
## Engagements (`bench/engagements.py`)

PostgreSQL, `tenantry serve --workers 2` on 127.0.0.1. N pending access requests over E
engagements and 50 partner accounts; a Power User of every engagement lists his
organization's pending requests (`GET /v1/accessRequests?state=pendingApproval`, first
page) at 32 concurrent keep-alive connections, beside `GET /v1/ping` in the same run.
Then every request passes its deadline and the timed round's expiry steps run in batches of
1,000 (state, email, audit event each), beside one raw `UPDATE` of as many rows of a copy
of the table. **Targets: list p99 < 50 ms; expiry of 10,000 < 10 s.**

{SECTION_START}
{HEADER}
|---|---|---|---|---|---|---|
{SECTION_END}
"""


def conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def arrange(url: str, *, requests: int, engagements: int) -> str:
    """The operator, the engagements, the accounts and their people, the pending requests;
    Paul's sign-in address."""
    now = datetime.now(UTC)
    paul = "paul@partner-000.example"
    with psycopg.connect(conninfo(url)) as connection:
        run = connection.execute
        run(
            "INSERT INTO tenants (id, display_name, state, allow_email_verified_users_to_join,"
            " allowed_to_sign_up_email_based_subscriptions, created_at, managed_at,"
            " country_letter_code)"
            " SELECT gen_random_uuid(), 'Partner ' || lpad(g::text, 3, '0'), 'managed', true,"
            " true, %s, %s, 'FR' FROM generate_series(0, %s) AS g",
            (now, now, ACCOUNTS),
        )
        # Tenant "Partner 050" is the operator's; the 50 others each enroll an account.
        run(
            "INSERT INTO users (id, tenant_id, user_principal_name, mail, display_name,"
            " display_name_key, source, usage_location, account_enabled,"
            " must_change_password, failed_sign_ins, created_at)"
            " SELECT gen_random_uuid(), t.id,"
            " 'person' || g || '@partner-' || right(t.display_name, 3) || '.example', NULL,"
            " 'Person ' || g, 'person ' || lpad(g::text, 5, '0'), 'cloud', 'FR', true,"
            " false, 0, %s FROM tenants t, generate_series(1, %s) AS g"
            " WHERE t.display_name <> 'Partner 050'",
            (now, max(1, requests // ACCOUNTS)),
        )
        for email, name, tenant in (
            (paul, "Paul Power", "Partner 000"),
            ("nadia@operator.example", "Nadia Operator", "Partner 050"),
        ):
            run(
                "INSERT INTO users (id, tenant_id, user_principal_name, mail, display_name,"
                " display_name_key, source, usage_location, account_enabled, password_hash,"
                " must_change_password, failed_sign_ins, created_at)"
                " SELECT gen_random_uuid(), id, %s, %s, %s, lower(%s), 'cloud', 'FR', true, %s,"
                " false, 0, %s FROM tenants WHERE display_name = %s",
                (email, email, name, name, password_hasher.hash(PASSWORD), now, tenant),
            )
        run(
            "INSERT INTO platform_operators (user_id, created_at)"
            " SELECT id, %s FROM users WHERE user_principal_name = 'nadia@operator.example'",
            (now,),
        )
        run(
            "INSERT INTO partner_accounts (id, tenant_id, state, country_or_region, account_type,"
            " publisher_display_name, publisher_name_key, contact_name, contact_email,"
            " contact_phone, approver_name, approver_email, approver_phone, agreement_version,"
            " agreement_accepted_at, agreement_accepted_by, language, created_by, created_at,"
            " updated_at)"
            " SELECT gen_random_uuid(), t.id, 'active', 'FR', 'company', t.display_name,"
            " md5(t.display_name), 'Contact', 'contact@example.com', '+33142685300', 'Approver',"
            " 'approver@example.com', '+33142685300', 'tenantry-default-1', %s,"
            " gen_random_uuid(), 'en', gen_random_uuid(), %s, %s"
            " FROM tenants t WHERE t.display_name <> 'Partner 050'",
            (now, now, now),
        )
        run(
            "INSERT INTO engagements (id, program_id, display_name, display_name_key, description,"
            " terms_of_use, terms_revision, join_policy, all_partner_accounts,"
            " request_timeout_days, inactivity_days, state, created_by, created_at, updated_at)"
            " SELECT gen_random_uuid(), NULL, 'Engagement ' || g, 'engagement ' || lpad(g::text, 4,"
            " '0'), 'Bench', NULL, 0, 'approvalRequired', true, 14, 180, 'active',"
            " (SELECT id FROM users WHERE user_principal_name = 'nadia@operator.example'), %s, %s"
            " FROM generate_series(1, %s) AS g",
            (now, now, engagements),
        )
        # Nadia owns every engagement; Paul is Power User of each for the first account.
        run(
            "INSERT INTO engagement_members (engagement_id, user_id, partner_account_id,"
            " is_participant, is_power_user, is_content_publisher, is_owner, added_at,"
            " last_access_at)"
            " SELECT e.id, u.id, NULL, false, false, false, true, %s, %s FROM engagements e,"
            " users u WHERE u.user_principal_name = 'nadia@operator.example'",
            (now, now),
        )
        run(
            "INSERT INTO engagement_members (engagement_id, user_id, partner_account_id,"
            " is_participant, is_power_user, is_content_publisher, is_owner, added_at,"
            " last_access_at)"
            " SELECT e.id, u.id, a.id, false, true, false, false, %s, %s FROM engagements e,"
            " users u JOIN partner_accounts a ON a.tenant_id = u.tenant_id"
            " WHERE u.user_principal_name = %s",
            (now, now, paul),
        )
        # Request i: the i-th person of the accounts (in order), to engagement i mod E.
        run(
            "WITH people AS (SELECT u.id AS user_id, a.id AS account_id,"
            "   row_number() OVER (ORDER BY u.id) AS n FROM users u"
            "   JOIN partner_accounts a ON a.tenant_id = u.tenant_id"
            "   WHERE u.user_principal_name LIKE 'person%%'),"
            " numbered AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM engagements)"
            " INSERT INTO engagement_access_requests (id, engagement_id, requester_id,"
            " partner_account_id, justification, terms_version, state, created_at, expires_at,"
            " remind_at, updated_at)"
            " SELECT gen_random_uuid(), e.id, p.user_id, p.account_id, 'Bench justification',"
            " 'tenantry-default-terms-1', 'pendingApproval', %s - (p.n || ' seconds')::interval,"
            " %s + interval '14 days', %s + interval '7 days', %s"
            " FROM people p JOIN numbered e ON e.n = p.n %% %s WHERE p.n <= %s",
            (now, now, now, now, engagements, requests),
        )
        connection.commit()
    with psycopg.connect(conninfo(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return paul


def raw_update_seconds(url: str) -> tuple[int, float]:
    """One UPDATE of every pending row of a copy of the requests table (same indexes)."""
    with psycopg.connect(conninfo(url), autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS raw_requests")
        connection.execute(
            "CREATE TABLE raw_requests (LIKE engagement_access_requests INCLUDING ALL)"
        )
        connection.execute("INSERT INTO raw_requests SELECT * FROM engagement_access_requests")
        connection.execute("VACUUM ANALYZE raw_requests")
    with psycopg.connect(conninfo(url)) as connection:
        began = time.perf_counter()
        rows = connection.execute(
            "UPDATE raw_requests SET state = 'expired', decided_at = now(), updated_at = now()"
            " WHERE state = 'pendingApproval' RETURNING id"
        ).fetchall()
        connection.commit()
        seconds = time.perf_counter() - began
    with psycopg.connect(conninfo(url), autocommit=True) as connection:
        connection.execute("DROP TABLE raw_requests")
    return len(rows), seconds


async def expiry_round(url: str) -> tuple[int, float]:
    """The timed round's expiry steps, as `tick` runs them, until nothing is due."""
    database = Database(url)
    expired = 0
    try:
        began = time.perf_counter()
        while True:
            async with database.unit_of_work() as db_session:
                done = await scheduled.expire_due(
                    db_session, now=clock.now(), base_url="http://127.0.0.1"
                )
            expired += done
            if done < scheduled.BATCH:
                break
        return expired, time.perf_counter() - began
    finally:
        await database.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--engagements", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--write-row", action="store_true")
    options = parser.parse_args()
    if not 1 <= options.requests <= 100_000 or not 1 <= options.engagements <= 10_000:
        sys.exit("--requests 1..100000, --engagements 1..10000")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        with temporary_database(options.database_url, tmp) as database:
            if database.kind != "postgresql":
                sys.exit("PostgreSQL only: --database-url postgresql://...")
            upgrade(database.url)
            began = time.perf_counter()
            paul = arrange(database.url, requests=options.requests, engagements=options.engagements)
            print(f"arranged in {time.perf_counter() - began:.1f} s", file=sys.stderr)
            # No email is sent while the list is loaded: the SMTP port is a free one.
            with running_server(database, free_port(), tmp) as server:
                token = httpx.post(
                    f"{server.url}/v1/auth/token",
                    data={"grant_type": "password", "username": paul, "password": PASSWORD},
                    timeout=60,
                ).json()["access_token"]
                host = server.url.split("//", 1)[1]
                listing = request_bytes(
                    "GET", "/v1/accessRequests?state=pendingApproval", host, token=token
                )
                first = httpx.get(
                    f"{server.url}/v1/accessRequests",
                    params={"state": "pendingApproval"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert first.status_code == 200 and first.json()["value"], first.text[:300]
                ping = request_bytes("GET", "/v1/ping", host)
                rounds = {"ping": [], "list": []}
                for name, request in (("ping", ping), ("list", listing)) * 2:
                    rounds[name].append(
                        asyncio.run(
                            hammer(
                                server.url,
                                [request] * options.concurrency,
                                options.seconds,
                                1.0,
                                name,
                            )
                        )
                    )
            with psycopg.connect(conninfo(database.url)) as connection:
                connection.execute(
                    "UPDATE engagement_access_requests SET expires_at = now() - interval '1 second'"
                )
                connection.commit()
            raw_rows, raw_seconds = raw_update_seconds(database.url)
            expired, expiry_seconds = asyncio.run(expiry_round(database.url))
            with psycopg.connect(conninfo(database.url)) as connection:
                mails = connection.execute("SELECT count(*) FROM outbox_messages").fetchone()[0]
            assert expired == options.requests and mails >= expired, (expired, mails)

    def merged(name: str) -> tuple[float, float, float, int]:
        latencies = sorted(x for r in rounds[name] for x in r.latencies)
        errors = sum(len(r.errors) for r in rounds[name])
        rate = statistics.mean(r.rate for r in rounds[name])
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
        return rate, p50 * 1000, p99 * 1000, errors

    ping_rate, _, ping_p99, ping_errors = merged("ping")
    list_rate, list_p50, list_p99, list_errors = merged("list")
    print(f"ping: {ping_rate:.0f} req/s, p99 {ping_p99:.1f} ms, errors {ping_errors}")
    print(
        f"approvals list ({options.requests // ACCOUNTS} of Paul's organization): "
        f"{list_rate:.0f} req/s, p50 {list_p50:.1f} ms, p99 {list_p99:.1f} ms "
        f"(target < 50 ms), errors {list_errors}"
    )
    print(
        f"expiry round: {expired} requests in {expiry_seconds:.2f} s (target < 10 s); "
        f"raw UPDATE of {raw_rows} rows: {raw_seconds:.2f} s"
    )
    if options.write_row:
        row = (
            f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {commit()} | {options.requests:,} / "
            f"{options.engagements} | {ping_p99:.1f} ms | {list_p50:.1f} / {list_p99:.1f} ms "
            f"({list_rate:.0f}) | {expiry_seconds:.2f} s | {raw_seconds:.2f} s |"
        )
        write_row(row)
    return 0


def write_row(row: str) -> None:
    """Add a row to this benchmark's table in docs/benchmarks.md (the section once)."""
    text = RESULTS.read_text() if RESULTS.exists() else INTRO
    if SECTION_START not in text:
        text = text.rstrip() + "\n" + SECTION
    text = text.replace(SECTION_END, f"{row}\n{SECTION_END}")
    RESULTS.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
