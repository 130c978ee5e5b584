"""Domain names: IDNA normalisation, public-suffix rules, IP literals."""

from __future__ import annotations

import ipaddress
from functools import cache

import idna
from publicsuffixlist import PublicSuffixList

from tenantry.core.errors import InvalidRequest


class InvalidDomainName(InvalidRequest):
    code = "invalidDomainName"


class IpLiteralDomain(InvalidRequest):
    code = "ipLiteralNotAllowed"


class NoPublicSuffix(InvalidRequest):
    code = "notUnderPublicSuffix"


@cache
def _psl() -> PublicSuffixList:
    # accept_unknown=False: "contoso.local" or "intranet" are not under any public suffix.
    return PublicSuffixList(accept_unknown=False)


def is_ip_literal(name: str) -> bool:
    """Whether a domain part is an IP address (bare or in brackets)."""
    candidate = name.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        return True
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def normalize(name: str) -> str:
    """The lowercase IDNA (A-label) form of a DNS name, or InvalidDomainName."""
    candidate = (name or "").strip().rstrip(".")
    if is_ip_literal(candidate):
        raise IpLiteralDomain(f"{candidate} is an IP address, not a domain name.", target="domain")
    if not candidate or len(candidate) > 253:
        raise InvalidDomainName("Enter a domain name such as contoso.com.", target="domain")
    try:
        encoded = idna.encode(candidate, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidDomainName(
            f"{candidate} is not a valid domain name.", target="domain"
        ) from exc
    labels = encoded.split(".")
    if any(not label or len(label) > 63 for label in labels):
        raise InvalidDomainName(f"{candidate} is not a valid domain name.", target="domain")
    return encoded.lower()


def registrable(name: str) -> str:
    """The registrable domain (`contoso.co.uk` for `mail.contoso.co.uk`), or NoPublicSuffix."""
    private = _psl().privatesuffix(name)
    if private is None:
        raise NoPublicSuffix(
            f"{name} is not a domain an organization can own: it is not under a public suffix.",
            target="domain",
        )
    return private


def normalize_registrable(name: str) -> str:
    """A normalised name that is, or is under, a registrable domain."""
    normalized = normalize(name)
    registrable(normalized)
    return normalized


def parents(name: str) -> list[str]:
    """The name and each parent down to its registrable domain, most specific first."""
    root = registrable(name)
    labels = name.split(".")
    chain = [".".join(labels[i:]) for i in range(len(labels))]
    return chain[: chain.index(root) + 1]


def display(name: str) -> str:
    """The Unicode form for people to read."""
    try:
        return idna.decode(name)
    except (idna.IDNAError, UnicodeError):
        return name
