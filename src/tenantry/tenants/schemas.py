"""Organization and authorization-policy shapes (Microsoft Graph names)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from tenantry.core.schemas import ApiModel
from tenantry.domains.models import Domain
from tenantry.tenants.models import Tenant


class DomainView(ApiModel):
    id: str
    is_verified: bool
    is_default: bool
    is_initial: bool
    is_root: bool


class OrganizationView(ApiModel):
    id: uuid.UUID
    display_name: str
    state: str
    created_date_time: datetime
    domains: list[DomainView]


class AuthorizationPolicyView(ApiModel):
    allow_email_verified_users_to_join_organization: bool
    allowed_to_sign_up_email_based_subscriptions: bool


class AuthorizationPolicyUpdate(ApiModel):
    allow_email_verified_users_to_join_organization: bool | None = None
    allowed_to_sign_up_email_based_subscriptions: bool | None = None


def domain_view(domain: Domain) -> dict[str, Any]:
    """The Graph-style JSON of a domain (names in their IDNA form, as Graph does)."""
    return {
        "id": domain.name,
        "isVerified": domain.is_verified,
        "isDefault": domain.is_default,
        "isInitial": domain.is_initial,
        "isRoot": domain.is_root,
    }


def organization_view(tenant: Tenant, domains: list[Domain]) -> dict[str, Any]:
    """The JSON of an organization with its domains."""
    return {
        "id": str(tenant.id),
        "displayName": tenant.display_name,
        "state": tenant.state,
        "createdDateTime": tenant.created_at.isoformat(),
        "domains": [domain_view(d) for d in domains],
    }


def policy_view(tenant: Tenant) -> dict[str, Any]:
    """The JSON of a tenant's authorization policy."""
    self_service = tenant.allowed_to_sign_up_email_based_subscriptions
    return {
        "allowEmailVerifiedUsersToJoinOrganization": tenant.allow_email_verified_users_to_join,
        "allowedToSignUpEmailBasedSubscriptions": self_service,
    }


class BecomeAdminStart(ApiModel):
    entry_point: str = "admin"


class BecomeAdminComplete(ApiModel):
    sku_part_number: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=1_000_000)
    country_letter_code: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
