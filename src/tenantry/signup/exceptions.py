"""Sign-up errors, each with its own code."""

from __future__ import annotations

from tenantry.core.errors import (
    Forbidden,
    Gone,
    InvalidRequest,
    NotFound,
    TenantryError,
    TooManyRequests,
)


class SignupNotFound(NotFound):
    code = "signupNotFound"

    def __init__(self) -> None:
        super().__init__("This sign-up does not exist. Start again.")


class DomainManagedByAdministrator(Forbidden):
    code = "domainManagedByAdministrator"


class SelfServiceDisabled(Forbidden):
    code = "selfServiceSignupDisabled"


class UnknownOffer(InvalidRequest):
    code = "unknownOffer"


class CodeExpired(Gone):
    code = "codeExpired"

    def __init__(self) -> None:
        super().__init__("This code has expired. Ask for a new one.")


class InvalidCode(TenantryError):
    status_code = 400
    code = "invalidCode"
    keep_changes = True  # the attempt counts even though the request fails


class TooManyAttempts(TooManyRequests):
    code = "tooManyAttempts"


class ResendThrottled(TooManyRequests):
    code = "resendThrottled"


class SignupAlreadyCompleted(Gone):
    code = "signupAlreadyCompleted"

    def __init__(self) -> None:
        super().__init__("This sign-up is already complete. Sign in instead.")


class WeakPassword(InvalidRequest):
    code = "passwordTooWeak"
