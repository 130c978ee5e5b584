"""Tenant errors."""

from __future__ import annotations

from tenantry.core.errors import Conflict, Forbidden, InvalidRequest

BECOME_ADMIN_HINT = (
    "Your organization has no administrator yet, so nobody can manage it. To become its "
    'administrator, open the admin center and choose "Become the admin": you will prove '
    "that your organization owns its domain and buy a license for each person."
)


class TenantUnmanaged(Forbidden):
    code = "tenantUnmanaged"

    def __init__(self, message: str = BECOME_ADMIN_HINT) -> None:
        super().__init__(message, details={"becomeAdminUrl": "/admin/become"})


class TenantAlreadyManaged(Conflict):
    code = "tenantAlreadyManaged"

    def __init__(self) -> None:
        super().__init__(
            "Your organization already has an administrator. Ask them for what you need."
        )


class BecomeAdminNotStarted(Conflict):
    code = "becomeAdminNotStarted"

    def __init__(self) -> None:
        super().__init__('Start "Become the admin" first.')


class DomainVerificationRequired(Conflict):
    code = "domainVerificationRequired"

    def __init__(self) -> None:
        super().__init__(
            "Confirm that your organization owns its domain (step 3) before buying licenses."
        )


class OfferNotAvailable(InvalidRequest):
    code = "offerNotAvailable"


class InsufficientLicenses(InvalidRequest):
    code = "insufficientLicenses"


class InvalidEntryPoint(InvalidRequest):
    code = "invalidEntryPoint"
