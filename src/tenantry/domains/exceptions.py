"""Domain errors."""

from __future__ import annotations

from tenantry.core.errors import Conflict, NotFound


class DomainNotFound(NotFound):
    code = "domainNotFound"

    def __init__(self, name: str) -> None:
        super().__init__(f"The domain {name} does not exist in your organization.", target="id")


class DomainAlreadyExists(Conflict):
    code = "domainAlreadyExists"


class DomainAlreadyVerified(Conflict):
    code = "domainAlreadyVerified"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"The domain {name} is already verified in another organization.", target="id"
        )


class VerificationRecordNotFound(Conflict):
    code = "verificationRecordNotFound"

    def __init__(self, name: str, text: str) -> None:
        super().__init__(
            f"We could not find the TXT record {text} at {name} yet. DNS changes can take up to "
            "an hour to appear: check the record at your DNS host, then try again.",
            target="id",
            details={"recordType": "Txt", "label": name, "text": text, "ttl": 3600},
        )


class DomainNotVerified(Conflict):
    code = "domainNotVerified"


class DomainInUse(Conflict):
    code = "domainInUse"


class DomainIsDefault(Conflict):
    code = "domainIsDefault"


class InitialDomain(Conflict):
    code = "initialDomainCannotBeRemoved"


class DomainHasSubdomains(Conflict):
    code = "domainHasSubdomains"


class TooManyObjects(Conflict):
    code = "tooManyObjects"


class WouldLockOutAdministrators(Conflict):
    code = "wouldLockOutAdministrators"
