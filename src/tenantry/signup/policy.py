"""Which addresses may sign up: syntax, personal and disposable domains, public suffixes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from disposable_email_domains import blocklist as disposable_blocklist
from email_validator import EmailNotValidError, validate_email

from tenantry.core.errors import InvalidRequest
from tenantry.directory import users as directory_users
from tenantry.domains import names


class InvalidEmail(InvalidRequest):
    code = "invalidEmail"


class ConsumerDomain(InvalidRequest):
    code = "consumerDomainNotAllowed"


class DisposableDomain(InvalidRequest):
    code = "disposableDomainNotAllowed"


PERSONAL_ADDRESS_MESSAGE = (
    "That looks like a personal email address. Enter your work address so we can "
    "connect you with others in your company."
)


@dataclass(frozen=True)
class WorkEmail:
    """A normalised work address and the exact domain that names its tenant."""

    address: str
    domain: str


def _read_list(text: str) -> set[str]:
    return {
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }


@cache
def consumer_domains(extra_file: Path | None = None) -> frozenset[str]:
    """The kept list of consumer and telecom domains, plus the operator's own file."""
    shipped = (
        resources.files("tenantry.catalog").joinpath("consumer_domains.txt").read_text("utf-8")
    )
    domains = _read_list(shipped)
    if extra_file is not None:
        domains |= _read_list(Path(extra_file).read_text("utf-8"))
    return frozenset(domains)


def check(email: str, *, extra_consumer_file: Path | None = None) -> WorkEmail:
    """The normalised work address, or the reason it cannot sign up (an error with its code)."""
    raw = (email or "").strip()
    local, at, domain_part = raw.rpartition("@")
    if not at or not local or not domain_part:
        raise InvalidEmail("Enter an email address such as ariane@contoso.com.", target="email")
    if names.is_ip_literal(domain_part):
        raise names.IpLiteralDomain(
            "Email addresses at an IP address cannot sign up. Use your work address.",
            target="email",
        )
    try:
        domain = names.normalize(domain_part)
    except names.InvalidDomainName as exc:
        raise InvalidEmail("That email address is not valid.", target="email") from exc
    try:
        registrable = names.registrable(domain)
    except names.NoPublicSuffix as exc:
        raise names.NoPublicSuffix(
            f"{domain} is not a public domain name. Use your work address.", target="email"
        ) from exc
    try:
        validated = validate_email(
            f"{local}@{domain}",
            check_deliverability=False,
            globally_deliverable=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as exc:
        raise InvalidEmail(f"That email address is not valid: {exc}", target="email") from exc
    consumer = consumer_domains(extra_consumer_file)
    if domain in consumer or registrable in consumer:
        raise ConsumerDomain(PERSONAL_ADDRESS_MESSAGE, target="email")
    if any(parent in disposable_blocklist for parent in names.parents(domain)):
        raise DisposableDomain(
            "Disposable email addresses cannot sign up. Enter your work address.", target="email"
        )
    address = directory_users.principal_name_key(f"{validated.local_part}@{domain}")
    return WorkEmail(address=address, domain=domain)
