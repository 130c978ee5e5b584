"""Settings read from `TENANTRY_*` environment variables."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can set; each field is `TENANTRY_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="TENANTRY_", extra="ignore")

    database_url: str = "sqlite:///./tenantry.db"
    smtp_url: str | None = None
    smtp_from: str = "Tenantry <no-reply@tenantry.localhost>"
    smtp_timeout: float = 10.0
    dns_nameservers: str | None = None
    dns_timeout: float = 3.0
    data_dir: Path = Path("./.tenantry")
    secret_key: str | None = None
    catalog_path: Path | None = None
    consumer_domains_file: Path | None = None
    initial_domain_suffix: str = "tenantry.localhost"
    base_url: str = "http://127.0.0.1:8000"
    cookie_secure: bool = False
    access_token_ttl_seconds: int = 3600
    session_ttl_seconds: int = 8 * 3600
    worker_poll_seconds: float = 1.0
    outbox_max_attempts: int = 8
    signup_code_ttl_seconds: int = 600
    signup_code_max_attempts: int = 5
    signup_resend_interval_seconds: int = 60
    signup_max_sends: int = 5
    signup_rate_per_hour: int = 60
    signin_rate_per_minute: int = 30
    # argon2id cost of new password hashes: argon2-cffi's defaults (RFC 9106 low-memory).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    # Admission control of password hashing (core/security.py): threads hashing at once
    # (unset: one per core) and hashes waiting for one (unset: eight per thread); past that,
    # a request that needs a hash gets 503 at once.
    hash_workers: int | None = Field(default=None, ge=1)
    hash_queue_depth: int | None = Field(default=None, ge=0)
    # Admission control of requests (core/admission.py): requests each process runs at once
    # (0: no limit), and how long one may wait for a place before it gets 503 at once.
    max_concurrent_requests: int = Field(default=8, ge=0)
    admission_wait_ms: int = Field(default=100, ge=0)
    # Smart lockout (auth/lockout.py): failures per user and origin, then per user from anywhere.
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_seconds: int = Field(default=900, ge=1)
    lockout_account_threshold: int = Field(default=50, ge=1)
    dev_mailbox: bool | None = None
    # Development mode (`tenantry serve --dev`): loopback only, the development mailbox, and
    # the development DNS zone answering domain verification (core/devzone.py).
    dev_mode: bool = False
    entitlement_token_ttl_seconds: int = 300
    lifecycle_interval_seconds: float = 300.0
    # Days before a self-service offer steps down that its holders are told by email (0: never).
    offer_notice_days: int = Field(default=7, ge=0)
    housekeeping_interval_seconds: float = 3600.0
    # How often engagements' timed round runs (reminders, expiry, inactivity: a job,
    # engagements/scheduled.py); one round at a time across every process.
    engagement_tick_seconds: float = Field(default=300.0, gt=0)
    # Requests one connection carries before `tenantry serve` closes it, so that keep-alive
    # clients reconnect and spread over the workers (core/http_protocol.py); 0: no end.
    max_requests_per_connection: int = Field(default=100, ge=0)
    # The most a request body may hold (core/bodylimit.py); the CSV imports allow their files.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Addresses and networks (comma-separated) of reverse proxies whose X-Forwarded-For is
    # believed; none by default, so no caller can pick the address it is counted under.
    trusted_proxies: str = ""
    job_lease_seconds: float = 300.0
    # Prometheus metrics at /metrics (core/metrics.py); off: no /metrics, nothing counted.
    metrics_enabled: bool = True
    # "json": log records as JSON lines (one object a line) instead of text.
    log_format: Literal["text", "json"] = "text"
    group_license_chunk_size: int = 25_000

    @field_validator("smtp_url", "dns_nameservers", "secret_key", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        parse_networks(value)  # refuse a typo at start rather than trust nobody (or anybody)
        return value

    @property
    def trusted_proxy_networks(self) -> list[str]:
        """TENANTRY_TRUSTED_PROXIES as networks (`127.0.0.1` is `127.0.0.1/32`)."""
        return [str(network) for network in parse_networks(self.trusted_proxies)]

    @property
    def dev_mailbox_enabled(self) -> bool:
        """The development mailbox is on when asked for, or by default when no SMTP is set."""
        if self.dev_mode:
            return True
        return self.smtp_url is None if self.dev_mailbox is None else self.dev_mailbox

    @property
    def nameservers(self) -> list[tuple[str, int]]:
        """`host:port` pairs from TENANTRY_DNS_NAMESERVERS (port 53 when omitted)."""
        result: list[tuple[str, int]] = []
        for entry in (self.dns_nameservers or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            host, sep, port = entry.rpartition(":")
            if not sep or host.endswith(":") or "]" in port:
                result.append((entry.strip("[]"), 53))
            else:
                result.append((host.strip("[]"), int(port)))
        return result

    @cached_property
    def signing_secret(self) -> bytes:
        """The secret every server of the database shares (codes, CSRF, signing keys): kept
        in the database, sealed with `master_key`; opened on first use (core/keyring.py).
        KeyringMismatch when this server's master key does not open it."""
        from tenantry.core import keyring

        return keyring.shared_secret(self.database_url, self.master_key)

    @cached_property
    def master_key(self) -> bytes:
        """The master key: TENANTRY_SECRET_KEY, or generated once into the data directory."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, secrets.token_urlsafe(48).encode())
            finally:
                os.close(fd)
        return path.read_bytes().strip()


def parse_networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks of a comma-separated list of addresses and CIDRs; ValueError naming the
    first entry that is neither."""
    networks = []
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (CIDR)") from None
    return networks


def get_settings() -> Settings:
    """Settings from the environment."""
    return Settings()
