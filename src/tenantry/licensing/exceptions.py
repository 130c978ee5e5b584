"""Licensing errors, with Microsoft Graph's codes where Graph has one."""

from __future__ import annotations

from tenantry.core.errors import Conflict, InvalidRequest, NotFound

# Graph's own message first (clients match on the code), then how to fix it.
INVALID_USAGE_LOCATION_MESSAGE = (
    "License assignment cannot be done for user with invalid usage location. "
    "Set the user's usageLocation first, a two-letter country code such as FR "
    "(PATCH /v1/users/{id}, or `tenantry user update USER --usage-location FR`)."
)


class UnknownSku(InvalidRequest):
    code = "unknownSku"


class InvalidQuantity(InvalidRequest):
    code = "invalidQuantity"


class InvalidUsageLocation(InvalidRequest):
    code = "invalidUsageLocation"

    def __init__(self) -> None:
        super().__init__(INVALID_USAGE_LOCATION_MESSAGE, target="usageLocation")


class InvalidServicePlan(InvalidRequest):
    code = "invalidServicePlan"


class LicenseNotAssigned(InvalidRequest):
    code = "licenseNotAssigned"


class LicenseInheritedFromGroup(InvalidRequest):
    code = "licenseInheritedFromGroup"


class CountViolation(Conflict):
    """No free unit of the SKU: Graph's (and group-based licensing's) `CountViolation`."""

    code = "CountViolation"


class SubscriptionSuspended(Conflict):
    code = "subscriptionSuspended"


class LicensesInUse(Conflict):
    code = "licensesInUse"


class InvalidSubscriptionState(Conflict):
    code = "invalidSubscriptionState"


class SubscriptionNotFound(NotFound):
    code = "subscriptionNotFound"

    def __init__(self) -> None:
        super().__init__("The subscription does not exist.", target="id")


class MutuallyExclusiveViolation(InvalidRequest):
    """The user would hold two service plans the catalog declares mutually exclusive."""

    code = "MutuallyExclusiveViolation"


class DependencyViolation(InvalidRequest):
    """A service plan the user would hold needs one they would not hold (catalog `dependsOn`)."""

    code = "DependencyViolation"
