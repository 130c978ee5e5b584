"""SCIM names and limits: schema URNs, what the service provider advertises, token managers."""

from __future__ import annotations

from datetime import timedelta

from tenantry.directory.constants import Role

SCIM_PATH = "/scim/v2"
MEDIA_TYPE = "application/scim+json"

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# What ServiceProviderConfig advertises, and what the routes hold to.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024  # a Bulk of 1,000 user creates fits in about 1 MB
MAX_BULK_OPERATIONS = 1_000
MAX_RESULTS = 1_000  # the largest page a GET or .search returns
DEFAULT_COUNT = 100  # a page when the client gives no count
MAX_MEMBERS_PER_PATCH = 5_000

# Who creates, lists and revokes provisioning tokens (Global Administrator always may).
TOKEN_MANAGERS = (Role.USER_ADMINISTRATOR,)
TOKEN_PREFIX = "tscim_"
# A used token's last use is written at most this often (not on every request).
LAST_USED_RESOLUTION = timedelta(minutes=1)

# The provisioning log keeps 30 days.
LOG_RETENTION = timedelta(days=30)
