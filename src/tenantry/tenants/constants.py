"""Who may read the organization's audit log (the API and the admin center's Audit log page)."""

from __future__ import annotations

from tenantry.directory.constants import Role

# Any admin role (Global Administrator is always admitted by `require_role`).
AUDIT_LOG_READERS = (
    Role.USER_ADMINISTRATOR,
    Role.LICENSE_ADMINISTRATOR,
    Role.BILLING_ADMINISTRATOR,
    Role.GROUPS_ADMINISTRATOR,
)
