"""API bodies of `/v1/scimTokens` and `/v1/auditLogs/provisioning` (camelCase, as Graph)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from tenantry.core.schemas import ApiModel
from tenantry.scim.models import ScimToken


class ScimTokenCreate(ApiModel):
    display_name: str = Field(max_length=256, description="What the token is for, e.g. Entra ID.")
    expiration_date_time: datetime | None = Field(
        None, description="When the token stops working (none: until revoked)."
    )


class ScimTokenView(ApiModel):
    id: str
    display_name: str
    created_date_time: datetime
    expiration_date_time: datetime | None
    last_used_date_time: datetime | None


class CreatedScimTokenView(ScimTokenView):
    token: str = Field(description="The token itself: shown only in this answer.")


class ScimTokenList(ApiModel):
    value: list[ScimTokenView]


class ProvisioningLogPage(ApiModel):
    value: list[dict[str, Any]]
    next_link: str | None = Field(None, alias="@odata.nextLink")


def token_view(token: ScimToken) -> dict[str, Any]:
    """A token as the API lists it (never its value)."""
    return {
        "id": str(token.id),
        "displayName": token.display_name,
        "createdDateTime": token.created_at,
        "expirationDateTime": token.expires_at,
        "lastUsedDateTime": token.last_used_at,
    }
