"""Who may buy, read and assign licenses, and the idempotency scopes of purchases.

The API's routes and the admin center's pages both take these, so that a role
admitted on one is admitted on the other, and a key used on a page's purchase
form answers a retry through the API (and the other way round).
"""

from __future__ import annotations

from tenantry.directory.constants import Role

# Who may call what (Global Administrator is always admitted by `require_role`).
BUYERS = (Role.BILLING_ADMINISTRATOR,)
SUBSCRIPTION_READERS = (
    Role.BILLING_ADMINISTRATOR,
    Role.LICENSE_ADMINISTRATOR,
    Role.USER_ADMINISTRATOR,
)
LICENSE_ADMINS = (Role.LICENSE_ADMINISTRATOR, Role.USER_ADMINISTRATOR)
# As in Entra: Groups Administrator manages a group's members, not the licenses it gives.
GROUP_LICENSE_ADMINS = (Role.LICENSE_ADMINISTRATOR, Role.USER_ADMINISTRATOR)

# Idempotency scopes (`core.idempotency.run_once`), one per kind of purchase.
PURCHASE_SCOPE = "POST /v1/subscriptions"
ADD_LICENSES_SCOPE = "POST /v1/subscriptions/{id}/addLicenses"
REMOVE_LICENSES_SCOPE = "POST /v1/subscriptions/{id}/removeLicenses"
