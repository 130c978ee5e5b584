"""`tenantry doctor`: check what a server needs — database and schema, secret key, SMTP,
DNS — and say what is wrong and how to fix it.

It runs where the server runs and reads the same settings (TENANTRY_*), touching nothing:
it reads the schema's revision, opens and closes an SMTP session (EHLO, STARTTLS and login
when configured, no message), and asks the resolver for one TXT record.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import asdict, dataclass

import typer

from tenantry.cli.support import JsonOption, console, emit
from tenantry.core.config import Settings, get_settings

app = typer.Typer()

OK, WARNING, FAILED = "ok", "warning", "failed"
# Asked of the resolver: "no such name" is an answer, and all the check needs.
PROBE_NAME = "_tenantry-doctor.example.com"


@dataclass
class Finding:
    check: str
    status: str
    detail: str
    fix: str = ""


def check_database(settings: Settings) -> Finding:
    from sqlalchemy import create_engine, text

    from tenantry.core.db import sync_url
    from tenantry.core.migrate import schema_head

    shown = settings.database_url.split("@")[-1]  # never print a password
    try:
        engine = create_engine(sync_url(settings.database_url))
        try:
            with engine.connect() as connection:
                revision = connection.execute(
                    text("SELECT version_num FROM alembic_version")
                ).scalar()
        finally:
            engine.dispose()
    except Exception as failure:  # the driver's own errors differ by database
        first_line = str(failure).strip().splitlines()[0] if str(failure).strip() else ""
        if "alembic_version" in str(failure):
            return Finding(
                "database",
                FAILED,
                f"{shown} answers but has no schema",
                "run `tenantry migrate` (or start `tenantry serve`, which migrates)",
            )
        return Finding(
            "database",
            FAILED,
            f"cannot open {shown}: {type(failure).__name__}: {first_line}"[:300],
            "check TENANTRY_DATABASE_URL and that the database server is running",
        )
    if revision != schema_head():
        return Finding(
            "database",
            FAILED,
            f"{shown}: schema at {revision}, this version needs {schema_head()}",
            "run `tenantry migrate`",
        )
    return Finding("database", OK, f"{shown}: schema up to date ({revision})")


def check_secret_key(settings: Settings) -> Finding:
    if settings.secret_key:
        if len(settings.secret_key.encode()) < 32:
            return Finding(
                "secret key",
                FAILED,
                "TENANTRY_SECRET_KEY is shorter than 32 bytes",
                "set TENANTRY_SECRET_KEY to a long random value (e.g. `openssl rand -base64 48`)",
            )
        return Finding("secret key", OK, "TENANTRY_SECRET_KEY is set")
    path = settings.data_dir / "secret_key"
    if not path.exists():
        return Finding(
            "secret key",
            WARNING,
            f"none yet: `tenantry serve` will generate {path}",
            "for several servers on one database, set the same TENANTRY_SECRET_KEY on each",
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return Finding(
            "secret key",
            FAILED,
            f"{path} can be read by others (mode {mode:o})",
            f"chmod 600 {path}",
        )
    if not os.access(path, os.R_OK) or len(path.read_bytes().strip()) < 32:
        return Finding(
            "secret key", FAILED, f"{path} is unreadable or too short", f"remove {path} and restart"
        )
    return Finding("secret key", OK, f"kept in {path}")


def check_keyring(settings: Settings) -> Finding:
    from tenantry.core.keyring import KeyringMismatch

    try:
        settings.signing_secret  # noqa: B018 - opens the database's sealed keys
    except KeyringMismatch as mismatch:
        return Finding(
            "keys",
            FAILED,
            "this server's master key does not open the keys kept in the database",
            str(mismatch).split(". ", 1)[1],
        )
    except Exception as failure:  # no database: its own check says why
        return Finding("keys", WARNING, f"not checked: {type(failure).__name__}")
    return Finding("keys", OK, "the master key opens the keys kept in the database")


async def check_smtp(settings: Settings) -> Finding:
    if not settings.smtp_url:
        return Finding(
            "smtp",
            WARNING,
            "no TENANTRY_SMTP_URL: emails go to the development mailbox (/dev/mailbox)",
            "set TENANTRY_SMTP_URL=smtp://user:password@host:587 to deliver them",
        )
    import aiosmtplib

    from tenantry.core.mail import parse_smtp_url

    try:
        target = parse_smtp_url(settings.smtp_url)
    except ValueError as error:
        return Finding("smtp", FAILED, str(error), "fix TENANTRY_SMTP_URL")
    where = f"{target.hostname}:{target.port}"
    client = aiosmtplib.SMTP(
        hostname=target.hostname,
        port=target.port,
        use_tls=target.use_tls,
        timeout=settings.smtp_timeout,
    )
    try:
        await client.connect()
        if target.username:
            await client.login(target.username, target.password or "")
        await client.quit()
    except aiosmtplib.SMTPAuthenticationError as error:
        return Finding(
            "smtp",
            FAILED,
            f"{where} refused the login: {error.code} {error.message}",
            "check the user and password in TENANTRY_SMTP_URL",
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return Finding(
            "smtp",
            FAILED,
            f"cannot talk to {where}: {type(error).__name__}: {error}"[:300],
            "check the host and port in TENANTRY_SMTP_URL and that the server accepts us",
        )
    return Finding(
        "smtp", OK, f"{where} answers" + (" and accepts the login" if target.username else "")
    )


async def check_dns(settings: Settings) -> Finding:
    import dns.exception
    import dns.resolver

    from tenantry.core.dns import resolver_for

    servers = ", ".join(f"{host}:{port}" for host, port in settings.nameservers) or "the system's"
    try:
        await resolver_for(settings).resolve(PROBE_NAME, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        pass  # an answer: the resolver works
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as error:
        return Finding(
            "dns",
            FAILED,
            f"{servers} resolver did not answer: {type(error).__name__}",
            "set TENANTRY_DNS_NAMESERVERS=host[:port] to a resolver this machine can reach",
        )
    except dns.exception.DNSException as error:
        return Finding(
            "dns", FAILED, f"{servers} resolver: {error}", "check TENANTRY_DNS_NAMESERVERS"
        )
    return Finding("dns", OK, f"{servers} resolver answers (domain verification can look up TXT)")


async def _network_checks(settings: Settings) -> list[Finding]:
    return list(await asyncio.gather(check_smtp(settings), check_dns(settings)))


@app.command()
def doctor(as_json: bool = JsonOption) -> None:
    """Check the database and its schema, the secret key, SMTP and DNS, as `tenantry serve`
    would use them; print what is wrong and how to fix it (exit 1 when something failed)."""
    settings = get_settings()
    findings = [check_database(settings), check_secret_key(settings)]
    if findings[0].status == OK:
        findings.append(check_keyring(settings))
    findings += asyncio.run(_network_checks(settings))
    if as_json:
        emit([asdict(finding) for finding in findings], as_json=True)
    else:
        colours = {OK: "green", WARNING: "yellow", FAILED: "red"}
        for finding in findings:
            colour = colours[finding.status]
            console.print(
                f"[{colour}]{finding.status:>7}[/{colour}]  {finding.check}: {finding.detail}",
                soft_wrap=True,
                highlight=False,
            )
            if finding.fix and finding.status != OK:
                console.print(f"          fix: {finding.fix}", soft_wrap=True, highlight=False)
    if any(finding.status == FAILED for finding in findings):
        raise typer.Exit(1)
