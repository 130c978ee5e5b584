"""Partner program errors."""

from __future__ import annotations

from tenantry.core.errors import Conflict, InvalidRequest, NotFound


class UserNotFound(NotFound):
    code = "userNotFound"

    def __init__(self, email: str) -> None:
        super().__init__(f"No user signs in as {email}.", target="email")


class NotAnOperator(NotFound):
    code = "operatorNotFound"

    def __init__(self, email: str) -> None:
        super().__init__(f"{email} is not an operator.", target="email")


class AlreadyAnOperator(Conflict):
    code = "operatorAlreadyExists"

    def __init__(self, email: str) -> None:
        super().__init__(f"{email} is already an operator.", target="email")


class UnsupportedLanguage(InvalidRequest):
    code = "unsupportedLanguage"


class AgreementVersionExists(Conflict):
    code = "agreementVersionExists"


class InvalidAgreement(InvalidRequest):
    code = "invalidAgreement"


class PublisherNameTooLong(InvalidRequest):
    code = "publisherNameTooLong"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The publisher display name can have at most {limit} characters.",
            target="publisherDisplayName",
        )


class PublisherNameRequired(InvalidRequest):
    code = "publisherNameRequired"

    def __init__(self) -> None:
        super().__init__("Enter a publisher display name.", target="publisherDisplayName")


class ReservedNameExists(Conflict):
    code = "reservedNameExists"


class ReservedNameNotFound(NotFound):
    code = "reservedNameNotFound"
