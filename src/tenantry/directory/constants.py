"""User sources, administrator roles (with Entra's role template ids) and usage locations."""

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

# Microsoft Entra's built-in role template ids, so that scripts written for Graph find them.
ROLE_TEMPLATE_IDS = {
    Role.GLOBAL_ADMINISTRATOR: "62e90394-69f5-4237-9190-012177145e10",
    Role.USER_ADMINISTRATOR: "fe930be7-5e62-47db-91af-98c3a49a38b1",
    Role.LICENSE_ADMINISTRATOR: "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
    Role.BILLING_ADMINISTRATOR: "b0f54661-2d74-4c50-afa3-1ec803f12efe",
    Role.GROUPS_ADMINISTRATOR: "fdd7a751-b60b-444a-984c-02652fe8fa1c",
}

ROLE_DESCRIPTIONS = {
    Role.GLOBAL_ADMINISTRATOR: "Can manage all aspects of the organization, including admin roles.",
    Role.USER_ADMINISTRATOR: (
        "Can manage users and groups, block sign-in and reset passwords of non-administrators."
    ),
    Role.LICENSE_ADMINISTRATOR: "Can manage product licenses on users and groups.",
    Role.BILLING_ADMINISTRATOR: "Can buy subscriptions and manage billing.",
    Role.GROUPS_ADMINISTRATOR: "Can create and manage groups and their members.",
}

# The roles an organization's Global Administrator hands out (Operator is platform-wide).
TENANT_ROLES = tuple(ROLE_TEMPLATE_IDS)

# Who may call what (Global Administrator is always admitted by `require_role`).
DIRECTORY_READERS = (
    Role.USER_ADMINISTRATOR,
    Role.LICENSE_ADMINISTRATOR,
    Role.BILLING_ADMINISTRATOR,
    Role.GROUPS_ADMINISTRATOR,
)
USER_MANAGERS = (Role.USER_ADMINISTRATOR,)
GROUP_MANAGERS = (Role.GROUPS_ADMINISTRATOR, Role.USER_ADMINISTRATOR)

# ISO 3166-1 alpha-2 codes officially assigned (what Entra accepts as `usageLocation`).
_USAGE_LOCATION_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
USAGE_LOCATIONS = frozenset(_USAGE_LOCATION_CODES.split())

MAX_IMPORT_ROWS = 5_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024
# The body of an import request: the file and its multipart envelope (core/bodylimit.py).
MAX_IMPORT_BODY_BYTES = MAX_IMPORT_BYTES + 64 * 1024
MAX_MEMBERS_PER_REQUEST = 5_000
