"""User sources and administrator roles."""

from __future__ import annotations

from enum import StrEnum


class Source(StrEnum):
    CLOUD = "cloud"
    SYNCED = "synced"
    GUEST = "guest"


class Role(StrEnum):
    GLOBAL_ADMINISTRATOR = "GlobalAdministrator"
    USER_ADMINISTRATOR = "UserAdministrator"
    LICENSE_ADMINISTRATOR = "LicenseAdministrator"
    BILLING_ADMINISTRATOR = "BillingAdministrator"
    GROUPS_ADMINISTRATOR = "GroupsAdministrator"
    OPERATOR = "Operator"


ROLE_DISPLAY_NAMES = {
    Role.GLOBAL_ADMINISTRATOR: "Global Administrator",
    Role.USER_ADMINISTRATOR: "User Administrator",
    Role.LICENSE_ADMINISTRATOR: "License Administrator",
    Role.BILLING_ADMINISTRATOR: "Billing Administrator",
    Role.GROUPS_ADMINISTRATOR: "Groups Administrator",
    Role.OPERATOR: "Operator",
}
