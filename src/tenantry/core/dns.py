"""TXT record lookups through the system resolver or the configured nameservers."""

from __future__ import annotations

from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from tenantry.core import devzone
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.errors import TenantryError


class DnsLookupFailed(TenantryError):
    """The DNS servers could not answer (timeout, SERVFAIL): not the same as "no record yet"."""

    status_code = 503


class DnsTimeout(DnsLookupFailed):
    code = "dnsTimeout"


class DnsServerFailure(DnsLookupFailed):
    code = "dnsServerFailure"


@dataclass(frozen=True)
class TxtLookup:
    """The TXT strings published at a name (empty when there are none yet)."""

    name: str
    texts: tuple[str, ...]

    def contains(self, expected: str) -> bool:
        """Whether one of the records is exactly `expected`."""
        return expected in self.texts


def resolver_for(settings: Settings) -> dns.asyncresolver.Resolver:
    """A resolver using TENANTRY_DNS_NAMESERVERS, or the system's configuration."""
    servers = settings.nameservers
    resolver = dns.asyncresolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]
    resolver.timeout = settings.dns_timeout
    resolver.lifetime = settings.dns_timeout * 2
    resolver.cache = None  # a record just published must be seen at the next try
    return resolver


async def lookup_txt(settings: Settings, name: str, *, database: Database) -> TxtLookup:
    """The TXT records at `name`; DnsTimeout or DnsServerFailure when DNS cannot answer.

    In development mode (`tenantry serve --dev`) the development zone answers instead of
    DNS (core/devzone.py), so a domain can be verified on a machine with no DNS at all.
    """
    if settings.dev_mode:
        async with database.unit_of_work(readonly=True) as db_session:
            return TxtLookup(name=name, texts=await devzone.txt_at(db_session, name))
    resolver = resolver_for(settings)
    try:
        answer = await resolver.resolve(name, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return TxtLookup(name=name, texts=())
    except dns.exception.Timeout as exc:
        raise DnsTimeout(
            f"The DNS servers did not answer in time for {name}. Try again in a moment."
        ) from exc
    except (dns.resolver.NoNameservers, dns.resolver.YXDOMAIN) as exc:
        raise DnsServerFailure(
            f"The DNS servers could not answer for {name} (server failure). Try again later."
        ) from exc
    texts = tuple(
        b"".join(record.strings).decode("utf-8", "replace")
        for record in answer  # type: ignore[attr-defined]
    )
    return TxtLookup(name=name, texts=texts)
